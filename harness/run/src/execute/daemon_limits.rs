//! Runs `daemon_limits` (its arguments, and what it does: `action/daemon_limits.rs`).

use std::time::Duration;

use super::Execute;
use crate::ctx::Ctx;
use journal::Change;
use model::action::DaemonLimits;

/// Reading or setting a process's limit: a few reads of /proc and one system call.
const LIMIT_DEADLINE: Duration = Duration::from_secs(10);

impl Execute for DaemonLimits {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        if self.restore {
            // Restoring is undoing what the ledger holds (exactly that process, by start time).
            let lowered = ctx
                .ledger
                .outstanding(|c| matches!(c, Change::DaemonNofile { .. }));
            if lowered.is_empty() {
                anyhow::bail!(
                    "dockerd's limit is not lowered by this run (use daemon_limits first)"
                );
            }
            for (id, _) in lowered {
                ctx.undo(id).await?;
            }
            return Ok(());
        }
        let pid = ctx.dockerd_pid().await?;
        let (start_time, (soft, hard, open)) =
            host::blocking("reading dockerd's open files", LIMIT_DEADLINE, move || {
                let start = host::proc::stat(pid)
                    .map(|s| s.start_time)
                    .ok_or_else(|| anyhow::anyhow!("dockerd (pid {pid}) is gone"))?;
                anyhow::Ok((start, host::proc::open_files(pid)?))
            })
            .await??;
        let new = self.soft_limit(open);
        // With a duration the limit ends with the step; without, it holds until the end of the
        // iteration.
        let scope = ctx.scope_until(self.duration.is_some());
        let change = ctx
            .change(
                scope,
                Change::DaemonNofile {
                    pid,
                    start_time,
                    soft,
                    hard,
                },
                None,
            )
            .await?;
        // The hard limit stays: only the soft one is lowered, as `ulimit -Sn` would.
        host::blocking(
            "lowering dockerd's open-files limit",
            LIMIT_DEADLINE,
            move || host::proc::set_open_files(pid, start_time, new.min(hard), hard),
        )
        .await?
        .map_err(anyhow::Error::msg)?;
        tracing::debug!(pid, open, soft, new, "dockerd's open-files limit lowered");
        if let Some(d) = self.duration {
            tokio::time::sleep(d.get()).await;
            ctx.undo(change).await?;
        }
        Ok(())
    }
}
