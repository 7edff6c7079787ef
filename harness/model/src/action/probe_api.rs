//! `probe_api`: API liveness as a client sees it — `/_ping` and a real call (listing containers),
//! each with its own deadline. Never fails the step: the `api` expectation judges the fact.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;
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

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        self.deadline
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(2))
            * 2
            + Duration::from_secs(5)
    }
}
