//! `inspect`: observe a container without acting on it, for expectations on its current state.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::{ContainerRef, Deadlines};

/// Arguments of `inspect`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Inspect(pub ContainerRef);

impl ActionKind for Inspect {
    const NAME: &'static str = "inspect";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
