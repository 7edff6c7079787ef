//! Runs `stop` (its arguments, and what it does: `action/stop.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Stop;
use model::units::HumanDuration;

impl Execute for Stop {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        let deadline = ctx.call_deadline();
        ctx.docker
            .stop(&id, self.timeout.map(HumanDuration::get), deadline)
            .await
    }
}
