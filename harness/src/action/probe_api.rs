//! `probe_api`: API liveness as a client sees it — `/_ping` and a real call (listing containers),
//! each with its own deadline. Never fails the step: the `api` expectation judges the fact.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tokio::time::Instant;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::docker::LABEL_RUN;
use crate::scenario::Scenario;
use crate::units::HumanDuration;

/// Arguments of `probe_api`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeApi {
    /// Deadline of each call (default 2s).
    #[serde(default)]
    pub deadline: Option<HumanDuration>,
}

impl ActionKind for ProbeApi {
    const NAME: &'static str = "probe_api";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        self.deadline
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(2))
            * 2
            + Duration::from_secs(5)
    }
}

impl Execute for ProbeApi {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let each = self
            .deadline
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(2));
        let t = Instant::now();
        let ping = ctx.docker.ping(each).await.is_ok();
        if ping {
            ctx.measure("ping_latency", t.elapsed());
        }
        let t = Instant::now();
        let list = tokio::time::timeout(each, ctx.docker.list_labeled(LABEL_RUN))
            .await
            .is_ok_and(|r| r.is_ok());
        if list {
            ctx.measure("list_latency", t.elapsed());
        }
        ctx.fact("ping", if ping { "ok" } else { "no answer" });
        ctx.fact("list", if list { "ok" } else { "no answer" });
        ctx.fact(
            "api",
            if ping && list {
                "responsive"
            } else {
                "unresponsive"
            },
        );
        Ok(())
    }
}
