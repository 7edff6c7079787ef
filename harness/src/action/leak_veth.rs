//! `leak_veth`: create orphan veth pairs attached to the engine's bridge — the debris a crashed
//! daemon can leave — so that leak detection can be shown to find them. They are named `sdleak…` and
//! deleted after the iteration, whatever happens.

use std::time::Duration;

use anyhow::{bail, Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use crate::runner::{Ctx, Undo};
use crate::scenario::Scenario;

/// Arguments of `leak_veth`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakVeth {
    /// How many pairs (default 1).
    #[serde(default)]
    pub count: Option<u32>,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl ActionKind for LeakVeth {
    const NAME: &'static str = "leak_veth";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }

    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let bridge = super::leak_scope(ctx)
            .await
            .bridge
            .ok_or_else(|| anyhow::anyhow!("leak_veth needs the managed daemon's bridge"))?;
        let tag: String = ctx.run_id.chars().rev().take(5).collect();
        let mut names = vec![];
        for i in 0..self.count.unwrap_or(1) {
            let (a, b) = (format!("sdleak{tag}{i}"), format!("sdpeer{tag}{i}"));
            ip(&["link", "add", &a, "type", "veth", "peer", "name", &b])?;
            ctx.undo.push(Undo::DeleteLink(a.clone()));
            ip(&["link", "set", &a, "master", &bridge, "up"])?;
            names.push(a);
        }
        ctx.fact("veths", names.join(" "));
        Ok(())
    }
}
