//! The comparison of two sides, a pure function of their folded journals: per scenario, the
//! verdicts of every round on each side, and for every timing both sides measured, the ratio of
//! medians with its bootstrap interval against a threshold and an absolute floor.
//!
//! Per scenario: `same`, `fixed` (fails on the baseline, passes on the candidate), `better` (a
//! timing faster beyond doubt), `regression` (a timing slower beyond doubt), `broken` (passes on
//! the baseline, fails on the candidate) or `unknown` (a side could not decide). A scenario skipped
//! on both sides (the daemons cannot have what it requires) is `not-compared`; skipped on one side
//! only it is `one-sided`, a difference that fails the qualification.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::record::{Fingerprint, RunRecord, ScenarioRecord};
use crate::scenario::PlannedScenario;
use crate::scenario::Thresholds;
use crate::verdict::{self, Outcome};

/// Bootstrap resamples for each interval.
pub(crate) const RESAMPLES: usize = 2000;
pub use crate::stopping::LEVEL;
/// Values each side needs for a timing to be compared.
pub(crate) const MIN_VALUES: usize = 3;

/// The comparison's verdict on a scenario (serialised as its label).
#[derive(
    Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// No change beyond doubt.
    Same,
    /// Failed on the baseline, passes on the candidate.
    Fixed,
    /// A timing is faster beyond doubt.
    Better,
    /// A timing is slower beyond doubt.
    Regression,
    /// Passed on the baseline, fails on the candidate.
    Broken,
    /// A side could not decide (interrupted, a check that could not be decided).
    Unknown,
    /// Skipped on both sides (neither daemon can have what it requires): nothing to compare.
    NotCompared,
    /// Skipped on one side only: the sides differ in what they can run.
    OneSided,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 8] = [
        Kind::Same,
        Kind::Fixed,
        Kind::Better,
        Kind::Regression,
        Kind::Broken,
        Kind::Unknown,
        Kind::NotCompared,
        Kind::OneSided,
    ];

    /// Name as printed.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Same => "same",
            Kind::Fixed => "fixed",
            Kind::Better => "better",
            Kind::Regression => "regression",
            Kind::Broken => "broken",
            Kind::Unknown => "unknown",
            Kind::NotCompared => "not-compared",
            Kind::OneSided => "one-sided",
        }
    }

    /// Whether this fails a qualification (exit code 1).
    pub fn fails(self) -> bool {
        matches!(
            self,
            Kind::Regression | Kind::Broken | Kind::Unknown | Kind::OneSided
        )
    }
}

/// A timing's change.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Within noise, the threshold or the floor.
    Same,
    /// Faster beyond doubt.
    Better,
    /// Slower beyond doubt.
    Worse,
}

/// One timing on both sides.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct MeasureComparison {
    /// Step label.
    pub step: String,
    /// Measure name.
    pub measure: String,
    /// `monotonic` or `daemon`.
    pub source: String,
    /// The baseline's values, seconds.
    pub baseline: Vec<f64>,
    /// The candidate's values, seconds.
    pub candidate: Vec<f64>,
    /// Baseline median.
    pub baseline_median: f64,
    /// Candidate median.
    pub candidate_median: f64,
    /// Candidate median / baseline median.
    pub ratio: f64,
    /// The ratio's bootstrap interval at `level`.
    pub interval: (f64, f64),
    /// The interval's confidence level (0.95 with fixed rounds; stricter with `--repeat auto`).
    #[serde(default = "crate::stopping::fixed_level")]
    pub level: f64,
    /// The relative threshold applied.
    pub threshold: f64,
    /// The absolute floor applied, seconds.
    pub floor: f64,
    /// The change.
    pub change: Change,
}

/// One side's results for a scenario.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SideResult {
    /// Pass, fail or unknown over all rounds (fail if any round failed); skipped when every
    /// round skipped it (skipped in some rounds only: unknown).
    pub outcome: Outcome,
    /// Rounds that passed.
    pub passed: usize,
    /// Rounds run.
    pub rounds: usize,
    /// The first failures, as the terminal report prints them.
    pub failures: Vec<String>,
    /// Forensics bundles written.
    pub forensics: Vec<PathBuf>,
    /// Why it was skipped, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// One scenario on both sides.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ScenarioComparison {
    /// Scenario name.
    pub name: String,
    /// The comparison's verdict.
    pub kind: Kind,
    /// The baseline's results.
    pub baseline: SideResult,
    /// The candidate's results.
    pub candidate: SideResult,
    /// Every timing both sides measured.
    pub measures: Vec<MeasureComparison>,
    /// With `--repeat auto`: the rounds it took and why it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<crate::stopping::Stopped>,
}

