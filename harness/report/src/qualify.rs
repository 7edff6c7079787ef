//! Reports of a qualification: the terminal diff table, JUnit (a testcase per scenario and side),
//! and JSON (the report itself). The HTML page is in [`super::html`].

use std::fmt::Write;

use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};

use judge::compare::{
    Change, Kind, MeasureComparison, QualifyReport, ScenarioComparison, SideResult,
};
use judge::verdict::Outcome;
use model::units::format_secs;

/// Changed timings named per scenario in the table.
const WHY_SHOWN: usize = 3;

fn side_cell(s: &SideResult) -> String {
    format!("{} {}/{}", s.outcome.label(), s.passed, s.rounds)
}

/// A confidence level as printed: `95%`, `99.375%`.
pub fn level(l: f64) -> String {
    format!("{}%", (l * 100_000.0).round() / 1000.0)
}

/// How many rounds a scenario took and why it stopped (`--repeat auto`): `3 rounds, decided`.
pub fn stopped(s: judge::sequential::Stopped) -> String {
    format!("{} rounds, {}", s.rounds, s.reason.label())
}

/// The diff table: the sides, then one line per scenario with both sides' verdicts (rounds
/// passed) and the comparison, with what decided it on the lines below; then the counts.
pub fn render(r: &QualifyReport) -> String {
    let mut out = String::new();
    for (name, s) in [("baseline", &r.baseline), ("candidate", &r.candidate)] {
        let _ = writeln!(
            out,
            "{name:<9}  {}  —  {} ({} runs)",
            s.spec,
            s.fingerprint.summary(),
            s.rounds
        );
    }
    let width = r
        .scenarios
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        out,
        "\n{:<width$}  {:<12}  {:<12}  comparison",
        "scenario", "baseline", "candidate"
    );
    for s in &r.scenarios {
        let why: Vec<String> = match s.kind {
            Kind::Regression | Kind::Better => {
                // What decided it first (slower timings of a regression), the largest changes
                // first; the rest are counted (the JSON and HTML reports have them all).
                let mut changed: Vec<_> = s
                    .measures
                    .iter()
                    .filter(|m| m.change != Change::Same)
                    .collect();
                changed.sort_by(|a, b| {
                    let worse = |m: &MeasureComparison| m.change != Change::Worse;
                    let size = |m: &MeasureComparison| -m.ratio.max(1.0 / m.ratio);
                    (worse(a), size(a))
                        .partial_cmp(&(worse(b), size(b)))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                let more = changed.len().saturating_sub(WHY_SHOWN);
                let mut why: Vec<String> = changed
                    .into_iter()
                    .take(WHY_SHOWN)
                    .map(|m| {
                        format!(
                            "{} {}: {} → {} (×{:.2}, {} ×{:.2}–×{:.2})",
                            m.step,
                            m.measure,
                            format_secs(m.baseline_median),
                            format_secs(m.candidate_median),
                            m.ratio,
                            level(m.level),
                            m.interval.0,
                            m.interval.1
                        )
                    })
                    .collect();
                if more > 0 {
                    why.push(format!("+{more} more"));
                }
                why
            }
            Kind::Broken | Kind::Unknown => s.candidate.failures.iter().take(2).cloned().collect(),
            Kind::Fixed => s
                .baseline
                .failures
                .iter()
                .take(1)
                .map(|f| format!("was: {f}"))
                .collect(),
            Kind::NotCompared => vec![format!(
                "skipped on both sides, not compared: {}",
                s.baseline
                    .skipped
                    .as_deref()
                    .or(s.candidate.skipped.as_deref())
                    .unwrap_or_default()
            )],
            Kind::OneSided => vec![one_sided(s)],
            Kind::Same => vec![],
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<12}  {:<12}  {}{}",
            s.name,
            side_cell(&s.baseline),
            side_cell(&s.candidate),
            s.kind.label(),
            s.stop
                .map(|st| format!(" ({})", stopped(st)))
                .unwrap_or_default(),
        );
        for w in why {
            let _ = writeln!(out, "    {w}");
        }
    }
    let counts: Vec<String> = r.summary.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(
        out,
        "\n{} — {}",
        counts.join(", "),
        if r.fails() {
            "the candidate does not qualify"
        } else {
            "the candidate qualifies"
        }
    );
    out
}

