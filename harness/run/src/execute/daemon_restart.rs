//! Runs `daemon_restart` (its arguments, and what it does: `action/daemon_restart.rs`).

use std::time::Duration;

use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use journal::Change;
use model::action::{DaemonRestart, READY_DEADLINE, STOP_DEADLINE};
use model::fact::Fact;

impl Execute for DaemonRestart {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let handle = ctx.daemon()?;
        for i in 0..self.count.unwrap_or(1) {
            let mut d = handle.lock().await;
            let before = d.pid();
            let change = ctx
                .change(
                    ctx.step_scope(),
                    Change::DaemonStopped {
                        daemon: d.daemon_ref(),
                    },
                    None,
                )
                .await?;
            let t = Instant::now();
            d.stop(STOP_DEADLINE).await?;
            ctx.measure("stop_time", t.elapsed());
            if let Some(down) = self.down_for {
                tokio::time::sleep(down.get()).await;
            }
            let mut opts = d.options().clone();
            if let Some(lr) = self.live_restore {
                opts.live_restore = lr;
            }
            let t = Instant::now();
            d.start_again(&opts, READY_DEADLINE).await?;
            // This start also ends any earlier stop this run left outstanding (`daemon_kill`
            // without restart).
            ctx.ledger
                .resolved(change, "started again by daemon_restart");
            ctx.ledger.resolve_where(
                |c| matches!(c, Change::DaemonStopped { .. }),
                "started again by daemon_restart",
            );
            ctx.measure("ping_back", t.elapsed());
            let after = d.pid();
            drop(d);
            // Our own client must work again too (it reconnects per request).
            ctx.wait_api(Duration::from_secs(2), Duration::from_secs(30))
                .await?;
            ctx.measure("api_back", t.elapsed());
            if i == 0 {
                ctx.fact(Fact::DockerdPidBefore(before.unwrap_or(0)));
            }
            ctx.fact(Fact::DockerdPidAfter(after.unwrap_or(0)));
        }
        Ok(())
    }
}
