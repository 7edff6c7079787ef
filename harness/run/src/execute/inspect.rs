//! Runs `inspect` (its arguments, and what it does: `action/inspect.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Inspect;

impl Execute for Inspect {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        ctx.id(self.0.name()).map(|_| ())
    }
}
