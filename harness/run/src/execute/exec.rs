//! Runs `exec` (its arguments, and what it does: `action/exec.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Exec;
use model::fact::Fact;

impl Execute for Exec {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        let (code, output) = ctx
            .docker
            .exec(&id, self.command.to_args(), ctx.call_deadline())
            .await?;
        ctx.fact(Fact::ExecExitCode(code));
        ctx.fact(Fact::ExecOutput(output));
        Ok(())
    }
}
