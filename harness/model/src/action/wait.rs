//! `wait`: wait until the container exits (by itself, by the OOM killer, by a signal).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::{ContainerRef, Deadlines};
use crate::record::{EventRecord, Measure};

/// Arguments of `wait`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Wait(pub ContainerRef);

impl ActionKind for Wait {
    const NAME: &'static str = "wait";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(120)
    }

    fn daemon_measures(&self, step: &[&EventRecord], all: &[EventRecord]) -> Vec<Measure> {
        // The container's last start before it died, wherever in the iteration that start was.
        let Some(die) = step.iter().find(|e| e.action == "die") else {
            return vec![];
        };
        let Some(start) = all.iter().rev().find(|e| {
            e.action == "start" && e.container == die.container && e.time_nano <= die.time_nano
        }) else {
            return vec![];
        };
        let mut out = vec![Measure::daemon("run_time", die.time_nano - start.time_nano)];
        if let Some(oom) = step.iter().find(|e| e.action == "oom") {
            out.push(Measure::daemon(
                "time_to_oom",
                oom.time_nano - start.time_nano,
            ));
        }
        out
    }
}
