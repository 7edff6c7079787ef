//! Runs `probe` (its arguments, and what it does: `action/probe.rs`).

use std::time::Duration;

use super::window::Probe;
use super::Execute;
use crate::ctx::Ctx;
use model::action::ProbeOnce;
use model::expect::ProbeState;
use model::fact::Fact;

impl Execute for ProbeOnce {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let p = Probe::resolve(ctx, &self.0).await?;
        let up = p.sample(ctx, "once").await;
        if let Some(l) = ctx.samples.last().and_then(|s| s.latency) {
            ctx.measure("latency", Duration::from_secs_f64(l));
        }
        // A probe the harness could not run says nothing: `unknown`, never `down`.
        ctx.fact(Fact::Probe(up.map(|up| {
            if up {
                ProbeState::Up
            } else {
                ProbeState::Down
            }
        })));
        Ok(())
    }
}