/// A side as the report shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SideSummary {
    /// As written.
    pub spec: String,
    /// Its engine and host.
    pub fingerprint: Fingerprint,
    /// Runs compared.
    pub rounds: usize,
    /// The journals they came from.
    pub journals: Vec<PathBuf>,
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct QualifyReport {
    /// The harness version.
    pub shakedown_version: String,
    /// The baseline.
    pub baseline: SideSummary,
    /// The candidate.
    pub candidate: SideSummary,
    /// Per scenario, in plan order.
    pub scenarios: Vec<ScenarioComparison>,
    /// Scenarios per verdict.
    pub summary: BTreeMap<String, usize>,
}

impl QualifyReport {
    /// Whether the qualification fails (a regression, a broken or an unknown scenario).
    pub fn fails(&self) -> bool {
        self.scenarios.iter().any(|s| s.kind.fails())
    }
}

/// One side's runs: the plan, and one record per journal.
pub struct SideRuns {
    /// As written.
    pub spec: String,
    /// The plan (of its first journal).
    pub plans: Vec<PlannedScenario>,
    /// One record per journal.
    pub records: Vec<RunRecord>,
    /// The journals.
    pub journals: Vec<PathBuf>,
}

/// All rounds of one scenario as one record (iterations one after another).
pub(crate) fn merged(records: &[&ScenarioRecord]) -> ScenarioRecord {
    let mut out = ScenarioRecord {
        name: records.first().map(|r| r.name.clone()).unwrap_or_default(),
        ..Default::default()
    };
    for r in records {
        out.interrupted |= r.interrupted;
        if out.error.is_none() {
            out.error.clone_from(&r.error);
        }
        out.elapsed = out.elapsed.saturating_add(r.elapsed);
        for it in &r.iterations {
            let mut it = it.clone();
            it.index = out.iterations.len() as u32;
            out.iterations.push(it);
        }
    }
    out
}

fn side_result(plan: &PlannedScenario, records: &[&ScenarioRecord]) -> SideResult {
    let verdicts: Vec<verdict::ScenarioVerdict> =
        records.iter().map(|r| verdict::judge(plan, r)).collect();
    let per_round: Vec<Outcome> = verdicts.iter().map(|v| v.outcome).collect();
    let skipped = verdicts.iter().find_map(|v| v.skipped.clone());
    let skips = per_round.iter().filter(|o| **o == Outcome::Skipped).count();
    if skips > 0 {
        // Every round skipped it, or only some: then the daemon's answer changed between rounds,
        // and the side cannot be decided.
        let all_skipped = skips == per_round.len();
        let reason = skipped.clone().unwrap_or_default();
        return SideResult {
            outcome: if all_skipped {
                Outcome::Skipped
            } else {
                Outcome::Unknown
            },
            passed: per_round.iter().filter(|o| **o == Outcome::Pass).count(),
            rounds: records.len(),
            failures: if all_skipped {
                vec![]
            } else {
                vec![format!(
                    "skipped in {skips} of {} rounds ({reason})",
                    per_round.len()
                )]
            },
            forensics: vec![],
            skipped,
        };
    }
    let all = verdict::judge(plan, &merged(records));
    let outcome = if records.is_empty() || per_round.contains(&Outcome::Unknown) {
        Outcome::Unknown
    } else if per_round.contains(&Outcome::Fail) {
        Outcome::Fail
    } else {
        Outcome::Pass
    };
    SideResult {
        outcome,
        passed: per_round.iter().filter(|o| **o == Outcome::Pass).count(),
        rounds: records.len(),
        failures: all.failures().into_iter().take(5).collect(),
        forensics: records
            .iter()
            .flat_map(|r| r.iterations.iter())
            .flat_map(|it| it.steps.iter())
            .filter_map(|s| s.forensics.clone())
            .collect(),
        skipped: None,
    }
}

/// Timed values by (step label, measure) with their source.
pub(crate) fn timings(r: &ScenarioRecord) -> BTreeMap<(String, String), (String, Vec<f64>)> {
    let mut out: BTreeMap<(String, String), (String, Vec<f64>)> = BTreeMap::new();
    for it in &r.iterations {
        for s in &it.steps {
            for m in s.measures.iter().filter(|m| m.unit == "s") {
                out.entry((s.label.clone(), m.name.clone()))
                    .or_insert_with(|| (m.source.clone(), vec![]))
                    .1
                    .push(m.value);
            }
        }
    }
    out
}

