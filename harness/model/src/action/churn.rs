//! `churn`: N create/start/stop/remove cycles of copies of a scenario container, C at a time, with
//! networking on — the load under which kernels leak network devices (`unregister_netdevice`).
//! Measures every phase of every cycle (`create`, `start`, `stop`, `remove`), so the report shows
//! their percentiles, and `cycles_per_second`.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;

/// Arguments of `churn`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// The scenario container to copy.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Number of cycles.
    pub cycles: u32,
    /// Cycles in flight at once (default 1).
    #[serde(default)]
    pub concurrency: Option<u32>,
}

impl ActionKind for Churn {
    const NAME: &'static str = "churn";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn problems(&self) -> Vec<String> {
        let mut p = vec![];
        if self.cycles == 0 {
            p.push("churn: cycles must be at least 1".to_string());
        }
        if self.concurrency == Some(0) {
            p.push("churn: concurrency must be at least 1".to_string());
        }
        p
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(60) + Duration::from_secs(5) * self.cycles
    }
}
