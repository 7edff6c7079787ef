//! Runs `daemon_freeze` (its arguments, and what it does: `action/daemon_freeze.rs`).

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use host::forensics::ForensicsPolicy;
use journal::Change;
use model::action::DaemonFreeze;
use model::expect::Api;
use model::fact::Fact;

impl Execute for DaemonFreeze {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let pid = ctx.dockerd_pid().await?;
        let start_time = host::proc::stat(pid)
            .map(|s| s.start_time)
            .ok_or_else(|| anyhow::anyhow!("dockerd (pid {pid}) is gone"))?;
        let probe = self
            .api_deadline
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(2));
        // With a duration the freeze ends with the step; without, it lasts until `daemon_thaw` or
        // the end of the iteration.
        let scope = ctx.scope_until(self.duration.is_some());
        let change = ctx
            .change(scope, Change::DaemonFrozen { pid, start_time }, None)
            .await?;
        let t = Instant::now();
        kill(Pid::from_raw(pid as i32), Signal::SIGSTOP)?;
        // Signal delivery is asynchronous: read the state once the kernel has stopped it.
        let state = host::proc::wait_state(pid, 'T', Duration::from_secs(2)).await;
        ctx.fact(Fact::DockerdStateDuring(state.to_string()));
        // The harness's own view: a real call with a deadline. It must fail, within the deadline.
        let answered = ctx.docker.ping(probe).await.is_ok();
        ctx.fact(Fact::ApiDuringFreeze(if answered {
            Api::Responsive
        } else {
            Api::Unresponsive
        }));
        if !answered {
            ctx.measure("hang_detected_after", t.elapsed());
        }
        let mut pending = None;
        if ctx.forensics.policy != ForensicsPolicy::Never {
            pending = start_bundle(ctx, pid).await;
        }
        let Some(hold) = self.duration else {
            // Stays frozen: `daemon_thaw` collects the dump once the daemon runs again.
            if let Some((b, req)) = pending {
                ctx.bundle = Some(b.dir().to_path_buf());
                ctx.pending_bundle = Some((b, req));
            }
            return Ok(());
        };
        if let Some(rest) = hold.get().checked_sub(t.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        ctx.undo(change).await?;
        let thawed = Instant::now();
        ctx.measure("frozen_for", t.elapsed());
        if let Some((mut b, req)) = pending {
            let _ = b
                .collect_goroutine_dumps(&req, Duration::from_secs(10))
                .await;
            ctx.bundle = b.finish().ok();
        }
        ctx.wait_api(probe, Duration::from_secs(60)).await?;
        ctx.measure("api_back", thawed.elapsed());
        Ok(())
    }
}

/// Starts a bundle while the daemon is frozen: snapshot now, goroutine dumps requested (written
/// after the thaw).
async fn start_bundle(
    ctx: &Ctx<'_>,
    pid: u32,
) -> Option<(host::forensics::Bundle, host::forensics::DumpRequest)> {
    ctx.daemon.as_ref()?;
    let info = ctx.daemon_info(Some(pid)).await;
    let name = format!("{}-{}-daemon_freeze", ctx.plan.name(), ctx.at.iteration + 1);
    let mut b = host::forensics::Bundle::create(
        &ctx.forensics.dir,
        &crate::ctx::bundle_name(&name),
        "the Docker API stopped answering: dockerd frozen by daemon_freeze",
    )
    .ok()?;
    let _ = tokio::time::timeout(Duration::from_secs(30), b.snapshot(&info)).await;
    let _ = b.write_api_answers(&ctx.docker.last_answers());
    let req = b.request_goroutine_dumps(&info).ok()?;
    Some((b, req))
}
