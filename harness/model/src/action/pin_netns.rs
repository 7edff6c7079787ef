//! `pin_netns`: keep a container's network namespace alive after the container is gone, by
//! bind-mounting its namespace (what a stuck CNI plugin or monitoring agent does). The pin is
//! journaled first and undone after the iteration, whatever happens.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::{ContainerRef, Deadlines};

/// Where pins live; each file's name starts with the run id.
pub const PINNED_DIR: &str = "/run/shakedown/pinned-netns";

/// Arguments of `pin_netns`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct PinNetns(pub ContainerRef);

impl ActionKind for PinNetns {
    const NAME: &'static str = "pin_netns";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
