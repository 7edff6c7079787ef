//! Scenarios: the YAML a user writes (`raw` types, parsed strictly), checked as a whole (`validate`), and
//! turned into a [`Plan`] that the runner executes without further reading or guessing.
//!
//! Data flows one way: scenario file → [`Scenario`] → [`PlannedScenario`] → run record → verdicts → reports.

mod load;
mod model;

pub use load::{discover, load_file, load_str, plan};
pub use model::*;

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

    /// A readable label for a step: its `name`, or `<action> <container>`.
    pub fn step_label(&self, index: usize) -> String {
        let step = &self.scenario.steps[index];
        match &step.name {
            Some(n) => n.clone(),
            None => step.action.describe(),
        }
    }
}
