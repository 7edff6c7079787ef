//! `daemon_freeze`: SIGSTOP dockerd — the "docker ps never answers" hang. While it is frozen the
//! harness probes the API with a short deadline, notices the hang, writes a forensics bundle (thread
//! stacks and states now; the SIGUSR1 goroutine dump, which a stopped process can only write once it
//! runs again, right after the thaw), then SIGCONT and measures how fast the API is back.
//! Without `duration` the daemon stays frozen until `daemon_thaw` or the end of the iteration.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;
use crate::units::HumanDuration;

/// Arguments of `daemon_freeze`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonFreeze {
    /// How long the daemon stays frozen; without it, it stays frozen after the step.
    #[serde(default)]
    pub duration: Option<HumanDuration>,
    /// Deadline of each API probe during the freeze (default 2s): the hang is reported within it.
    #[serde(default)]
    pub api_deadline: Option<HumanDuration>,
}

impl ActionKind for DaemonFreeze {
    const NAME: &'static str = "daemon_freeze";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        self.duration.map(|d| d.get()).unwrap_or_default() + Duration::from_secs(120)
    }
}
