//! `daemon_thaw`: SIGCONT to a dockerd frozen by `daemon_freeze` without a duration; measures how
//! fast the API answers again.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::journal::Change;
use crate::scenario::Scenario;

/// Arguments of `daemon_thaw` (none: `daemon_thaw: {}`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonThaw {}

impl ActionKind for DaemonThaw {
    const NAME: &'static str = "daemon_thaw";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(60)
    }
}

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
        ctx.fact("dockerd_pid", pid);
        // The freeze's forensics bundle waits for the goroutine dump the daemon writes now.
        if let Some((mut b, req)) = ctx.pending_bundle.take() {
            b.collect_goroutine_dumps(&req, Duration::from_secs(10))
                .await?;
            ctx.bundle = Some(b.finish()?);
        }
        Ok(())
    }
}