fn compare_measure(
    step: &str,
    measure: &str,
    source: &str,
    base: &[f64],
    cand: &[f64],
    (threshold, floor): (f64, f64),
    level: f64,
) -> Option<MeasureComparison> {
    if base.len() < MIN_VALUES || cand.len() < MIN_VALUES {
        return None;
    }
    // In logarithms, so that the sides swapped give exactly the opposite change.
    let (ratio, lo, hi) = crate::stats::log_ratio(base, cand, level, RESAMPLES)?;
    let (mb, mc) = (crate::stats::median(base)?, crate::stats::median(cand)?);
    // A sequential qualification's stricter level also needs enough values to attain it.
    let big = (mc - mb).abs() > floor
        && (level <= LEVEL || crate::stats::attainable(base.len(), cand.len(), level));
    let beyond = threshold.ln_1p();
    let change = if big && lo > beyond {
        Change::Worse
    } else if big && hi < -beyond {
        Change::Better
    } else {
        Change::Same
    };
    Some(MeasureComparison {
        step: step.into(),
        measure: measure.into(),
        source: source.into(),
        baseline: base.to_vec(),
        candidate: cand.to_vec(),
        baseline_median: mb,
        candidate_median: mc,
        ratio,
        interval: (lo.exp(), hi.exp()),
        level,
        threshold,
        floor,
        change,
    })
}

/// Compares the candidate with the baseline, scenario by scenario (the baseline's plan order),
/// with 95% intervals.
pub fn compare(
    base: &SideRuns,
    cand: &SideRuns,
    thresholds: &Thresholds,
    version: &str,
) -> QualifyReport {
    compare_at(base, cand, thresholds, version, LEVEL)
}

/// [`compare`] with intervals at `level` (a sequential qualification's stricter one).
pub fn compare_at(
    base: &SideRuns,
    cand: &SideRuns,
    thresholds: &Thresholds,
    version: &str,
    level: f64,
) -> QualifyReport {
    let records_of = |side: &'_ SideRuns, name: &str| -> Vec<ScenarioRecord> {
        side.records
            .iter()
            .filter_map(|r| r.scenarios.iter().find(|s| s.name == name).cloned())
            .collect()
    };
    let mut scenarios = Vec::new();
    for plan in &base.plans {
        let name = plan.name();
        let (b, c) = (records_of(base, name), records_of(cand, name));
        let (b, c): (Vec<&ScenarioRecord>, Vec<&ScenarioRecord>) =
            (b.iter().collect(), c.iter().collect());
        let cand_plan = cand.plans.iter().find(|p| p.name() == name).unwrap_or(plan);
        let (rb, rc) = (side_result(plan, &b), side_result(cand_plan, &c));
        let (tb, tc) = (timings(&merged(&b)), timings(&merged(&c)));
        let measures: Vec<MeasureComparison> = tb
            .iter()
            .filter_map(|((step, measure), (source, vb))| {
                let (_, vc) = tc.get(&(step.clone(), measure.clone()))?;
                compare_measure(
                    step,
                    measure,
                    source,
                    vb,
                    vc,
                    thresholds.of(plan.scenario.thresholds.as_ref(), measure),
                    level,
                )
            })
            .collect();
        let kind = match (rb.outcome, rc.outcome) {
            (Outcome::Skipped, Outcome::Skipped) => Kind::NotCompared,
            (Outcome::Skipped, _) | (_, Outcome::Skipped) => Kind::OneSided,
            (Outcome::Unknown, _) | (_, Outcome::Unknown) => Kind::Unknown,
            (Outcome::Pass, Outcome::Fail) => Kind::Broken,
            (Outcome::Fail, Outcome::Pass) => Kind::Fixed,
            (Outcome::Fail, Outcome::Fail) => Kind::Same,
            (Outcome::Pass, Outcome::Pass) => {
                if measures.iter().any(|m| m.change == Change::Worse) {
                    Kind::Regression
                } else if measures.iter().any(|m| m.change == Change::Better) {
                    Kind::Better
                } else {
                    Kind::Same
                }
            }
        };
        scenarios.push(ScenarioComparison {
            name: name.to_string(),
            kind,
            baseline: rb,
            candidate: rc,
            measures,
            stop: None,
        });
    }
    let mut summary = BTreeMap::new();
    for s in &scenarios {
        *summary.entry(s.kind.label().to_string()).or_insert(0) += 1;
    }
    let side = |s: &SideRuns| SideSummary {
        spec: s.spec.clone(),
        fingerprint: s
            .records
            .first()
            .map(|r| r.fingerprint.clone())
            .unwrap_or_default(),
        rounds: s.records.len(),
        journals: s.journals.clone(),
    };
    QualifyReport {
        shakedown_version: version.into(),
        baseline: side(base),
        candidate: side(cand),
        scenarios,
        summary,
    }
}

