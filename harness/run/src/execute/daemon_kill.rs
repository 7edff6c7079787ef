//! Runs `daemon_kill` (its arguments, and what it does: `action/daemon_kill.rs`).

use std::time::Duration;

use anyhow::anyhow;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use engine::daemon::Daemon;
use journal::{Change, ChangeScope};
use ledger::ChangeId;
use model::action::{DaemonKill, READY_DEADLINE};
use model::fact::Fact;

impl Execute for DaemonKill {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let handle = ctx.daemon()?;
        let mut d = handle.lock().await;
        let pid = d.pid().ok_or_else(|| anyhow!("dockerd is not running"))?;
        ctx.fact(Fact::DockerdPidBefore(pid));
        let before = if self.containerd {
            Some(listed(ctx).await?)
        } else {
            None
        };
        let containerd = if self.containerd {
            let c = host::proc::containerd_of(pid)
                .await?
                .ok_or_else(|| anyhow!("dockerd (pid {pid}) has no containerd child"))?;
            ctx.fact(Fact::ContainerdPidBefore(c.pid));
            Some(c)
        } else {
            None
        };
        // Left down, it is started again when the iteration ends; else when this step ends, at
        // the latest.
        let scope = ctx.scope_until(self.restart);
        let change = journal_stopped(ctx, scope, &d).await?;
        let t = Instant::now();
        if let Some(c) = &containerd {
            // Only the very process found (same start time): a recycled pid is never signalled.
            if host::proc::stat(c.pid).map(|s| s.start_time) == Some(c.start_time) {
                kill(Pid::from_raw(c.pid as i32), Signal::SIGKILL)?;
            }
        }
        kill(Pid::from_raw(pid as i32), Signal::SIGKILL)?;
        while d.is_running() {
            if t.elapsed() > Duration::from_secs(10) {
                anyhow::bail!("dockerd (pid {pid}) still runs 10 s after SIGKILL");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ctx.measure("exit_time", t.elapsed());
        if !self.restart {
            return Ok(());
        }
        if let Some(down) = self.down_for {
            tokio::time::sleep(down.get()).await;
        }
        start_again(ctx, d, change, "started again by daemon_kill").await?;
        if let Some(before) = before {
            let after = listed(ctx).await?;
            ctx.record_measure(count("containers_before", before.len()));
            ctx.record_measure(count("containers_after", after.len()));
            let missing: Vec<&str> = before
                .iter()
                .filter(|(id, _)| !after.iter().any(|(a, _)| a == id))
                .map(|(_, name)| name.as_str())
                .collect();
            ctx.fact(Fact::ContainersMissing(
                missing.iter().map(|s| s.to_string()).collect(),
            ));
        }
        Ok(())
    }
}

/// Journals dockerd as stopped (undo: start it again) before it is killed.
pub(super) async fn journal_stopped(
    ctx: &Ctx<'_>,
    scope: ChangeScope,
    d: &Daemon,
) -> anyhow::Result<ChangeId> {
    let daemon = d.daemon_ref();
    ctx.change(scope, Change::DaemonStopped { daemon }, None)
        .await
}

/// Starts dockerd again after it died (a kill, an OOM kill): its `stopped` change resolved with
/// `detail`, then `ping_back`, `dockerd_pid_after` and, once the API answers, `api_back`.
pub(super) async fn start_again(
    ctx: &mut Ctx<'_>,
    mut d: tokio::sync::MutexGuard<'_, Daemon>,
    stopped: ChangeId,
    detail: &str,
) -> anyhow::Result<()> {
    let opts = d.options().clone();
    let t = Instant::now();
    d.start_again(&opts, READY_DEADLINE).await?;
    ctx.ledger.resolved(stopped, detail);
    ctx.measure("ping_back", t.elapsed());
    ctx.fact(Fact::DockerdPidAfter(d.pid().unwrap_or(0)));
    drop(d);
    ctx.wait_api(Duration::from_secs(2), Duration::from_secs(30))
        .await?;
    ctx.measure("api_back", t.elapsed());
    Ok(())
}

/// The iteration's containers the daemon lists (id, scenario name).
async fn listed(ctx: &Ctx<'_>) -> anyhow::Result<Vec<(String, String)>> {
    let label = format!("{}={}", docker::LABEL_ITERATION, ctx.iteration_label);
    Ok(ctx
        .docker
        .list_labeled(&label)
        .await?
        .into_iter()
        .map(|(id, _, labels)| {
            let name = labels
                .get(docker::LABEL_CONTAINER)
                .cloned()
                .unwrap_or_default();
            (id, name)
        })
        .collect())
}

fn count(name: &str, n: usize) -> model::record::Measure {
    model::record::Measure {
        name: name.into(),
        value: n as f64,
        unit: "count".into(),
        source: "monotonic".into(),
    }
}
