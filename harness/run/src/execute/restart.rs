//! Runs `restart` (its arguments, and what it does: `action/restart.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Restart;
use model::units::HumanDuration;

impl Execute for Restart {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        let deadline = ctx.call_deadline();
        ctx.docker
            .restart(&id, self.timeout.map(HumanDuration::get), deadline)
            .await
    }
}
