//! Runs `containerd_kill` (its arguments, and what it does: `action/containerd_kill.rs`).

use std::time::Duration;

use anyhow::anyhow;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use model::action::ContainerdKill;
use model::fact::Fact;

impl Execute for ContainerdKill {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let (dockerd, socket) = {
            let handle = ctx.daemon()?;
            let d = handle.lock().await;
            let pid = d.pid().ok_or_else(|| anyhow!("dockerd is not running"))?;
            (pid, d.exec_root().join("containerd/containerd.sock"))
        };
        let old = host::proc::containerd_of(dockerd)
            .await?
            .ok_or_else(|| anyhow!("dockerd (pid {dockerd}) has no containerd child"))?;
        ctx.fact(Fact::ContainerdPidBefore(old.pid));
        let t = Instant::now();
        // Only the very process found (same start time): a recycled pid is never signalled.
        if host::proc::stat(old.pid).map(|s| s.start_time) != Some(old.start_time) {
            anyhow::bail!(
                "containerd (pid {}) exited before it could be killed",
                old.pid
            );
        }
        kill(Pid::from_raw(old.pid as i32), Signal::SIGKILL)?;
        // Back means a new process *serving* its socket, not merely started.
        let new = loop {
            let found = host::proc::containerd_of(dockerd).await?;
            if let Some(p) = found.filter(|p| p.pid != old.pid) {
                let serving = tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::net::UnixStream::connect(&socket),
                )
                .await
                .is_ok_and(|r| r.is_ok());
                if serving {
                    break p;
                }
            }
            if t.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("no new containerd served {} within 60 s", socket.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        ctx.measure("containerd_back", t.elapsed());
        ctx.fact(Fact::ContainerdPidAfter(new.pid));
        ctx.wait_api(Duration::from_secs(2), Duration::from_secs(30))
            .await?;
        ctx.measure("api_back", t.elapsed());
        // dockerd reconnects to the new containerd with a backoff: wait until it reaches a running
        // container's runtime again.
        let mut running = None;
        for (name, id) in &ctx.containers {
            if ctx
                .docker
                .observe(id)
                .await
                .is_ok_and(|o| o.state == "running")
            {
                running = Some((name.clone(), id.clone()));
                break;
            }
        }
        if let Some((name, id)) = running {
            while ctx.docker.top(&id, Duration::from_secs(2)).await.is_err() {
                if t.elapsed() > Duration::from_secs(80) {
                    anyhow::bail!(
                        "the daemon did not reach container {name} through containerd again"
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ctx.measure("runtime_back", t.elapsed());
        }
        Ok(())
    }
}
