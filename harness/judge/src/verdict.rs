//! Verdicts: a pure function of the plan and the run record. No Docker, no clock: a saved record can be
//! judged again later and gives the same answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::outcome::Outcome;
use crate::record::{ScenarioRecord, StepOutcome};
use crate::scenario::PlannedScenario;

/// One expectation checked in one iteration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
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
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
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
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Why the scenario was skipped (outcome `skipped`), e.g. "needs cgroup v1; the daemon runs
    /// cgroup v2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
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
    // Not run, by the journal's own account: skipped (the daemon cannot have what it requires),
    // or undecided (whether it can could not be told: unknown, never skipped). A journal that
    // says so and also has the scenario running is not believed either way: unknown.
    if rec.skipped.is_some() || rec.undecided.is_some() {
        let ran = !rec.iterations.is_empty() || rec.interrupted;
        let (outcome, errors, skipped) = match (&rec.skipped, &rec.undecided) {
            (Some(reason), None) if !ran => (Outcome::Skipped, vec![], Some(reason.clone())),
            (None, Some(reason)) if !ran => {
                (Outcome::Unknown, vec![format!("not run: {reason}")], None)
            }
            _ => (
                Outcome::Unknown,
                vec!["the journal has the scenario both not run and running".to_string()],
                None,
            ),
        };
        return ScenarioVerdict {
            name: rec.name.clone(),
            outcome,
            checks: vec![],
            errors,
            stats: vec![],
            skipped,
        };
    }
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
            let expects_error = plan
                .scenario
                .steps
                .get(step.index)
                .and_then(|s| s.expect.as_ref())
                .and_then(|e| e.error.as_ref())
                .is_some_and(|e| e.expects(&step.outcome));
            match &step.outcome {
                // An action that had to fail (or hang): its `error` check judges it.
                _ if expects_error => {}
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
            for r in crate::check::check(expect, step, &events, &earlier, it) {
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
        skipped: None,
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

pub use crate::stats::percentile;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{IterationRecord, StepRecord};
    use std::time::Duration;

    fn plan() -> PlannedScenario {
        let yaml = "name: t\ncontainers:\n  web: {}\nsteps:\n  - action: {start: {container: web}}\n  - action: {stop: {container: web}}\n    expect: {exit_code: 143, duration: {max: 2s}}\n";
        PlannedScenario {
            file: "t.yaml".into(),
            scenario: crate::scenario::load_str(yaml, std::path::Path::new("t.yaml")).unwrap(),
            repeat: 1,
        }
    }

    fn step(index: usize, outcome: StepOutcome, exit: i64, secs: f64) -> StepRecord {
        let mut s = crate::check::testutil::step(crate::check::testutil::exited(exit, false), secs);
        s.index = index;
        s.label = format!("step {index}");
        s.outcome = outcome;
        s
    }

    fn record(steps: Vec<StepRecord>) -> ScenarioRecord {
        ScenarioRecord {
            name: "t".into(),
            iterations: vec![IterationRecord {
                steps,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn pass_fail_and_unknown() {
        let p = plan();
        let ok = record(vec![
            step(0, StepOutcome::Ok, 0, 0.2),
            step(1, StepOutcome::Ok, 143, 0.1),
        ]);
        assert_eq!(judge(&p, &ok).outcome, Outcome::Pass);
        // A wrong exit code fails, naming expected and observed.
        let wrong = record(vec![
            step(0, StepOutcome::Ok, 0, 0.2),
            step(1, StepOutcome::Ok, 137, 0.1),
        ]);
        let v = judge(&p, &wrong);
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(
            v.failures(),
            vec!["step 'step 1': exit_code: expected 143, observed 137"]
        );
        // A step that did not finish leaves its checks unknown, and an error fails the scenario.
        let cut = record(vec![
            step(0, StepOutcome::Ok, 0, 0.2),
            step(
                1,
                StepOutcome::DeadlineExceeded {
                    deadline: Duration::from_secs(3),
                },
                0,
                3.0,
            ),
        ]);
        let v = judge(&p, &cut);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.checks.iter().all(|c| c.outcome == Outcome::Unknown));
        assert!(
            v.errors[0].contains("exceeded its deadline of 3s"),
            "{:?}",
            v.errors
        );
        // Interrupted, or never run: unknown, whatever the checks say.
        let mut interrupted = ok.clone();
        interrupted.interrupted = true;
        assert_eq!(judge(&p, &interrupted).outcome, Outcome::Unknown);
        let never = ScenarioRecord {
            name: "t".into(),
            ..Default::default()
        };
        assert_eq!(judge(&p, &never).outcome, Outcome::Unknown);
    }

    #[test]
    fn an_unknown_check_never_passes_the_scenario() {
        let p = plan();
        let mut r = record(vec![
            step(0, StepOutcome::Ok, 0, 0.2),
            step(1, StepOutcome::Ok, 143, 0.1),
        ]);
        // The observation is missing: exit_code cannot be decided.
        r.iterations[0].steps[1].observation = None;
        let v = judge(&p, &r);
        assert!(v.checks.iter().any(|c| c.outcome == Outcome::Unknown));
        assert_eq!(v.outcome, Outcome::Unknown);
        assert!(v.failures()[0].ends_with("(unknown)"), "{:?}", v.failures());
    }

    #[test]
    fn a_scenario_not_run_is_skipped_or_unknown_as_the_journal_says() {
        let p = plan();
        let skipped = ScenarioRecord {
            name: "t".into(),
            skipped: Some("needs cgroup v1; the daemon runs cgroup v2".into()),
            ..Default::default()
        };
        let v = judge(&p, &skipped);
        assert_eq!((v.outcome, v.outcome.label()), (Outcome::Skipped, "SKIP"));
        assert!(v.outcome.is_ok() && v.failures().is_empty());
        assert_eq!(
            v.skipped.as_deref(),
            Some("needs cgroup v1; the daemon runs cgroup v2")
        );
        // Undecided (the version could not be read): unknown, with the reason, never skipped.
        let undecided = ScenarioRecord {
            name: "t".into(),
            undecided: Some("needs cgroup v1, and no answer".into()),
            ..Default::default()
        };
        let v = judge(&p, &undecided);
        assert_eq!(v.outcome, Outcome::Unknown);
        assert!(!v.outcome.is_ok() && v.skipped.is_none());
        assert_eq!(
            v.failures(),
            vec!["not run: needs cgroup v1, and no answer"]
        );
        // A journal that has the scenario skipped and running too is believed neither way.
        let mut both = record(vec![
            step(0, StepOutcome::Ok, 0, 0.2),
            step(1, StepOutcome::Ok, 143, 0.1),
        ]);
        both.skipped = skipped.skipped.clone();
        assert_eq!(judge(&p, &both).outcome, Outcome::Unknown);
        let interrupted = ScenarioRecord {
            interrupted: true,
            ..skipped
        };
        assert_eq!(judge(&p, &interrupted).outcome, Outcome::Unknown);
        // The serialised name.
        assert_eq!(
            serde_json::to_value(Outcome::Skipped).unwrap(),
            serde_json::json!("skipped")
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(percentile(&v, 95.0), 19.0);
        assert_eq!(percentile(&v, 100.0), 20.0);
        assert_eq!(percentile(&[3.0], 95.0), 3.0);
    }
}
