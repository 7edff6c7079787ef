//! Runs `fill_inodes` (its arguments, and what it does: `action/fill_inodes.rs`).

use std::time::Duration;

use super::fill_disk::{fill_path, fill_point, release};
use super::Execute;
use crate::ctx::Ctx;
use journal::Change;
use model::action::FillInodes;

impl Execute for FillInodes {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        if self.release {
            return release(ctx, &self.target.value).await;
        }
        let (point, at) = fill_point(ctx, &self.target.value).await?;
        let want = self.free.unwrap_or(0);
        let scope = ctx.scope_until(self.duration.is_some());
        let dir = fill_path(ctx, &at, "inodes");
        let change = ctx
            .change(scope, Change::FillFile { path: dir.clone() }, None)
            .await?;
        // The rest of the step's deadline: tens of thousands of files take a few seconds.
        let deadline = ctx.step_deadline.max(Duration::from_secs(10));
        let p = point.clone();
        let made = host::blocking("making fill files", deadline, move || {
            host::loopfs::fill_inodes(&dir, &p, want)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("filling the inodes of {}: {e}", point.display()))?;
        tracing::debug!(point = %point.display(), made, want, "inodes used up");
        if let Some(d) = self.duration {
            tokio::time::sleep(d.get()).await;
            ctx.undo(change).await?;
        }
        Ok(())
    }
}
