//! `kill_process`: kill a container's PID 1 from the host, as the kernel's OOM killer or an operator
//! would — not through the daemon, which therefore learns about it only from the runtime.

use std::time::Duration;

use anyhow::anyhow;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use crate::runner::Ctx;
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
        crate::signal::problem(Self::NAME, &self.signal)
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }

    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        let obs = ctx.docker.observe(&id).await?;
        let pid = obs
            .pid
            .filter(|p| *p > 0)
            .ok_or_else(|| anyhow!("container {} has no running process", self.container.value))?;
        let signo = self
            .signal
            .as_deref()
            .and_then(crate::signal::parse)
            .unwrap_or(9);
        let sig = Signal::try_from(signo)?;
        ctx.baseline
            .insert(self.container.value.clone(), obs.clone());
        kill(Pid::from_raw(pid as i32), sig)?;
        ctx.fact("killed_pid", pid);
        Ok(())
    }
}
