//! Runs `daemon_oom` (its arguments, and what it does: `action/daemon_oom.rs`).

use std::time::Duration;

use anyhow::anyhow;
use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use journal::Change;
use model::action::DaemonOom;
use model::fact::Fact;
use model::record::Measure;

/// Reading /proc and writing cgroup files.
const CGROUP_DEADLINE: Duration = Duration::from_secs(10);
/// How long dockerd may live on once the allocation is driven.
const KILL_DEADLINE: Duration = Duration::from_secs(45);

impl Execute for DaemonOom {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let handle = ctx.daemon()?;
        let mut d = handle.lock().await;
        let pid = d.pid().ok_or_else(|| anyhow!("dockerd is not running"))?;
        ctx.fact(Fact::DockerdPidBefore(pid));
        // `<run id>.<scenario>.<iteration>`: the run id, then where in the run.
        let label: String = ctx
            .iteration_label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let name = if label.starts_with(ctx.run_id) {
            format!("shakedown-oom-{label}")
        } else {
            format!("shakedown-oom-{}-{label}", ctx.run_id)
        };
        let (start_time, path, original) = host::blocking(
            "finding dockerd's memory cgroup",
            CGROUP_DEADLINE,
            move || {
                let start = host::proc::stat(pid)
                    .map(|s| s.start_time)
                    .ok_or_else(|| anyhow!("dockerd (pid {pid}) is gone"))?;
                let original = host::memcg::cgroup_of(pid)?;
                anyhow::Ok((start, host::memcg::path_for(&name), original))
            },
        )
        .await??;
        // Left down, it is started again when the iteration ends; else when this step ends.
        let scope = ctx.scope_until(self.restart);
        let stopped = super::daemon_kill::journal_stopped(ctx, scope, &d).await?;
        let cgroup = ctx
            .change(
                scope,
                Change::DaemonCgroup {
                    path: path.clone(),
                    original,
                    pid,
                    start_time,
                },
                None,
            )
            .await?;
        let (p, limit) = (path.clone(), self.memory.bytes());
        host::blocking("bounding dockerd's memory", CGROUP_DEADLINE, move || {
            host::memcg::create(&p, limit)?;
            host::memcg::move_to(&p, pid)
        })
        .await??;
        tracing::debug!(pid, path = %path.display(), limit, "dockerd bounded");
        if let Some(hold) = self.hold {
            tokio::time::sleep(hold.get()).await;
        }
        // dockerd reads a large call whole: past its bound, the kernel's OOM killer takes it.
        let t = Instant::now();
        while d.is_running() {
            if t.elapsed() > KILL_DEADLINE {
                anyhow::bail!(
                    "dockerd (pid {pid}) still runs {KILL_DEADLINE:?} into the allocation, bounded to {limit} bytes"
                );
            }
            let answer = ctx
                .docker
                .flood_create(self.flood.bytes() as usize, Duration::from_secs(15))
                .await;
            tracing::debug!(?answer, "the large create call");
            let wait = Instant::now();
            while d.is_running() && wait.elapsed() < Duration::from_secs(2) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        ctx.measure("oom_kill_time", t.elapsed());
        let p = path.clone();
        let kills = host::blocking(
            "reading the cgroup's OOM kills",
            CGROUP_DEADLINE,
            move || host::memcg::oom_kills(&p),
        )
        .await??;
        ctx.record_measure(Measure {
            name: "oom_kills".into(),
            value: kills as f64,
            unit: "count".into(),
            source: "host".into(),
        });
        ctx.undo(cgroup).await?;
        if !self.restart {
            return Ok(());
        }
        super::daemon_kill::start_again(ctx, d, stopped, "started again by daemon_oom").await
    }
}
