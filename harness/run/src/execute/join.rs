//! Runs `join` (its arguments, and what it does: `action/join.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Join;

impl Execute for Join {
    async fn run(&self, _: &mut Ctx<'_>) -> anyhow::Result<()> {
        // The runner joins; an action context has no background steps to wait for.
        anyhow::bail!("`join` is carried out by the runner")
    }
}
