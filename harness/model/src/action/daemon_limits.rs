//! `daemon_limits`: lower dockerd's or containerd's limit of open files (`RLIMIT_NOFILE`) or of
//! processes (`RLIMIT_NPROC`) on the live process — a busy host's daemon out of file descriptors,
//! a low `LimitNPROC` inherited by every shim and container started after it. The old limit is journaled first and set back on
//! that very process (by pid and start time) when the step's `duration` ends, else at the end of
//! the iteration. The limit is given as a number of descriptors (`nofile`), or as how many more
//! than dockerd holds open at that moment (`free_fds`), which fails its next few opens whatever
//! its version keeps open. `restore: true` sets back what an earlier `daemon_limits` of the
//! iteration lowered.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;
use crate::units::HumanDuration;

/// The daemon process whose limits `daemon_limits` lowers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DaemonProcess {
    /// dockerd itself.
    #[default]
    Dockerd,
    /// The containerd dockerd started (its child): the shims it starts inherit its limits.
    Containerd,
}

impl DaemonProcess {
    /// Its process name.
    pub fn name(self) -> &'static str {
        match self {
            DaemonProcess::Dockerd => "dockerd",
            DaemonProcess::Containerd => "containerd",
        }
    }
}

/// Arguments of `daemon_limits`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonLimits {
    /// Whose limits: `dockerd` (default) or `containerd`.
    #[serde(default)]
    pub process: DaemonProcess,
    /// dockerd's new soft limit of open files.
    #[serde(default)]
    pub nofile: Option<u64>,
    /// The new soft limit as the descriptors dockerd holds open now plus this many.
    #[serde(default)]
    pub free_fds: Option<u64>,
    /// The new soft limit of processes (`RLIMIT_NPROC`): what the process forks after it
    /// inherits it, and a child running as a user other than root cannot fork past it.
    #[serde(default)]
    pub nproc: Option<u64>,
    /// How long the limit holds; without it, until `restore` or the end of the iteration.
    #[serde(default)]
    pub duration: Option<HumanDuration>,
    /// Set back the limit an earlier `daemon_limits` of this iteration lowered.
    #[serde(default)]
    pub restore: bool,
}

impl DaemonLimits {
    /// The soft limit to set, given the descriptors dockerd holds open now.
    pub fn soft_limit(&self, open: u64) -> u64 {
        match (self.nofile, self.free_fds) {
            (Some(n), _) => n,
            (None, Some(free)) => open.saturating_add(free),
            (None, None) => open,
        }
    }

    /// Whether an open-files limit is asked for.
    pub fn lowers_nofile(&self) -> bool {
        self.nofile.is_some() || self.free_fds.is_some()
    }
}

impl ActionKind for DaemonLimits {
    const NAME: &'static str = "daemon_limits";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn problems(&self) -> Vec<String> {
        if self.restore {
            return if self.nofile.is_some()
                || self.free_fds.is_some()
                || self.nproc.is_some()
                || self.duration.is_some()
            {
                vec!["daemon_limits: `restore` takes no other argument".into()]
            } else {
                vec![]
            };
        }
        match (self.nofile, self.free_fds, self.nproc) {
            (None, None, None) => vec![
                "daemon_limits: give `nofile`, `free_fds` or `nproc` (or `restore: true`)".into(),
            ],
            (Some(_), Some(_), _) => {
                vec!["daemon_limits: give at most one of `nofile` and `free_fds`".into()]
            }
            (Some(0), _, _) => vec!["daemon_limits: `nofile` must be at least 1".into()],
            _ => vec![],
        }
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        self.duration.map(|d| d.get()).unwrap_or_default() + Duration::from_secs(30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(yaml: &str) -> DaemonLimits {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn exactly_one_limit_or_a_restore() {
        assert!(limits("{nofile: 64}").problems().is_empty());
        assert!(limits("{free_fds: 2, duration: 3s}").problems().is_empty());
        assert!(limits("{restore: true}").problems().is_empty());
        assert!(limits("{process: containerd, nproc: 1}")
            .problems()
            .is_empty());
        assert!(limits("{nproc: 0, free_fds: 2}").problems().is_empty());
        for bad in [
            "{}",
            "{nofile: 64, free_fds: 2}",
            "{nofile: 0}",
            "{restore: true, nofile: 64}",
            "{restore: true, duration: 1s}",
            "{restore: true, nproc: 1}",
            "{process: containerd}",
        ] {
            assert_eq!(limits(bad).problems().len(), 1, "{bad}");
        }
    }

    #[test]
    fn the_new_limit_counts_from_what_is_open() {
        assert_eq!(limits("{free_fds: 2}").soft_limit(40), 42);
        assert_eq!(limits("{nofile: 64}").soft_limit(40), 64);
    }
}
