//! `stop`: `docker stop` — the container's stop signal, then SIGKILL when the grace period ends.
//! The PID-1 field reports are about how long this takes and which exit code it ends with.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::Deadlines;
use super::{span, ActionKind};
use crate::record::{EventRecord, Measure};
use crate::units::HumanDuration;

/// Arguments of `stop`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    /// The container's name in the scenario.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Grace period before SIGKILL, whole seconds (default: the container's `stop_timeout`, else the
    /// engine's 10 s).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
}

impl Stop {
    fn grace(&self, scenario: &dyn Deadlines) -> Duration {
        grace(self.timeout, &self.container.value, scenario)
    }
}

/// The grace period a stop gives: the step's `timeout`, else the container's `stop_timeout`, else
/// the engine's 10 s.
pub(super) fn grace(
    timeout: Option<HumanDuration>,
    container: &str,
    scenario: &dyn Deadlines,
) -> Duration {
    timeout
        .or_else(|| scenario.stop_timeout(container))
        .map(HumanDuration::get)
        .unwrap_or(Duration::from_secs(10))
}

/// A grace period the Docker API cannot take (it takes whole seconds).
pub(super) fn whole_seconds(action: &str, timeout: Option<HumanDuration>) -> Vec<String> {
    match timeout {
        Some(t) if t.get().subsec_nanos() != 0 => vec![format!(
            "{action}: timeout {t} must be whole seconds (the Docker API takes seconds)"
        )],
        _ => vec![],
    }
}

impl ActionKind for Stop {
    const NAME: &'static str = "stop";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn problems(&self) -> Vec<String> {
        whole_seconds(Self::NAME, self.timeout)
    }

    fn default_deadline(&self, scenario: &dyn Deadlines) -> Duration {
        // The grace period plus a margin: a stop that takes longer is the moby#31997 hang.
        self.grace(scenario) + Duration::from_secs(30)
    }

    fn daemon_measures(&self, step: &[&EventRecord], _all: &[EventRecord]) -> Vec<Measure> {
        // From the first signal the daemon sent to the container's death, on the daemon's clock.
        span(step, "kill", "die")
            .map(|n| vec![Measure::daemon("daemon_duration", n)])
            .unwrap_or_default()
    }
}
