//! The terminal summary, in the style of cargo-nextest: one line per scenario with its verdict, its
//! time and its key measures (those an expectation bounds), then each failure with expected and
//! observed values, the counts, and the slowest scenarios. `-v` lists every measure of every step.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::time::Duration;

use super::Report;
use judge::verdict::{MeasureStats, Outcome, ScenarioVerdict};
use model::units::{format_duration, format_secs};

/// How many of the slowest scenarios the summary names.
const SLOWEST: usize = 3;

/// Lines of each container's output shown under a failed scenario.
const TERMINAL_OUTPUT_LINES: usize = 10;

/// A measure's value, or its statistics when there are several.
pub fn stat_text(s: &MeasureStats) -> String {
    let f = |v: f64| {
        if s.unit == "s" {
            format_secs(v)
        } else {
            format!("{v} {}", s.unit)
        }
    };
    if s.count == 1 {
        f(s.min)
    } else {
        format!(
            "min {} p50 {} p95 {} max {} (n={})",
            f(s.min),
            f(s.p50),
            f(s.p95),
            f(s.max),
            s.count
        )
    }
}

/// The measures an expectation of the scenario bounds: `(step label, measure)`.
fn key_measures(v: &ScenarioVerdict) -> BTreeSet<(String, String)> {
    v.checks
        .iter()
        .filter_map(|c| {
            let measure = if c.expectation == "duration" {
                "duration"
            } else {
                c.expectation.strip_prefix("measures.")?
            };
            Some((c.step_label.clone(), measure.to_string()))
        })
        .collect()
}

