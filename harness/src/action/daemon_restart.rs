//! `daemon_restart`: graceful restart of dockerd — SIGTERM, wait for it to exit within a deadline,
//! start it again on the same roots with the same or changed options (e.g. turning live-restore off).
//! The field reports: with `--live-restore` containers keep running with the same PID; without it
//! they stop; the API must come back fast (moby#31997, #32640).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tokio::time::Instant;

use super::{ActionKind, Execute, READY_DEADLINE, STOP_DEADLINE};
use crate::ctx::Ctx;
use crate::journal::Change;
use crate::scenario::Scenario;
use crate::units::HumanDuration;

/// Arguments of `daemon_restart`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonRestart {
    /// Start again with live-restore on or off (default: as before).
    #[serde(default)]
    pub live_restore: Option<bool>,
    /// How long the daemon stays down between stop and start (default: no pause).
    #[serde(default)]
    pub down_for: Option<HumanDuration>,
    /// Restart this many times in a row (a restart storm); measures are taken for each.
    #[serde(default)]
    pub count: Option<u32>,
}

impl ActionKind for DaemonRestart {
    const NAME: &'static str = "daemon_restart";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn problems(&self) -> Vec<String> {
        match self.count {
            Some(0) => vec!["daemon_restart: count must be at least 1".into()],
            _ => vec![],
        }
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        let per =
            STOP_DEADLINE + READY_DEADLINE + self.down_for.map(|d| d.get()).unwrap_or_default();
        per * self.count.unwrap_or(1)
    }
}

impl Execute for DaemonRestart {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let handle = ctx.daemon()?;
        for i in 0..self.count.unwrap_or(1) {
            let mut d = handle.lock().await;
            let before = d.pid();
            let change = ctx
                .change(
                    ctx.step_scope(),
                    Change::DaemonStopped {
                        daemon: d.daemon_ref(),
                    },
                    None,
                )
                .await?;
            let t = Instant::now();
            d.stop(STOP_DEADLINE).await?;
            ctx.measure("stop_time", t.elapsed());
            if let Some(down) = self.down_for {
                tokio::time::sleep(down.get()).await;
            }
            let mut opts = d.options().clone();
            if let Some(lr) = self.live_restore {
                opts.live_restore = lr;
            }
            let t = Instant::now();
            d.start_again(&opts, READY_DEADLINE).await?;
            // This start also ends any earlier stop this run left outstanding (`daemon_kill`
            // without restart).
            ctx.ledger
                .resolved(change, "started again by daemon_restart");
            ctx.ledger.resolve_where(
                |c| matches!(c, Change::DaemonStopped { .. }),
                "started again by daemon_restart",
            );
            ctx.measure("ping_back", t.elapsed());
            let after = d.pid();
            drop(d);
            // Our own client must work again too (it reconnects per request).
            ctx.wait_api(Duration::from_secs(2), Duration::from_secs(30))
                .await?;
            ctx.measure("api_back", t.elapsed());
            if i == 0 {
                ctx.fact("dockerd_pid_before", before.unwrap_or(0));
            }
            ctx.fact("dockerd_pid_after", after.unwrap_or(0));
        }
        Ok(())
    }
}
