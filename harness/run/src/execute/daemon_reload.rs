//! Runs `daemon_reload` (its arguments, and what it does: `action/daemon_reload.rs`).

use nix::sys::signal::Signal;

use super::Execute;
use crate::ctx::Ctx;
use model::action::DaemonReload;
use model::fact::Fact;

impl Execute for DaemonReload {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let pid = super::signal_dockerd_and_wait(ctx, Signal::SIGHUP).await?;
        ctx.fact(Fact::DockerdPid(pid));
        Ok(())
    }
}
