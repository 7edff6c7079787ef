//! Runs `remove` (its arguments, and what it does: `action/remove.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Remove;

impl Execute for Remove {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(self.0.name())?;
        ctx.docker.remove(&id).await
    }
}
