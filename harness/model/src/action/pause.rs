//! `pause` and `unpause`: freeze a container's processes with the cgroup freezer (`docker pause`)
//! and thaw them. A pause is a change in the ledger: a container still paused at the end of its
//! iteration is unpaused before it is removed.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::{ContainerRef, Deadlines};

/// Arguments of `pause`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Pause(pub ContainerRef);

/// Arguments of `unpause`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Unpause(pub ContainerRef);

impl ActionKind for Pause {
    const NAME: &'static str = "pause";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}

impl ActionKind for Unpause {
    const NAME: &'static str = "unpause";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
