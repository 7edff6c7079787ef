//! `daemon_thaw`: SIGCONT to a dockerd frozen by `daemon_freeze` without a duration; measures how
//! fast the API answers again.

use std::time::Duration;

use nix::sys::signal::Signal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use crate::runner::Ctx;
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

    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let pid = super::signal_dockerd_and_wait(ctx, Signal::SIGCONT).await?;
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
