//! Reports: consumers of the run record and the verdicts. None of them touches Docker.

pub mod html;
pub mod json;
pub mod junit;
pub mod progress;
pub mod qualify;
pub mod terminal;

use serde::{Deserialize, Serialize};

use crate::record::RunRecord;
use crate::verdict::{Outcome, ScenarioVerdict};

/// Everything a report needs: the record and the verdicts, saved together as the JSON report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// The harness version that ran.
    pub shakedown_version: String,
    /// Counts by outcome.
    pub summary: Summary,
    /// Verdicts, one per scenario, in run order.
    pub verdicts: Vec<ScenarioVerdict>,
    /// The run record: every step, measure and event.
    pub run: RunRecord,
}

/// Counts of scenarios by outcome.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios without a decision (interrupted, not run).
    pub unknown: usize,
}

impl Report {
    /// Builds the report from a record and its verdicts.
    pub fn new(run: RunRecord, verdicts: Vec<ScenarioVerdict>) -> Self {
        let mut summary = Summary::default();
        for v in &verdicts {
            match v.outcome {
                Outcome::Pass => summary.passed += 1,
                Outcome::Fail => summary.failed += 1,
                Outcome::Unknown => summary.unknown += 1,
            }
        }
        Report {
            shakedown_version: env!("CARGO_PKG_VERSION").into(),
            summary,
            verdicts,
            run,
        }
    }
}
