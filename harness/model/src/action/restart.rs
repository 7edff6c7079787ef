//! `restart`: `docker restart` — stop (the stop signal, SIGKILL after the grace period), then
//! start again, in one daemon call.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;
use crate::units::HumanDuration;

/// Arguments of `restart`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    /// The container's name in the scenario.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Grace period before SIGKILL, whole seconds (default: the container's `stop_timeout`, else
    /// the engine's 10 s).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
}

impl ActionKind for Restart {
    const NAME: &'static str = "restart";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn problems(&self) -> Vec<String> {
        super::stop::whole_seconds(Self::NAME, self.timeout)
    }

    fn default_deadline(&self, scenario: &dyn Deadlines) -> Duration {
        // The stop's grace period, then a start.
        super::stop::grace(self.timeout, &self.container.value, scenario) + Duration::from_secs(60)
    }
}