/// Sample sides for tests here and in the reports' tests: one scenario stopping a container
/// (exit code and stop time per round).
#[doc(hidden)]
pub mod sample {
    use std::time::Duration;

    use super::*;
    use crate::record::{IterationRecord, Measure, Observation, StepOutcome, StepRecord};

    pub fn plan() -> PlannedScenario {
        let yaml = "name: s\ncontainers:\n  c: {}\nsteps:\n  - action: {stop: {container: c}}\n    expect: {exit_code: 143}\n";
        PlannedScenario {
            file: "s.yaml".into(),
            scenario: crate::scenario::load_str(yaml, std::path::Path::new("s.yaml")).unwrap(),
            repeat: 1,
        }
    }

    pub fn record(exit: i64, stop: f64) -> RunRecord {
        let step = StepRecord {
            index: 0,
            label: "stop c".into(),
            action: "stop".into(),
            started: Duration::ZERO,
            finished: Duration::from_secs_f64(stop),
            observed_until: Duration::from_secs_f64(stop),
            outcome: StepOutcome::Ok,
            container: Some("c".into()),
            container_id: Some("id".into()),
            observation: Some(Observation {
                state: "exited".into(),
                exit_code: Some(exit),
                ..Default::default()
            }),
            measures: vec![Measure::monotonic(
                "duration",
                Duration::from_secs_f64(stop),
            )],
            facts: Default::default(),
            forensics: None,
            samples: vec![],
            leaks: None,
        };
        RunRecord {
            scenarios: vec![ScenarioRecord {
                name: "s".into(),
                iterations: vec![IterationRecord {
                    steps: vec![step],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    pub fn side(runs: &[(i64, f64)]) -> SideRuns {
        SideRuns {
            spec: "x".into(),
            plans: vec![plan()],
            records: runs.iter().map(|(e, s)| record(*e, *s)).collect(),
            journals: vec![],
        }
    }

    /// A side whose every round skipped the scenario (it needs cgroup v1).
    pub fn skipped(n: usize) -> SideRuns {
        SideRuns {
            records: (0..n)
                .map(|_| RunRecord {
                    scenarios: vec![ScenarioRecord {
                        name: "s".into(),
                        skipped: Some("needs cgroup v1; the daemon runs cgroup v2".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
            ..side(&[])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sample::*;
    use super::*;

    /// Found by fuzzing the journal reader: a hostile journal's scenario lasting nearly forever,
    /// merged over rounds, overflowed the sum of the rounds' times (a panic, never a verdict).
    #[test]
    fn rounds_of_absurd_length_merge_without_overflow() {
        let long = ScenarioRecord {
            name: "s".into(),
            elapsed: std::time::Duration::MAX,
            ..Default::default()
        };
        let m = merged(&[&long, &long]);
        assert_eq!(m.elapsed, std::time::Duration::MAX);
    }

    fn kind(b: &[(i64, f64)], c: &[(i64, f64)]) -> Kind {
        compare(&side(b), &side(c), &Thresholds::default(), "test").scenarios[0].kind
    }

    #[test]
    fn verdicts_and_timings_decide_the_kind() {
        let base = [
            (143, 1.00),
            (143, 1.04),
            (143, 0.97),
            (143, 1.02),
            (143, 0.99),
        ];
        let noise = [
            (143, 1.03),
            (143, 0.96),
            (143, 1.05),
            (143, 1.00),
            (143, 0.98),
        ];
        let slow = [
            (143, 2.00),
            (143, 2.06),
            (143, 1.95),
            (143, 2.02),
            (143, 2.01),
        ];
        let fast = [
            (143, 0.40),
            (143, 0.41),
            (143, 0.39),
            (143, 0.42),
            (143, 0.40),
        ];
        assert_eq!(kind(&base, &noise), Kind::Same);
        assert_eq!(kind(&base, &slow), Kind::Regression);
        assert_eq!(kind(&base, &fast), Kind::Better);
        let mut failing = noise;
        failing[2].0 = 137;
        assert_eq!(kind(&base, &failing), Kind::Broken);
        assert_eq!(kind(&failing, &base), Kind::Fixed);
        assert_eq!(kind(&failing, &failing), Kind::Same);
        // A change smaller than the floor never counts, however consistent.
        let tiny_b = [(143, 0.010), (143, 0.010), (143, 0.011)];
        let tiny_c = [(143, 0.020), (143, 0.021), (143, 0.020)];
        assert_eq!(kind(&tiny_b, &tiny_c), Kind::Same);
        // Too few values to tell: same, whatever the medians.
        assert_eq!(kind(&base[..2], &slow[..2]), Kind::Same);
        let r = compare(&side(&base), &side(&slow), &Thresholds::default(), "test");
        assert!(r.fails());
        let m = &r.scenarios[0].measures[0];
        assert!(m.interval.0 > 1.25 && m.ratio > 1.9, "{m:?}");
    }

    #[test]
    fn swapping_the_sides_swaps_the_kind_near_the_threshold() {
        // Found by the property test: the lower end of the interval one way was 1.248 (`same`),
        // the upper end the other way 0.789 (`better`).
        let b = [
            (143, 2.0097752453470767),
            (143, 2.0097752453470767),
            (143, 2.0097752453470767),
            (143, 3.0736745496043145),
            (143, 2.857063882679713),
            (143, 2.743671175541229),
        ];
        let c = [
            (143, 3.7589276254564328),
            (143, 4.365939196851077),
            (143, 3.495717290734078),
            (143, 3.8679697601290384),
        ];
        let (there, back) = (kind(&b, &c), kind(&c, &b));
        assert_eq!((there, back), (Kind::Regression, Kind::Better));
        let one = compare(&side(&b), &side(&c), &Thresholds::default(), "test");
        let other = compare(&side(&c), &side(&b), &Thresholds::default(), "test");
        let (i, j) = (
            one.scenarios[0].measures[0].interval,
            other.scenarios[0].measures[0].interval,
        );
        assert!(
            (i.0 * j.1 - 1.0).abs() < 1e-12 && (i.1 * j.0 - 1.0).abs() < 1e-12,
            "{i:?} {j:?}"
        );
    }

    #[test]
    fn skipped_on_both_sides_is_not_compared_and_on_one_side_a_difference() {
        let ran = side(&[(143, 1.0), (143, 1.0), (143, 1.0)]);
        let both = compare(&skipped(3), &skipped(3), &Thresholds::default(), "test");
        let s = &both.scenarios[0];
        assert_eq!(s.kind, Kind::NotCompared);
        assert_eq!(s.baseline.outcome, Outcome::Skipped);
        assert_eq!(
            s.candidate.skipped.as_deref(),
            Some("needs cgroup v1; the daemon runs cgroup v2")
        );
        assert!(!both.fails());
        // Skipped on one side only: reported, and it fails the qualification (never `same`).
        for (b, c) in [(&ran, &skipped(3)), (&skipped(3), &ran)] {
            let r = compare(b, c, &Thresholds::default(), "test");
            assert_eq!(r.scenarios[0].kind, Kind::OneSided);
            assert!(r.fails());
        }
        // Every kind is serialised as its label (the summary's keys).
        for k in Kind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.label());
        }
        // Skipped in some rounds only: that side is unknown.
        let mut mixed = skipped(2);
        mixed.records.extend(ran.records.clone());
        let r = compare(&ran, &mixed, &Thresholds::default(), "test");
        assert_eq!(r.scenarios[0].candidate.outcome, Outcome::Unknown);
        assert_eq!(r.scenarios[0].kind, Kind::Unknown);
    }

    #[test]
    fn thresholds_layer_scenario_over_file_over_defaults() {
        use crate::scenario::{MeasureThreshold, DEFAULT_FLOOR, DEFAULT_THRESHOLD};
        use crate::units::Percent;
        let file = Thresholds {
            threshold: Some(Percent(40.0)),
            measures: [(
                "api_back".to_string(),
                MeasureThreshold {
                    threshold: Some(Percent(100.0)),
                    floor: Some("50ms".parse().unwrap()),
                },
            )]
            .into(),
            ..Default::default()
        };
        assert_eq!(file.of(None, "duration"), (0.4, DEFAULT_FLOOR));
        assert_eq!(file.of(None, "api_back"), (1.0, 0.05));
        let scenario = Thresholds {
            threshold: Some(Percent(10.0)),
            ..Default::default()
        };
        assert_eq!(file.of(Some(&scenario), "duration").0, 0.1);
        assert_eq!(
            Thresholds::default().of(None, "x"),
            (DEFAULT_THRESHOLD, DEFAULT_FLOOR)
        );
    }
}
