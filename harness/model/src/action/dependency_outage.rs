//! `dependency_outage`: a dependency container stops answering for a while — paused (frozen cgroup:
//! connections stay open but nothing answers) or stopped and started again (connections are closed) —
//! with an optional probe around it. Journaled before it is done; always brought back at the end of
//! the step.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::window::{self, ProbeSpec};
use super::ActionKind;
use super::Deadlines;
use crate::units::HumanDuration;

/// How the dependency goes away.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// `docker pause` (the cgroup freezer), then unpause.
    #[default]
    Pause,
    /// `docker stop -t 1`, then start.
    Stop,
}

/// Arguments of `dependency_outage`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DependencyOutage {
    /// The dependency.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Pause (default) or stop.
    #[serde(default)]
    pub mode: OutageMode,
    /// How long it is away.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

impl ActionKind for DependencyOutage {
    const NAME: &'static str = "dependency_outage";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        let mut v = vec![&self.container];
        v.extend(self.probe.iter().flat_map(ProbeSpec::refs));
        v
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        window::deadline(self.duration, self.probe.as_ref(), Duration::from_secs(60))
    }
}
