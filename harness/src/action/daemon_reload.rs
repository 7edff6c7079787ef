//! `daemon_reload`: SIGHUP to dockerd (configuration reload); the API must keep answering.

use std::time::Duration;

use nix::sys::signal::Signal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
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
}

impl Execute for DaemonReload {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let pid = super::signal_dockerd_and_wait(ctx, Signal::SIGHUP).await?;
        ctx.fact("dockerd_pid", pid);
        Ok(())
    }
}
