//! Runs `create` (its arguments, and what it does: `action/create.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Create;

impl Execute for Create {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        ctx.ensure_created(self.0.name()).await.map(|_| ())
    }
}
