//! `daemon_reload`: SIGHUP to dockerd (configuration reload); the API must keep answering.

use std::time::Duration;

use anyhow::anyhow;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tokio::time::Instant;

use super::ActionKind;
use crate::runner::Ctx;
use crate::scenario::Scenario;

/// Arguments of `daemon_reload` (none: `daemon_reload: {}`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonReload {}

impl ActionKind for DaemonReload {
    const NAME: &'static str = "daemon_reload";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(60)
    }

    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let pid = ctx
            .daemon()?
            .lock()
            .await
            .pid()
            .ok_or_else(|| anyhow!("dockerd is not running"))?;
        let t = Instant::now();
        kill(Pid::from_raw(pid as i32), Signal::SIGHUP)?;
        ctx.wait_api(Duration::from_secs(2), Duration::from_secs(50))
            .await?;
        ctx.measure("api_back", t.elapsed());
        ctx.fact("dockerd_pid_after", pid);
        Ok(())
    }
}
