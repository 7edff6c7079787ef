//! Scenarios: the YAML a user writes (`raw` types, parsed strictly), checked as a whole (`validate`), and
//! turned into a [`Plan`] that the runner executes without further reading or guessing.
//!
//! Data flows one way: scenario file → [`Scenario`] → [`PlannedScenario`] → run record → verdicts → reports.

pub mod data_root;
mod load;
mod model;
mod params;
pub mod settings;

pub use data_root::{DataRoot, FsType};
pub use load::{load_str, load_variants, plan_texts};
pub use model::*;
pub use params::{expand, PosMap, Variant};

use std::path::PathBuf;

/// A validated scenario, ready to run: everything the runner needs, resolved, with no I/O left to do.
#[derive(Clone, Debug)]
pub struct PlannedScenario {
    /// The file it came from (or a name given by the caller for in-memory text).
    pub file: PathBuf,
    /// The scenario as written, validated.
    pub scenario: Scenario,
    /// How many times the steps run (scenario `repeat`, or the CLI's `--repeat`).
    pub repeat: u32,
}

impl PlannedScenario {
    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.scenario.name
    }

    /// Why the scenario must run alone, if it must: it says so, or one of its checks reads the whole
    /// host (leaks with `scope: host`, kernel-log lines not tied to one of its containers), where
    /// scenarios running beside it would be seen.
    pub fn exclusive(&self) -> Option<&'static str> {
        if self.scenario.requires.exclusive {
            return Some("it requires exclusive: true");
        }
        for step in &self.scenario.steps {
            if let crate::action::Action::CheckLeaks(c) = &step.action {
                if c.scope == crate::action::LeakScope::Host {
                    return Some("it checks leaks on the whole host");
                }
            }
            if step
                .expect
                .as_ref()
                .and_then(|e| e.kernel_log.as_ref())
                .is_some_and(|k| k.container.is_none())
            {
                return Some("it checks kernel-log lines of any container");
            }
        }
        None
    }

    /// A readable label for a step: its `name`, or `<action> <container>`.
    pub fn step_label(&self, index: usize) -> String {
        let step = &self.scenario.steps[index];
        match &step.name {
            Some(n) => n.value.clone(),
            None => step.action.describe(),
        }
    }
}
