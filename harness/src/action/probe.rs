//! `probe`: one TCP or HTTP probe from a container's network namespace (or the host) to a
//! container's port; never fails the step — `probe: up|down` judges its `probe` fact.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::window::{Probe, ProbeSpec};
use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::scenario::Scenario;

/// Arguments of `probe`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct ProbeOnce(pub ProbeSpec);

impl ActionKind for ProbeOnce {
    const NAME: &'static str = "probe";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        self.0.refs()
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }
}

impl Execute for ProbeOnce {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let p = Probe::resolve(ctx, &self.0).await?;
        let up = p.sample(ctx, "once").await;
        if let Some(l) = ctx.samples.last().and_then(|s| s.latency) {
            ctx.measure("latency", Duration::from_secs_f64(l));
        }
        // A probe the harness could not run says nothing: `unknown`, never `down`.
        ctx.fact(
            "probe",
            match up {
                Some(true) => "up",
                Some(false) => "down",
                None => "unknown",
            },
        );
        Ok(())
    }
}
