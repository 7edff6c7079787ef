//! Runs `daemon_thaw` (its arguments, and what it does: `action/daemon_thaw.rs`).

use std::time::Duration;

use super::Execute;
use crate::ctx::Ctx;
use journal::Change;
use model::action::DaemonThaw;
use model::fact::Fact;

impl Execute for DaemonThaw {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let pid = ctx.dockerd_pid().await?;
        let t = tokio::time::Instant::now();
        // Thawing is undoing the freeze the ledger holds (exactly that process, by start time).
        let frozen = ctx
            .ledger
            .outstanding(|c| matches!(c, Change::DaemonFrozen { .. }));
        if frozen.is_empty() {
            anyhow::bail!("dockerd is not frozen by this run (use daemon_freeze first)");
        }
        for (id, _) in frozen {
            ctx.undo(id).await?;
        }
        ctx.wait_api(Duration::from_secs(2), Duration::from_secs(50))
            .await?;
        ctx.measure("api_back", t.elapsed());
        ctx.fact(Fact::DockerdPid(pid));
        // The freeze's forensics bundle waits for the goroutine dump the daemon writes now.
        if let Some((mut b, req)) = ctx.pending_bundle.take() {
            b.collect_goroutine_dumps(&req, Duration::from_secs(10))
                .await?;
            ctx.bundle = Some(b.finish()?);
        }
        Ok(())
    }
}
