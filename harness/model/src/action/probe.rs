//! `probe`: one TCP or HTTP probe from a container's network namespace (or the host) to a
//! container's port; never fails the step — `probe: up|down` judges its `probe` fact.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::window::ProbeSpec;
use super::ActionKind;
use super::Deadlines;

/// Arguments of `probe`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct ProbeOnce(pub ProbeSpec);

impl ActionKind for ProbeOnce {
    const NAME: &'static str = "probe";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        self.0.refs()
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
