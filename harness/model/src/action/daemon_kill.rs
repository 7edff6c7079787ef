//! `daemon_kill`: SIGKILL to the dockerd process only — never its process group or cgroup, so
//! containerd and the shims live on, as after a crash — then, by default, start it again.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::Deadlines;
use super::{ActionKind, READY_DEADLINE};
use crate::units::HumanDuration;

/// Arguments of `daemon_kill`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonKill {
    /// Start the daemon again afterwards (default true). When false it stays down until a later
    /// `daemon_restart` or the end of the iteration, where healing starts it.
    #[serde(default = "yes")]
    pub restart: bool,
    /// How long it stays down before the restart.
    #[serde(default)]
    pub down_for: Option<HumanDuration>,
    /// SIGKILL the containerd dockerd started too, just before dockerd (default false): both die
    /// at once and leave their state behind (pid files, sockets, shim state), which the
    /// restarted daemon must cope with. The restart then also counts the iteration's containers
    /// the daemon lists before and after (`containers_before`, `containers_after`; names that
    /// vanished in the `containers_missing` fact).
    #[serde(default)]
    pub containerd: bool,
}

fn yes() -> bool {
    true
}

impl ActionKind for DaemonKill {
    const NAME: &'static str = "daemon_kill";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        READY_DEADLINE
            + Duration::from_secs(30)
            + self.down_for.map(|d| d.get()).unwrap_or_default()
    }
}