/// Renders the summary; `verbose` lists every measure.
pub fn render(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    let fp = &report.run.fingerprint;
    let _ = writeln!(
        out,
        "{}, {} — target {}",
        fp.summary(),
        fp.storage_driver,
        report.run.target
    );
    let width = report
        .verdicts
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(8);
    let elapsed = |name: &str| {
        report
            .run
            .scenarios
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.elapsed)
            .unwrap_or_default()
    };
    for v in &report.verdicts {
        let keys = key_measures(v);
        let mut shown: Vec<String> = v
            .stats
            .iter()
            .filter(|s| keys.contains(&(s.step.clone(), s.measure.clone())))
            .map(|s| format!("{} {}: {}", s.step, s.measure, stat_text(s)))
            .collect();
        if let Some(reason) = &v.skipped {
            shown.push(reason.clone());
        }
        let _ = writeln!(
            out,
            "{:>8} [{:>8}] {:<width$}  {}",
            v.outcome.label(),
            format_duration(elapsed(&v.name)),
            v.name,
            shown.join(" · ")
        );
        if verbose {
            for s in &v.stats {
                let _ = writeln!(
                    out,
                    "{:>20}{} · {} = {}{}",
                    "",
                    s.step,
                    s.measure,
                    stat_text(s),
                    if s.source == "daemon" {
                        " (daemon)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    for v in report.verdicts.iter().filter(|v| !v.outcome.is_ok()) {
        let _ = writeln!(out, "\n{} {}:", v.outcome.label(), v.name);
        let failures = v.failures();
        if failures.is_empty() {
            let _ = writeln!(out, "  interrupted before a verdict");
        }
        for f in failures {
            let _ = writeln!(out, "  {f}");
        }
        if let Some(rec) = report.run.scenarios.iter().find(|s| s.name == v.name) {
            for line in super::evidence(rec, TERMINAL_OUTPUT_LINES) {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    let _ = writeln!(out, "\n{}", report.summary.text());
    // Of the scenarios that ran (a skipped one took no time).
    let mut by_time: Vec<(&str, Duration)> = report
        .verdicts
        .iter()
        .filter(|v| v.outcome != Outcome::Skipped)
        .map(|v| (v.name.as_str(), elapsed(&v.name)))
        .collect();
    if by_time.len() > 1 {
        by_time.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        let slowest: Vec<String> = by_time
            .iter()
            .take(SLOWEST)
            .map(|(n, d)| format!("{n} {}", format_duration(*d)))
            .collect();
        let _ = writeln!(out, "slowest: {}", slowest.join(" · "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use judge::verdict::Check;
    use model::record::{RunRecord, ScenarioRecord};

    fn verdict(
        name: &str,
        outcome: Outcome,
        checks: Vec<Check>,
        stats: Vec<MeasureStats>,
    ) -> ScenarioVerdict {
        ScenarioVerdict {
            name: name.into(),
            outcome,
            checks,
            errors: vec![],
            stats,
            skipped: None,
        }
    }

    fn stat(step: &str, measure: &str, v: f64) -> MeasureStats {
        MeasureStats {
            step: step.into(),
            measure: measure.into(),
            unit: "s".into(),
            source: "monotonic".into(),
            count: 1,
            min: v,
            p50: v,
            p95: v,
            max: v,
            mean: v,
        }
    }

    fn check(step: &str, expectation: &str, outcome: Outcome) -> Check {
        Check {
            iteration: 0,
            step: 0,
            step_label: step.into(),
            expectation: expectation.into(),
            expected: "at most 1s".into(),
            observed: "5.12s".into(),
            outcome,
        }
    }

    #[test]
    fn one_line_per_scenario_with_its_key_measures_then_failures_and_the_slowest() {
        let run = RunRecord {
            scenarios: vec![
                ScenarioRecord {
                    name: "fast".into(),
                    elapsed: Duration::from_millis(900),
                    ..Default::default()
                },
                ScenarioRecord {
                    name: "slow".into(),
                    elapsed: Duration::from_secs(42),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let report = Report::new(
            run,
            vec![
                verdict(
                    "fast",
                    Outcome::Pass,
                    vec![check("stop web", "duration", Outcome::Pass)],
                    vec![
                        stat("stop web", "duration", 0.09),
                        stat("stop web", "daemon_duration", 0.03),
                    ],
                ),
                verdict(
                    "slow",
                    Outcome::Fail,
                    vec![check(
                        "stop bash",
                        "measures.daemon_duration",
                        Outcome::Fail,
                    )],
                    vec![
                        stat("stop bash", "duration", 5.2),
                        stat("stop bash", "daemon_duration", 5.12),
                    ],
                ),
            ],
        );
        let text = render(&report, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].contains("PASS")
                && lines[1].contains("fast")
                && lines[1].contains("stop web duration: 90ms"),
            "{text}"
        );
        // Only measures an expectation bounds are on the line.
        assert!(!lines[1].contains("daemon_duration"), "{text}");
        assert!(
            lines[2].contains("FAIL") && lines[2].contains("stop bash daemon_duration: 5.12s"),
            "{text}"
        );
        assert!(
            text.contains(
                "step 'stop bash': measures.daemon_duration: expected at most 1s, observed 5.12s"
            ),
            "{text}"
        );
        assert!(text.contains("1 passed, 1 failed"), "{text}");
        assert!(
            text.trim_end().ends_with("slowest: slow 42s · fast 900ms"),
            "{text}"
        );
        // -v lists every measure.
        let verbose = render(&report, true);
        assert!(
            verbose.contains("stop web · daemon_duration = 30ms"),
            "{verbose}"
        );
    }
    #[test]
    fn a_skipped_scenario_shows_its_reason_and_is_counted_apart() {
        let run = RunRecord {
            scenarios: vec![
                ScenarioRecord {
                    name: "ran".into(),
                    elapsed: Duration::from_secs(2),
                    ..Default::default()
                },
                ScenarioRecord {
                    name: "frozen".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let mut skipped = verdict("frozen", Outcome::Skipped, vec![], vec![]);
        skipped.skipped = Some("needs cgroup v1; the daemon runs cgroup v2".into());
        let report = Report::new(
            run.clone(),
            vec![
                verdict("ran", Outcome::Pass, vec![], vec![]),
                skipped.clone(),
            ],
        );
        assert!(report.succeeded());
        let text = render(&report, false);
        let line = text.lines().find(|l| l.contains("frozen")).unwrap();
        assert!(
            line.trim_start().starts_with("SKIP")
                && line.ends_with("needs cgroup v1; the daemon runs cgroup v2"),
            "{text}"
        );
        assert!(text.contains("\n1 passed, 0 failed, 1 skipped\n"), "{text}");
        // Not listed among the failures, not among the slowest.
        assert!(!text.contains("SKIP frozen:"), "{text}");
        assert!(!text.contains("slowest"), "{text}");
        // Everything skipped: still a success, and said plainly that nothing ran.
        let all = Report::new(run, vec![skipped]);
        assert!(all.succeeded());
        assert!(
            render(&all, false).contains("0 passed, 0 failed, 1 skipped — nothing ran"),
            "{}",
            render(&all, false)
        );
        // JUnit: a skipped testcase with the reason.
        let xml = crate::junit::render(&all).unwrap();
        assert!(
            xml.contains("<skipped message=\"needs cgroup v1; the daemon runs cgroup v2\"/>"),
            "{xml}"
        );
        // HTML: its badge and the reason.
        let page = crate::html::run_page(&all);
        assert!(page.contains("class=\"badge skip\""), "{page}");
        assert!(page.contains("Skipped, not run: needs cgroup v1"), "{page}");
    }
}
