//! `daemon_restart`: graceful restart of dockerd — SIGTERM, wait for it to exit within a deadline,
//! start it again on the same roots with the same or changed options (e.g. turning live-restore off).
//! The field reports: with `--live-restore` containers keep running with the same PID; without it
//! they stop; the API must come back fast (moby#31997, #32640).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::Deadlines;
use super::{ActionKind, READY_DEADLINE, STOP_DEADLINE};
use crate::units::HumanDuration;

/// Arguments of `daemon_restart`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonRestart {
    /// Start again with live-restore on or off (default: as before).
    #[serde(default)]
    pub live_restore: Option<bool>,
    /// How long the daemon stays down between stop and start (default: no pause).
    #[serde(default)]
    pub down_for: Option<HumanDuration>,
    /// Restart this many times in a row (a restart storm); measures are taken for each.
    #[serde(default)]
    pub count: Option<u32>,
}

impl ActionKind for DaemonRestart {
    const NAME: &'static str = "daemon_restart";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn problems(&self) -> Vec<String> {
        match self.count {
            Some(0) => vec!["daemon_restart: count must be at least 1".into()],
            _ => vec![],
        }
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        let per =
            STOP_DEADLINE + READY_DEADLINE + self.down_for.map(|d| d.get()).unwrap_or_default();
        per * self.count.unwrap_or(1)
    }
}
