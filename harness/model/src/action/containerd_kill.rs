//! `containerd_kill`: SIGKILL the containerd that dockerd started. dockerd notices and starts a new
//! one (20.10 does so about 10 s later); the shims, and so the containers, live on. Measures how fast
//! containerd serves again (`containerd_back`) and how fast the daemon reaches a running container
//! through it (`runtime_back`, via `docker top`).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;

/// Arguments of `containerd_kill` (none: `containerd_kill: {}`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerdKill {}

impl ActionKind for ContainerdKill {
    const NAME: &'static str = "containerd_kill";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(90)
    }
}
