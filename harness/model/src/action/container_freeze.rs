//! `container_freeze`: freeze a container's cgroup from the host, behind the daemon's back (the
//! cgroup freezer: `freezer.state` on cgroup v1, `cgroup.freeze` on v2) — a process that does not
//! run and, on cgroup v1, does not even die of SIGKILL until thawed: the container that does not
//! stop. Recorded in the ledger before it is made (undo: thaw) and thawed when the iteration ends
//! at the latest. Records what the kernel then says: the freezer's state, and PID 1's state
//! letter and wait channel (`/proc/PID/stat`, `/proc/PID/wchan`).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;

/// Arguments of `container_freeze`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerFreeze {
    /// The container's name in the scenario (it must be running).
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Freeze a child cgroup the harness creates inside the container's and moves its
    /// processes into, instead of the container's own (cgroup v1 only; default false). The runtime then
    /// sees its container thawed: runc's thaw before SIGKILL does not reach the process, so
    /// `docker stop` cannot complete — the frozen container of the field report.
    #[serde(default)]
    pub nested: bool,
}

impl ActionKind for ContainerFreeze {
    const NAME: &'static str = "container_freeze";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
