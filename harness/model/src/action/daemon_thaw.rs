//! `daemon_thaw`: SIGCONT to a dockerd frozen by `daemon_freeze` without a duration; measures how
//! fast the API answers again.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;

/// Arguments of `daemon_thaw` (none: `daemon_thaw: {}`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonThaw {}

impl ActionKind for DaemonThaw {
    const NAME: &'static str = "daemon_thaw";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(60)
    }
}
