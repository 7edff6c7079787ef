//! `kill_process`: kill a container's PID 1 from the host, as the kernel's OOM killer or an operator
//! would — not through the daemon, which therefore learns about it only from the runtime. The
//! process is the one the harness holds by pidfd since it last observed the container running, and
//! it is checked to still be in the container's cgroup: this works while dockerd is down, and a
//! recycled PID is never signalled.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::scenario::Scenario;

/// Arguments of `kill_process`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KillProcess {
    /// The container's name in the scenario.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Signal (default SIGKILL).
    #[serde(default)]
    pub signal: Option<String>,
}

impl ActionKind for KillProcess {
    const NAME: &'static str = "kill_process";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn problems(&self) -> Vec<String> {
        crate::signal::problem_or_zero(Self::NAME, &self.signal)
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }
}

impl Execute for KillProcess {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let name = self.container.value.clone();
        // The process held since the container was last observed running: no daemon call is
        // needed, so this works while dockerd is down.
        let proc = ctx.process(&name).await?;
        let signo = self
            .signal
            .as_deref()
            .and_then(crate::signal::parse_or_zero)
            .unwrap_or(9);
        let p = proc.clone();
        crate::host::blocking(
            "signalling a container's process",
            Duration::from_secs(5),
            move || p.signal(signo),
        )
        .await??;
        ctx.fact("killed_pid", proc.pid);
        Ok(())
    }
}
