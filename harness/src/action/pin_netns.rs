//! `pin_netns`: keep a container's network namespace alive after the container is gone, by
//! bind-mounting its namespace (what a stuck CNI plugin or monitoring agent does). The pin is
//! journaled first and undone after the iteration, whatever happens.

use std::time::Duration;

use anyhow::Context;
use nix::mount::{mount, MsFlags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::journal::Change;
use crate::scenario::{ContainerRef, Scenario};

/// Where pins live; each file's name starts with the run id.
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
}

impl Execute for PinNetns {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let proc = ctx.process(self.0.name()).await?;
        let target =
            std::path::Path::new(PINNED_DIR).join(format!("{}-{}", ctx.run_id, self.0.name()));
        let change = ctx
            .change(
                ctx.iteration_scope(),
                Change::NetnsPin {
                    path: target.clone(),
                },
                None,
            )
            .await?;
        // The namespace held by descriptor, not /proc/PID/ns/net: a recycled PID cannot swap it.
        let ns = proc.netns.clone();
        let t = target.clone();
        let made = crate::host::blocking(
            "pinning a network namespace",
            Duration::from_secs(10),
            move || {
                std::fs::create_dir_all(PINNED_DIR)?;
                std::fs::File::create(&t).with_context(|| format!("creating {}", t.display()))?;
                let source = format!("/proc/self/fd/{}", ns.raw_fd());
                mount(
                    Some(source.as_str()),
                    &t,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .with_context(|| format!("bind-mounting {} on {}", ns.id(), t.display()))
            },
        )
        .await?;
        if let Err(e) = made {
            let _ = ctx.undo(change).await;
            return Err(e);
        }
        ctx.fact("pinned", target.display());
        Ok(())
    }
}
