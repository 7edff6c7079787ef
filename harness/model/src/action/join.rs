//! `join`: wait for a background step to finish. The runner carries it out (it holds the
//! background steps); the step's own outcome is the wait, the joined step keeps its own.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;

/// Arguments of `join`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// The `name` of an earlier step with `background: true`.
    #[schemars(with = "String")]
    pub step: Spanned<String>,
}

/// What a join adds to the joined step's deadline by default: the joined step's observation after
/// its action (forensics, the event barrier, settling) happens within it.
pub const JOIN_MARGIN: Duration = Duration::from_secs(90);

impl ActionKind for Join {
    const NAME: &'static str = "join";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, steps: &dyn Deadlines) -> Duration {
        steps.step_deadline(&self.step.value).unwrap_or_default() + JOIN_MARGIN
    }
}
