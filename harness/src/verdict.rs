//! Verdicts: a pure function of the plan and the run record. No Docker, no clock: a saved record can be
//! judged again later and gives the same answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::{ScenarioRecord, StepOutcome};
use crate::scenario::PlannedScenario;

/// The outcome of a check or a scenario (Jepsen's valid / invalid / unknown).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Held.
    Pass,
    /// Did not hold.
    Fail,
    /// Could not be decided (the step did not run, or the run was interrupted).
    Unknown,
}

impl Outcome {
    /// Upper-case label for terminals.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Unknown => "UNKNOWN",
        }
    }
}

/// One expectation checked in one iteration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Check {
    /// 0-based iteration.
    pub iteration: u32,
    /// 0-based step index.
    pub step: usize,
    /// Step label.
    pub step_label: String,
    /// Expectation kind (`exit_code`, `duration`, `measures.time_to_oom`, ...).
    pub expectation: String,
    /// Expected value as written.
    pub expected: String,
    /// Observed value.
    pub observed: String,
    /// Result.
    pub outcome: Outcome,
}

impl Check {
    /// One line: `step 'stop web': exit_code: expected 137, observed 0`.
    pub fn message(&self) -> String {
        format!(
            "step '{}'{}: {}: expected {}, observed {}",
            self.step_label,
            if self.iteration > 0 {
                format!(" (iteration {})", self.iteration + 1)
            } else {
                String::new()
            },
            self.expectation,
            self.expected,
            self.observed
        )
    }
}

/// Statistics of one measure over iterations.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MeasureStats {
    /// Step label.
    pub step: String,
    /// Measure name.
    pub measure: String,
    /// Unit of the values.
    pub unit: String,
    /// `monotonic` or `daemon`.
    pub source: String,
    /// Number of values.
    pub count: usize,
    /// Smallest value.
    pub min: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// The verdict on one scenario.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioVerdict {
    /// Scenario name.
    pub name: String,
    /// Pass only when every check passed and every step completed.
    pub outcome: Outcome,
    /// Every check of every iteration.
    pub checks: Vec<Check>,
    /// Step errors and scenario errors, as messages.
    pub errors: Vec<String>,
    /// Per-measure statistics over iterations.
    pub stats: Vec<MeasureStats>,
}

impl ScenarioVerdict {
    /// Messages for everything that did not pass: failed checks first, then undecided ones, then
    /// errors.
    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(Check::message)
            .collect();
        out.extend(
            self.checks
                .iter()
                .filter(|c| c.outcome == Outcome::Unknown)
                .map(|c| format!("{} (unknown)", c.message())),
        );
        out.extend(self.errors.iter().cloned());
        out
    }
}

/// Judges one scenario's record against its plan.
pub fn judge(plan: &PlannedScenario, rec: &ScenarioRecord) -> ScenarioVerdict {
    let mut checks = Vec::new();
    let mut errors = Vec::new();
    if let Some(e) = &rec.error {
        errors.push(e.clone());
    }
    for it in &rec.iterations {
        for step in &it.steps {
            let iter_note = if it.index > 0 {
                format!(" (iteration {})", it.index + 1)
            } else {
                String::new()
            };
            let bundle = step
                .forensics
                .as_ref()
                .map(|p| format!(" (forensics: {})", p.display()))
                .unwrap_or_default();
            match &step.outcome {
                StepOutcome::Error { message, .. } => errors.push(format!(
                    "step '{}'{iter_note} failed: {message}{bundle}",
                    step.label
                )),
                StepOutcome::DeadlineExceeded { deadline } => errors.push(format!(
                    "step '{}'{iter_note} exceeded its deadline of {}{bundle}",
                    step.label,
                    crate::units::format_duration(*deadline)
                )),
                StepOutcome::Ok | StepOutcome::Skipped | StepOutcome::Interrupted => {}
            }
            let Some(expect) = plan
                .scenario
                .steps
                .get(step.index)
                .and_then(|s| s.expect.as_ref())
            else {
                continue;
            };
            let events: Vec<_> = it.step_events(step).collect();
            let earlier: Vec<_> = it.steps.iter().filter(|s| s.index < step.index).collect();
            for r in expect.check(step, &events, &earlier, it) {
                checks.push(Check {
                    iteration: it.index,
                    step: step.index,
                    step_label: step.label.clone(),
                    expectation: r.expectation,
                    expected: r.expected,
                    observed: r.observed,
                    outcome: r.outcome,
                });
            }
        }
    }
    let outcome = if rec.interrupted {
        Outcome::Unknown
    } else if !errors.is_empty() || checks.iter().any(|c| c.outcome == Outcome::Fail) {
        Outcome::Fail
    } else if rec.iterations.is_empty() || checks.iter().any(|c| c.outcome == Outcome::Unknown) {
        // A check that could not be decided never passes: the scenario is unknown (and the run
        // does not succeed).
        Outcome::Unknown
    } else {
        Outcome::Pass
    };
    ScenarioVerdict {
        name: rec.name.clone(),
        outcome,
        checks,
        errors,
        stats: stats(rec),
    }
}

/// Per (step, measure) statistics over all iterations, in step order.
pub fn stats(rec: &ScenarioRecord) -> Vec<MeasureStats> {
    // (step index, measure) → (step label, unit, source, values)
    type Group = (String, String, String, Vec<f64>);
    let mut groups: BTreeMap<(usize, String), Group> = BTreeMap::new();
    for it in &rec.iterations {
        for step in &it.steps {
            for m in &step.measures {
                groups
                    .entry((step.index, m.name.clone()))
                    .or_insert_with(|| {
                        (step.label.clone(), m.unit.clone(), m.source.clone(), vec![])
                    })
                    .3
                    .push(m.value);
            }
        }
    }
    groups
        .into_iter()
        .map(|((_, measure), (step, unit, source, mut v))| {
            v.sort_by(f64::total_cmp);
            MeasureStats {
                step,
                measure,
                unit,
                source,
                count: v.len(),
                min: v[0],
                p50: percentile(&v, 50.0),
                p95: percentile(&v, 95.0),
                max: v[v.len() - 1],
                mean: v.iter().sum::<f64>() / v.len() as f64,
            }
        })
        .collect()
}

/// Nearest-rank percentile of sorted, non-empty values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(percentile(&v, 95.0), 19.0);
        assert_eq!(percentile(&v, 100.0), 20.0);
        assert_eq!(percentile(&[3.0], 95.0), 3.0);
    }
}
