//! `log`: does a container make progress, or is it ready? Waits up to `within` for a line of its
//! log (stdout or stderr) that contains a text: a new one (`since: step`, the default), or any
//! since the container started (`since: start`, so a line printed before the step counts too). A
//! client that hangs for good writes none: its `progress` fact is `hung`, which the `probe: down`
//! expectation judges.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tokio::time::Instant;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::scenario::Scenario;
use crate::units::HumanDuration;

/// Arguments of `log`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// The container whose log is read.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// The text new lines must contain.
    pub contains: String,
    /// How long to wait for a matching line (default 5s).
    #[serde(default)]
    pub within: Option<HumanDuration>,
    /// Which lines count: `step` (default) those the daemon received after the step started (by
    /// the daemon's timestamps, so a line repeating an older one counts), `start` every line
    /// since the container started.
    #[serde(default)]
    pub since: LogSince,
}

/// Where in a container's log `log` starts matching.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogSince {
    /// Lines the daemon received after the step started (as journaled).
    #[default]
    Step,
    /// Every line since the container started.
    Start,
}

impl ActionKind for Log {
    const NAME: &'static str = "log";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        self.within
            .map(|w| w.get())
            .unwrap_or(Duration::from_secs(5))
            + Duration::from_secs(30)
    }
}

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
                ctx.fact("progress", "yes");
                ctx.fact("probe", "up");
                return Ok(());
            }
            if t.elapsed() >= within {
                ctx.fact("progress", "hung");
                ctx.fact("probe", "down");
                let last = ctx.docker.logs(&id, 1).await.unwrap_or_default();
                ctx.fact("last_line", last.lines().last().unwrap_or(""));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
