//! Runs `kill` (its arguments, and what it does: `action/kill.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Kill;

impl Execute for Kill {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        ctx.docker.kill(&id, &self.signal()).await
    }
}
