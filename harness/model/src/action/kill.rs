//! `kill`: send a signal to the container's PID 1 through the daemon (`docker kill -s SIGNAL`).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;

/// Arguments of `kill`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kill {
    /// The container's name in the scenario.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Signal name or number (default SIGKILL).
    #[serde(default)]
    pub signal: Option<String>,
}

impl Kill {
    /// The signal's name (SIGKILL when none is given).
    pub fn signal(&self) -> String {
        self.signal
            .as_deref()
            .and_then(crate::signal::parse)
            .map(crate::signal::name)
            .unwrap_or_else(|| "SIGKILL".into())
    }
}

impl ActionKind for Kill {
    const NAME: &'static str = "kill";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn problems(&self) -> Vec<String> {
        crate::signal::problem(Self::NAME, &self.signal)
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
