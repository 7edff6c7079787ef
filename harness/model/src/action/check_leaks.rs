//! `check_leaks`: compare the host with the snapshot taken when the iteration began — veths, ports
//! of the engine's bridge, pinned network namespaces, the daemon's overlay/shm mounts, shims, container
//! cgroups — and report what appeared and is still there: the daemon's own objects by default, the
//! whole host with `scope: host`. The kernel frees devices asynchronously, so it polls until nothing
//! is left or `settle` passes. Measures `leaked_<kind>` (counts) and records the names per kind (or
//! why a kind could not be read); `leaks: none` or `leaks: [veth, ...]` judge them.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;
use crate::units::HumanDuration;

/// What leak detection compares.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LeakScope {
    /// Only the daemon's own objects (default): other runs and daemons on the host do not count.
    #[default]
    Daemon,
    /// Everything on the host: anything another daemon or run creates meanwhile counts too.
    Host,
}

/// Arguments of `check_leaks`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckLeaks {
    /// How long to wait for the host to settle before calling what remains a leak (default 10s).
    #[serde(default)]
    pub settle: Option<HumanDuration>,
    /// `daemon` (default) or `host`. The iteration's baseline is taken with the same scope.
    #[serde(default)]
    pub scope: LeakScope,
}

impl ActionKind for CheckLeaks {
    const NAME: &'static str = "check_leaks";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        self.settle
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(10))
            + Duration::from_secs(30)
    }
}
