//! `pin_netns`: keep a container's network namespace alive after the container is gone, by
//! bind-mounting `/proc/<pid>/ns/net` (what a stuck CNI plugin or monitoring agent does). The pin is
//! undone after the iteration, whatever happens.

use std::time::Duration;

use anyhow::{anyhow, Context};
use nix::mount::{mount, MsFlags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use crate::runner::{Ctx, Undo};
use crate::scenario::{ContainerRef, Scenario};

/// Where pins live (one place, so that `shakedown clean` finds what a killed run left).
pub const PINNED_DIR: &str = "/run/shakedown/pinned-netns";

/// Arguments of `pin_netns`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct PinNetns(pub ContainerRef);

impl ActionKind for PinNetns {
    const NAME: &'static str = "pin_netns";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }

    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(self.0.name())?;
        let pid = ctx
            .docker
            .observe(&id)
            .await?
            .pid
            .filter(|p| *p > 0)
            .ok_or_else(|| anyhow!("container {} is not running", self.0.name()))?;
        let dir = std::path::Path::new(PINNED_DIR);
        std::fs::create_dir_all(dir)?;
        let target = dir.join(format!("{}-{}", ctx.run_id, self.0.name()));
        std::fs::File::create(&target).with_context(|| format!("creating {}", target.display()))?;
        let source = format!("/proc/{pid}/ns/net");
        mount(
            Some(source.as_str()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind-mounting {source} on {}", target.display()))?;
        ctx.undo.push(Undo::Unmount(target.clone()));
        ctx.fact("pinned", target.display());
        Ok(())
    }
}
