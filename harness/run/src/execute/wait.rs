//! Runs `wait` (its arguments, and what it does: `action/wait.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Wait;

impl Execute for Wait {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(self.0.name())?;
        let deadline = ctx.call_deadline();
        ctx.docker.wait(&id, deadline).await.map(|_| ())
    }
}
