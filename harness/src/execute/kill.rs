//! Runs `kill` (its arguments, and what it does: `action/kill.rs`).

use super::Execute;
use crate::action::Kill;
use crate::ctx::Ctx;

impl Execute for Kill {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        ctx.docker.kill(&id, &self.signal()).await
    }
}
