//! `pause` and `unpause`: freeze a container's processes with the cgroup freezer (`docker pause`)
//! and thaw them. A pause is a change in the ledger: a container still paused at the end of its
//! iteration is unpaused before it is removed.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::journal::Change;
use crate::scenario::{ContainerRef, Scenario};

/// Arguments of `pause`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Pause(pub ContainerRef);

/// Arguments of `unpause`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Unpause(pub ContainerRef);

impl ActionKind for Pause {
    const NAME: &'static str = "pause";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }
}

impl Execute for Pause {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let name = self.0.name();
        let id = ctx.id(name)?;
        let change = Change::ContainerPaused {
            daemon: ctx.docker.host().to_string(),
            id: id.clone(),
        };
        let made = ctx.change(ctx.iteration_scope(), change, None).await?;
        if let Err(e) = ctx.docker.pause(&id).await {
            let _ = ctx.undo(made).await;
            return Err(e);
        }
        ctx.paused.insert(name.to_string(), made);
        Ok(())
    }
}

impl ActionKind for Unpause {
    const NAME: &'static str = "unpause";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }
}

impl Execute for Unpause {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let name = self.0.name();
        match ctx.paused.remove(name) {
            // Paused by this scenario: undoing the change unpauses it, and the ledger knows.
            Some(made) => ctx.undo(made).await.map(|_| ()),
            None => {
                let id = ctx.id(name)?;
                ctx.docker.unpause(&id).await
            }
        }
    }
}
