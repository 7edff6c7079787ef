//! `kill_process`: kill a container's PID 1 from the host, as the kernel's OOM killer or an operator
//! would — not through the daemon, which therefore learns about it only from the runtime. The
//! process is the one the harness holds by pidfd since it last observed the container running, and
//! it is checked to still be in the container's cgroup: this works while dockerd is down, and a
//! recycled PID is never signalled.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;

/// Arguments of `kill_process`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KillProcess {
    /// The container's name in the scenario.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Signal (default SIGKILL).
    #[serde(default)]
    pub signal: Option<String>,
}

impl ActionKind for KillProcess {
    const NAME: &'static str = "kill_process";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn problems(&self) -> Vec<String> {
        crate::signal::problem_or_zero(Self::NAME, &self.signal)
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
