//! `check_leaks`: compare the host with the snapshot taken when the iteration began — veths, ports
//! of the engine's bridge, pinned network namespaces, the daemon's overlay/shm mounts, shims, container
//! cgroups — and report what appeared and is still there. The kernel frees devices asynchronously, so
//! it polls until nothing is left or `settle` passes. Measures `leaked_<kind>` (counts); facts list
//! the names; `leaks: none` or `leaks: [veth, ...]` judge them.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tokio::time::Instant;

use super::ActionKind;
use crate::record::Measure;
use crate::runner::Ctx;
use crate::scenario::Scenario;
use crate::units::HumanDuration;

/// Arguments of `check_leaks`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckLeaks {
    /// How long to wait for the host to settle before calling what remains a leak (default 10s).
    #[serde(default)]
    pub settle: Option<HumanDuration>,
}

impl ActionKind for CheckLeaks {
    const NAME: &'static str = "check_leaks";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        self.settle
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(10))
            + Duration::from_secs(30)
    }

    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let before = ctx
            .leak_baseline
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no baseline was taken at the iteration's start"))?;
        let scope = super::leak_scope(ctx).await;
        let settle = self
            .settle
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(10));
        let t = Instant::now();
        let leaks = loop {
            let scope = scope.clone();
            let after = tokio::task::spawn_blocking(move || crate::leaks::snapshot(&scope)).await?;
            let d = crate::leaks::diff(&before, &after);
            if d.values().all(Vec::is_empty) || t.elapsed() >= settle {
                break d;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        for (kind, names) in &leaks {
            ctx.measures.push(Measure {
                name: format!("leaked_{kind}"),
                value: names.len() as f64,
                unit: "count".into(),
                source: "host".into(),
            });
            ctx.fact(&format!("leaked_{kind}"), names.join("\n"));
        }
        Ok(())
    }
}
