//! Runs `wait_for` (its arguments, and what it does: `action/wait_for.rs`).

use std::time::Duration;

use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use model::action::WaitFor;

impl Execute for WaitFor {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        let t = Instant::now();
        // The restart count of the container's anchor: the look before a `kill` or any other step
        // whose effect may still unfold, never a look that can land after the restart
        // ([`model::anchor`]). Without any earlier look, its own first one.
        let first = match ctx.anchors.before(&self.container.value) {
            Some(o) => o.restart_count.unwrap_or(0),
            None => ctx.docker.observe(&id).await?.restart_count.unwrap_or(0),
        };
        loop {
            let o = ctx.docker.observe(&id).await?;
            let restarted = o.restart_count.unwrap_or(0) > first;
            let healthy = self
                .health
                .is_none_or(|h| o.health.as_deref() == Some(h.as_str()));
            if o.state == self.state.as_str() && (!self.restarted || restarted) && healthy {
                ctx.measure("time_to_state", t.elapsed());
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
