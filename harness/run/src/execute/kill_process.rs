//! Runs `kill_process` (its arguments, and what it does: `action/kill_process.rs`).

use std::time::Duration;

use super::Execute;
use crate::ctx::Ctx;
use model::action::KillProcess;
use model::fact::Fact;

impl Execute for KillProcess {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let name = self.container.value.clone();
        // The process held since the container was last observed running: no daemon call is
        // needed, so this works while dockerd is down.
        let proc = ctx.process(&name).await?;
        let signo = self
            .signal
            .as_deref()
            .and_then(model::signal::parse_or_zero)
            .unwrap_or(9);
        let p = proc.clone();
        host::blocking(
            "signalling a container's process",
            Duration::from_secs(5),
            move || p.signal(signo),
        )
        .await??;
        ctx.fact(Fact::KilledPid(proc.pid));
        Ok(())
    }
}
