//! `shim_kill`: SIGKILL the containerd shim that serves a container (its runtime parent); the
//! daemon must notice and report the container's fate.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::{ContainerRef, Deadlines};

/// Arguments of `shim_kill`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct ShimKill(pub ContainerRef);

impl ActionKind for ShimKill {
    const NAME: &'static str = "shim_kill";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
