//! Runs `sleep` (its arguments, and what it does: `action/sleep.rs`).

use super::Execute;
use crate::ctx::Ctx;
use model::action::Sleep;

impl Execute for Sleep {
    async fn run(&self, _: &mut Ctx<'_>) -> anyhow::Result<()> {
        tokio::time::sleep(self.duration.get()).await;
        Ok(())
    }
}
