//! JUnit XML (one testcase per scenario) for CI systems: GitHub and GitLab render the failure message,
//! which names each failed expectation with expected and observed values.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use judge::verdict::Outcome;

/// Lines of each container's output in a failed testcase's text.
const JUNIT_OUTPUT_LINES: usize = 40;

/// The JUnit XML of a report: a testcase per scenario; a failed one carries its failures and
/// what its containers printed last.
pub fn render(report: &Report) -> anyhow::Result<String> {
    let (suite, total) = suite(report, "shakedown");
    let mut r = JReport::new("shakedown");
    r.set_time(total);
    r.add_test_suite(suite);
    Ok(r.to_string()?)
}

/// A report's testsuite, named `name`, and its total time.
pub fn suite(report: &Report, name: &str) -> (TestSuite, Duration) {
    let mut suite = TestSuite::new(name);
    let mut total = Duration::ZERO;
    for v in &report.verdicts {
        let rec = report.run.scenarios.iter().find(|s| s.name == v.name);
        let elapsed = rec.map(|r| r.elapsed).unwrap_or_default();
        total = total.saturating_add(elapsed);
        let status = match v.outcome {
            Outcome::Pass => TestCaseStatus::success(),
            Outcome::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(v.skipped.clone().unwrap_or_else(|| "skipped".into()));
                s
            }
            Outcome::Fail | Outcome::Unknown => {
                let failures = v.failures();
                let mut s = TestCaseStatus::non_success(if v.outcome == Outcome::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                });
                let first = failures
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "interrupted before a verdict".into());
                let more = if failures.len() > 1 {
                    format!(" (and {} more)", failures.len() - 1)
                } else {
                    String::new()
                };
                s.set_message(format!("{first}{more}"));
                s.set_type(if v.outcome == Outcome::Fail {
                    "expectation failed"
                } else {
                    "unknown"
                });
                let mut text = failures;
                if let Some(r) = rec {
                    text.extend(super::evidence(r, JUNIT_OUTPUT_LINES));
                }
                s.set_description(text.join("\n"));
                s
            }
        };
        let mut case = TestCase::new(v.name.clone(), status);
        case.set_classname("shakedown");
        case.set_time(elapsed);
        case.set_assertions(v.checks.len());
        let mut out = String::new();
        for c in &v.checks {
            out.push_str(&format!("[{}] {}\n", c.outcome.label(), c.message()));
        }
        for s in &v.stats {
            out.push_str(&format!(
                "{} {}: {}\n",
                s.step,
                s.measure,
                crate::terminal::stat_text(s)
            ));
        }
        if let Some(r) = rec {
            out.push_str(&format!("file: {}\n", r.file.display()));
        }
        case.set_system_out(out);
        suite.add_test_case(case);
    }
    suite.set_time(total);
    (suite, total)
}

/// Writes the JUnit XML file.
pub fn write(report: &Report, path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, render(report)?)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}
