//! Runs `start` (its arguments, and what it does: `action/start.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Start;

impl Execute for Start {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.ensure_created(self.0.name()).await?;
        ctx.docker.start(&id).await
    }
}
