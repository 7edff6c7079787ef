//! Runs `pause` (its arguments, and what it does: `action/pause.rs`).

use super::Execute;
use crate::ctx::Ctx;
use journal::Change;
use model::action::{Pause, Unpause};

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
