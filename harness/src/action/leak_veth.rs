//! `leak_veth`: create orphan veth pairs attached to the engine's bridge — the debris a crashed
//! daemon can leave — so that leak detection can be shown to find them. They are named `sdleak…`,
//! carry the alias `shakedown:<run id>`, are journaled before they are made and deleted after the
//! iteration, whatever happens.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::host::Cmd;
use crate::journal::Change;
use crate::scenario::Scenario;

/// Arguments of `leak_veth`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakVeth {
    /// How many pairs (default 1).
    #[serde(default)]
    pub count: Option<u32>,
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
}

impl Execute for LeakVeth {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let bridge = ctx
            .leak_scope(false)
            .await
            .bridges
            .first()
            .cloned()
            .ok_or_else(|| {
                anyhow::anyhow!("leak_veth needs the daemon's bridge (a daemon the harness knows)")
            })?;
        let tag: String = ctx.run_id.chars().rev().take(5).collect();
        let alias = format!("shakedown:{}", ctx.run_id);
        let mut names = vec![];
        for i in 0..self.count.unwrap_or(1) {
            let (a, b) = (format!("sdleak{tag}{i}"), format!("sdpeer{tag}{i}"));
            let change = ctx
                .change(
                    ctx.iteration_scope(),
                    Change::Link {
                        name: a.clone(),
                        alias: alias.clone(),
                    },
                    None,
                )
                .await?;
            let made = async {
                Cmd::new(
                    "ip",
                    &["link", "add", &a, "type", "veth", "peer", "name", &b],
                )
                .run()
                .await?;
                // The alias is what undoing checks before it deletes anything.
                Cmd::new("ip", &["link", "set", &a, "alias", &alias])
                    .run()
                    .await?;
                Cmd::new("ip", &["link", "set", &a, "master", &bridge, "up"])
                    .run()
                    .await
            }
            .await;
            if let Err(e) = made {
                let _ = ctx.undo(change).await;
                return Err(e.into());
            }
            names.push(a);
        }
        ctx.fact("veths", names.join(" "));
        Ok(())
    }
}
