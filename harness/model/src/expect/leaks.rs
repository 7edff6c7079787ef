//! `leaks`: what `check_leaks` found. `none` requires every kind to be empty; a list of kinds
//! (`[veth, netns]`) requires each to have been found — a scenario that shows the detector fires.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Kinds of leaks.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LeakKind {
    /// Host veth interfaces.
    Veth,
    /// Ports of the engine's bridge.
    BridgePort,
    /// Network namespaces pinned by nsfs mounts.
    Netns,
    /// overlay/shm mounts under the daemon's directories.
    Mount,
    /// containerd shims in the daemon's namespace.
    Shim,
    /// Container cgroups.
    Cgroup,
}

impl LeakKind {
    /// The name as written in scenarios.
    pub fn as_str(self) -> &'static str {
        match self {
            LeakKind::Veth => "veth",
            LeakKind::BridgePort => "bridge_port",
            LeakKind::Netns => "netns",
            LeakKind::Mount => "mount",
            LeakKind::Shim => "shim",
            LeakKind::Cgroup => "cgroup",
        }
    }
}

/// The word `none`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NoLeaks {
    /// Nothing may be left.
    None,
}

/// `none`, or the kinds that must be found.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum Leaks {
    /// `leaks: none`.
    None(NoLeaks),
    /// `leaks: [veth, netns]`.
    Found(Vec<LeakKind>),
}
