//! Runs `log` (its arguments, and what it does: `action/log.rs`).

use std::time::Duration;

use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use model::action::{Log, LogSince};
use model::expect::ProbeState;
use model::fact::Fact;

impl Execute for Log {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        let within = self
            .within
            .map(|w| w.get())
            .unwrap_or(Duration::from_secs(5));
        let matches = |lines: &[String]| lines.iter().any(|l| l.contains(&self.contains));
        let t = Instant::now();
        loop {
            // New lines: those the daemon received since the step started (as journaled), by the
            // daemon's own timestamps — a line equal to one printed before still counts.
            let lines = match self.since {
                LogSince::Step => ctx.docker.logs_since(&id, ctx.step_started_unix).await?,
                LogSince::Start => ctx
                    .docker
                    .logs(&id, usize::MAX)
                    .await?
                    .lines()
                    .map(str::to_string)
                    .collect(),
            };
            if matches(&lines) {
                ctx.measure("time_to_progress", t.elapsed());
                ctx.fact(Fact::Progress(true));
                ctx.fact(Fact::Probe(Some(ProbeState::Up)));
                return Ok(());
            }
            if t.elapsed() >= within {
                ctx.fact(Fact::Progress(false));
                ctx.fact(Fact::Probe(Some(ProbeState::Down)));
                let last = ctx.docker.logs(&id, 1).await.unwrap_or_default();
                ctx.fact(Fact::LastLine(
                    last.lines().last().unwrap_or("").to_string(),
                ));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
