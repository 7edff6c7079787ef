//! `daemon_oom`: dockerd killed by the kernel's OOM killer. The harness makes a memory cgroup of
//! its own (named with the run id; journaled, with dockerd's original cgroup, before it exists),
//! moves dockerd into it, bounds its memory to `memory`, and makes dockerd allocate past that (a
//! create call with a body of `flood` bytes, which dockerd reads whole and refuses afterwards for
//! its invalid name) until the kernel kills it. The cgroup's `oom_kill` counter is read into the
//! `oom_kills` measure, the cgroup removed, and dockerd started again as after `daemon_kill`.
//!
//! A separate action, not a field of `daemon_limits`: a limit is set and set back on a process
//! that lives on, an OOM kill ends the process and restarts the daemon.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::Deadlines;
use super::{ActionKind, READY_DEADLINE};
use crate::units::{ByteSize, HumanDuration};

/// Arguments of `daemon_oom`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonOom {
    /// The cgroup's memory limit (what dockerd may allocate after the move; default 32MiB).
    #[serde(default = "memory")]
    pub memory: ByteSize,
    /// The body of the create call that makes dockerd allocate (default 64MiB).
    #[serde(default = "flood")]
    pub flood: ByteSize,
    /// How long dockerd sits bounded in the cgroup before the allocation is driven.
    #[serde(default)]
    pub hold: Option<HumanDuration>,
    /// Start the daemon again afterwards (default true).
    #[serde(default = "yes")]
    pub restart: bool,
}

fn memory() -> ByteSize {
    ByteSize(32 << 20)
}

fn flood() -> ByteSize {
    ByteSize(64 << 20)
}

fn yes() -> bool {
    true
}

impl ActionKind for DaemonOom {
    const NAME: &'static str = "daemon_oom";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn problems(&self) -> Vec<String> {
        let mut p = vec![];
        if self.memory.bytes() < 4 << 20 {
            p.push("daemon_oom: `memory` must be at least 4MiB".into());
        }
        if self.flood.bytes() <= self.memory.bytes() {
            p.push("daemon_oom: `flood` must be larger than `memory`".into());
        }
        p
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        READY_DEADLINE + Duration::from_secs(60) + self.hold.map(|d| d.get()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_exceeds_the_limit() {
        let oom = |y: &str| serde_saphyr::from_str::<DaemonOom>(y).unwrap();
        assert!(oom("{}").problems().is_empty());
        assert!(oom("{memory: 64MiB, flood: 512MiB}").problems().is_empty());
        assert_eq!(oom("{memory: 64MiB, flood: 32MiB}").problems().len(), 1);
        assert_eq!(oom("{memory: 1MiB}").problems().len(), 1);
    }
}
