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

use super::ActionKind;
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
    /// Which lines count: `step` (default) those written after the step started, `start` every
    /// line since the container started.
    #[serde(default)]
    pub since: LogSince,
}

/// Where in a container's log `log` starts matching.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogSince {
    /// Lines written after the step started.
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

    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        let within = self
            .within
            .map(|w| w.get())
            .unwrap_or(Duration::from_secs(5));
        let count = |text: &str| text.lines().filter(|l| l.contains(&self.contains)).count();
        // The log's tail, not its whole: counting a window of the latest lines is enough to see
        // growth. From the start: the whole log (a line printed long ago still counts).
        let tail = match self.since {
            LogSince::Step => 2000,
            LogSince::Start => usize::MAX,
        };
        let t = Instant::now();
        // New lines are those after the last line seen before the step.
        let last = match self.since {
            LogSince::Step => Some(
                ctx.docker
                    .logs(&id, tail)
                    .await?
                    .lines()
                    .last()
                    .unwrap_or("")
                    .to_string(),
            ),
            LogSince::Start => None,
        };
        loop {
            if last.is_some() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let now = ctx.docker.logs(&id, tail).await?;
            let fresh = match last.as_deref() {
                Some(last) => match now.rfind(last) {
                    Some(i) if !last.is_empty() => &now[i + last.len()..],
                    _ => now.as_str(),
                },
                None => now.as_str(),
            };
            if count(fresh) > 0 {
                ctx.measure("time_to_progress", t.elapsed());
                ctx.fact("progress", "yes");
                ctx.fact("probe", "up");
                return Ok(());
            }
            if t.elapsed() >= within {
                ctx.fact("progress", "hung");
                ctx.fact("probe", "down");
                ctx.fact("last_line", now.lines().last().unwrap_or(""));
                return Ok(());
            }
            if last.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
