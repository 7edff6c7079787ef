//! `shim_kill`: SIGKILL the containerd shim that serves a container (its runtime parent); the
//! daemon must notice and report the container's fate.

use std::time::Duration;

use anyhow::anyhow;
use nix::sys::signal::Signal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::scenario::{ContainerRef, Scenario};

/// Arguments of `shim_kill`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct ShimKill(pub ContainerRef);

impl ActionKind for ShimKill {
    const NAME: &'static str = "shim_kill";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }
}

impl Execute for ShimKill {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(self.0.name())?;
        let shim = crate::proc::shim_of(&id)
            .await?
            .ok_or_else(|| anyhow!("no containerd shim found for container {}", self.0.name()))?;
        // Signalled through a pidfd opened now and checked against the start time just read: the
        // shim, or nobody.
        let fd = crate::host::PidFd::open(shim.pid)?;
        if crate::proc::stat(shim.pid).map(|s| s.start_time) != Some(shim.start_time) {
            anyhow::bail!(
                "the shim (pid {}) exited before it could be killed",
                shim.pid
            );
        }
        fd.signal(Signal::SIGKILL as i32)?;
        ctx.fact("shim_pid", shim.pid);
        Ok(())
    }
}