/// What a `one-sided` comparison is: which side skipped the scenario, and why.
pub fn one_sided(s: &ScenarioComparison) -> String {
    let (skipped, ran, r) = if s.baseline.outcome == Outcome::Skipped {
        ("baseline", "candidate", &s.baseline)
    } else {
        ("candidate", "baseline", &s.candidate)
    };
    format!(
        "skipped on the {skipped} only ({}), run on the {ran}: the sides differ",
        r.skipped.as_deref().unwrap_or("no reason given")
    )
}

fn case(name: &str, side: &str, result: &SideResult, failed_by: Option<&str>) -> TestCase {
    let status = match (result.outcome, failed_by) {
        (Outcome::Pass, None) => TestCaseStatus::success(),
        (Outcome::Skipped, None) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(result.skipped.clone().unwrap_or_else(|| "skipped".into()));
            s
        }
        (outcome, why) => {
            let mut s = TestCaseStatus::non_success(if outcome == Outcome::Unknown {
                NonSuccessKind::Error
            } else {
                NonSuccessKind::Failure
            });
            let msg = why
                .map(str::to_string)
                .or_else(|| result.failures.first().cloned())
                .unwrap_or_else(|| outcome.label().to_string());
            s.set_message(msg);
            s.set_description(result.failures.join("\n"));
            s
        }
    };
    let mut c = TestCase::new(format!("{name} [{side}]"), status);
    c.set_classname(format!("qualify.{side}"));
    c
}

/// JUnit: one testcase per scenario and side; the candidate's testcase also fails on a regression.
pub fn junit(r: &QualifyReport) -> anyhow::Result<String> {
    let mut suite = TestSuite::new("shakedown qualify");
    for s in &r.scenarios {
        suite.add_test_case(case(&s.name, "baseline", &s.baseline, None));
        let why = match s.kind {
            Kind::Regression => {
                let m: Vec<String> = s
                    .measures
                    .iter()
                    .filter(|m| m.change == Change::Worse)
                    .map(|m| format!("{} {}: ×{:.2}", m.step, m.measure, m.ratio))
                    .collect();
                Some(format!("regression: {}", m.join(", ")))
            }
            Kind::OneSided => Some(format!("one-sided: {}", one_sided(s))),
            _ => None,
        };
        suite.add_test_case(case(&s.name, "candidate", &s.candidate, why.as_deref()));
    }
    let mut report = JReport::new("shakedown");
    report.add_test_suite(suite);
    Ok(report.to_string()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use judge::compare::compare;
    use judge::compare::sample::{side, skipped};
    use model::scenario::Thresholds;

    #[test]
    fn skipped_scenarios_are_reported_as_such() {
        let ran = side(&[(143, 1.0), (143, 1.0), (143, 1.0)]);
        let both = compare(&skipped(3), &skipped(3), &Thresholds::default(), "test");
        let text = render(&both);
        assert!(
            text.contains("skipped on both sides, not compared: needs cgroup v1"),
            "{text}"
        );
        let page = crate::html::qualify_page(&both);
        assert!(page.contains("class=\"badge not-compared\""), "{page}");
        assert!(page.contains("skipped, not run: needs cgroup v1"), "{page}");
        // Skipped on one side only: reported, and it fails the qualification (never `same`).
        for (b, c, which) in [
            (&ran, &skipped(3), "candidate"),
            (&skipped(3), &ran, "baseline"),
        ] {
            let r = compare(b, c, &Thresholds::default(), "test");
            let text = render(&r);
            assert!(
                text.contains(&format!("skipped on the {which} only (needs cgroup v1")),
                "{text}"
            );
            // JUnit: the candidate's testcase fails; a skipped baseline's is skipped.
            let xml = junit(&r).unwrap();
            assert!(xml.contains("one-sided: skipped on the"), "{xml}");
            assert_eq!(
                xml.contains("<skipped message=\"needs cgroup v1"),
                which == "baseline",
                "{xml}"
            );
        }
    }
}
