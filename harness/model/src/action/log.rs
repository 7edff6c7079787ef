//! `log`: does a container make progress, or is it ready? Waits up to `within` for a line of its
//! log (stdout or stderr) that contains a text: a new one (`since: step`, the default), or any
//! since the container started (`since: start`, so a line printed before the step counts too). A
//! client that hangs for good writes none: its `progress` fact is `hung`, which the `probe: down`
//! expectation judges.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;
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

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        self.within
            .map(|w| w.get())
            .unwrap_or(Duration::from_secs(5))
            + Duration::from_secs(30)
    }
}
