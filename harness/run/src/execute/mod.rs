//! How actions run: one file per action, named as its arguments' file in [`model::action`], each
//! implementing [`Execute`] through the action's API, [`Ctx`] (never the runner); `window` is the
//! fault window that network faults and dependency outages share.

mod check_leaks;
mod churn;
mod container_freeze;
mod containerd_kill;
mod create;
mod daemon_freeze;
mod daemon_kill;
mod daemon_limits;
mod daemon_oom;
mod daemon_reload;
mod daemon_restart;
mod daemon_thaw;
mod dependency_outage;
mod exec;
mod file_progress;
mod fill_disk;
mod fill_inodes;
mod inspect;
mod join;
mod kill;
mod kill_process;
mod leak_veth;
mod log;
mod net_shape;
mod partition;
mod pause;
mod pin_netns;
mod probe;
mod probe_api;
mod remove;
mod restart;
mod shim_kill;
mod sleep;
mod start;
mod stop;
mod wait;
mod wait_for;
mod window;

use std::time::Duration;

use crate::ctx::Ctx;
use model::action::Action;

/// How an action runs.
pub trait Execute {
    /// Runs the action.
    fn run(
        &self,
        ctx: &mut Ctx<'_>,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

impl Execute for Action {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        model::dispatch_action!(self, a => a.run(ctx).await)
    }
}

/// Sends `signal` to dockerd, then waits for its API and records `api_back`.
pub(crate) async fn signal_dockerd_and_wait(
    ctx: &mut Ctx<'_>,
    signal: nix::sys::signal::Signal,
) -> anyhow::Result<u32> {
    let pid = ctx.dockerd_pid().await?;
    let t = tokio::time::Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal)?;
    ctx.wait_api(Duration::from_secs(2), Duration::from_secs(50))
        .await?;
    ctx.measure("api_back", t.elapsed());
    Ok(pid)
}
