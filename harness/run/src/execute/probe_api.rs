//! Runs `probe_api` (its arguments, and what it does: `action/probe_api.rs`).

use std::time::Duration;

use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use docker::LABEL_RUN;
use model::action::ProbeApi;
use model::expect::Api;
use model::fact::Fact;

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
        ctx.fact(Fact::Ping(ping));
        ctx.fact(Fact::List(list));
        ctx.fact(Fact::Api(if ping && list {
            Api::Responsive
        } else {
            Api::Unresponsive
        }));
        Ok(())
    }
}
