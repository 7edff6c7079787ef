//! Runs `shim_kill` (its arguments, and what it does: `action/shim_kill.rs`).

use anyhow::anyhow;
use nix::sys::signal::Signal;

use super::Execute;
use crate::ctx::Ctx;
use model::action::ShimKill;
use model::fact::Fact;

impl Execute for ShimKill {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(self.0.name())?;
        let shim = host::proc::shim_of(&id)
            .await?
            .ok_or_else(|| anyhow!("no containerd shim found for container {}", self.0.name()))?;
        // Signalled through a pidfd opened now and checked against the start time just read: the
        // shim, or nobody.
        let fd = host::PidFd::open(shim.pid)?;
        if host::proc::stat(shim.pid).map(|s| s.start_time) != Some(shim.start_time) {
            anyhow::bail!(
                "the shim (pid {}) exited before it could be killed",
                shim.pid
            );
        }
        fd.signal(Signal::SIGKILL as i32)?;
        ctx.fact(Fact::ShimPid(shim.pid));
        Ok(())
    }
}
