//! Runs `dependency_outage` (its arguments, and what it does: `action/dependency_outage.rs`).

use std::time::Duration;

use super::window::Window;
use super::Execute;
use crate::ctx::Ctx;
use journal::Change;
use model::action::{DependencyOutage, OutageMode};
use model::fact::Fact;

impl Execute for DependencyOutage {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        let daemon = ctx.docker.host().to_string();
        ctx.fact(Fact::Mechanism(
            format!("docker {:?}", self.mode).to_lowercase(),
        ));
        let mut w = Window::open(ctx, self.probe.as_ref()).await?;
        let change = match self.mode {
            OutageMode::Pause => Change::ContainerPaused {
                daemon,
                id: id.clone(),
            },
            OutageMode::Stop => Change::ContainerStopped {
                daemon,
                id: id.clone(),
            },
        };
        let made = ctx.change(ctx.step_scope(), change, None).await?;
        let r = match self.mode {
            OutageMode::Pause => ctx.docker.pause(&id).await,
            OutageMode::Stop => {
                ctx.docker
                    .stop(&id, Some(Duration::from_secs(1)), Duration::from_secs(30))
                    .await
            }
        };
        if let Err(e) = r {
            let _ = ctx.undo(made).await;
            return Err(e);
        }
        w.injected(ctx, vec![made]);
        w.hold(ctx, self.duration.get()).await;
        w.close(ctx).await
    }
}
