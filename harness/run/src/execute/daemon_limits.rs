//! Runs `daemon_limits` (its arguments, and what it does: `action/daemon_limits.rs`).

use std::time::Duration;

use anyhow::anyhow;

use super::Execute;
use crate::ctx::Ctx;
use journal::{Change, Rlimit};
use model::action::{DaemonLimits, DaemonProcess};

/// Reading or setting a process's limit: a few reads of /proc and one system call.
const LIMIT_DEADLINE: Duration = Duration::from_secs(10);

impl Execute for DaemonLimits {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        if self.restore {
            // Restoring is undoing what the ledger holds (exactly that process, by start time).
            let lowered = ctx.ledger.outstanding(|c| {
                matches!(c, Change::DaemonNofile { .. } | Change::DaemonLimit { .. })
            });
            if lowered.is_empty() {
                anyhow::bail!("no daemon's limit is lowered by this run (use daemon_limits first)");
            }
            for (id, _) in lowered {
                ctx.undo(id).await?;
            }
            return Ok(());
        }
        let dockerd = ctx.dockerd_pid().await?;
        let pid = match self.process {
            DaemonProcess::Dockerd => dockerd,
            DaemonProcess::Containerd => {
                host::proc::containerd_of(dockerd)
                    .await?
                    .ok_or_else(|| anyhow!("dockerd (pid {dockerd}) has no containerd child"))?
                    .pid
            }
        };
        let name = self.process.name();
        let (start_time, (soft, hard, open), nproc) =
            host::blocking("reading a daemon's limits", LIMIT_DEADLINE, move || {
                let start = host::proc::stat(pid)
                    .map(|s| s.start_time)
                    .ok_or_else(|| anyhow!("{name} (pid {pid}) is gone"))?;
                let nproc = host::proc::limit(pid, Rlimit::Nproc)?;
                anyhow::Ok((start, host::proc::open_files(pid)?, nproc))
            })
            .await??;
        // With a duration the limits end with the step; without, they hold until the end of the
        // iteration.
        let scope = ctx.scope_until(self.duration.is_some());
        let mut changes = Vec::new();
        let mut lowered = Vec::new();
        if self.lowers_nofile() {
            lowered.push((Rlimit::Nofile, (soft, hard), self.soft_limit(open)));
        }
        if let Some(n) = self.nproc {
            lowered.push((Rlimit::Nproc, nproc, n));
        }
        for (resource, (soft, hard), new) in lowered {
            let change = ctx
                .change(
                    scope,
                    Change::DaemonLimit {
                        process: name.into(),
                        resource,
                        pid,
                        start_time,
                        soft,
                        hard,
                    },
                    None,
                )
                .await?;
            changes.push(change);
            // The hard limit stays: only the soft one is lowered, as `ulimit -S` would.
            host::blocking("lowering a daemon's limit", LIMIT_DEADLINE, move || {
                host::proc::set_limit(pid, start_time, resource, new.min(hard), hard)
            })
            .await?
            .map_err(anyhow::Error::msg)?;
            tracing::debug!(pid, name, ?resource, soft, new, "daemon's limit lowered");
        }
        if let Some(d) = self.duration {
            tokio::time::sleep(d.get()).await;
            for change in changes.into_iter().rev() {
                ctx.undo(change).await?;
            }
        }
        Ok(())
    }
}
