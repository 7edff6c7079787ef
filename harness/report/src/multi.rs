//! One report for a run on several targets (`run --target A --target B`, `--targets FILE`): a
//! section per target with its own report (verdicts, record, environment fingerprint) or why it
//! could not run; in JUnit a testsuite per target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Report, Summary};
use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};

/// One target's part.
#[derive(Debug)]
pub struct Section {
    /// The target's name (the inventory's, or the target as written).
    pub name: String,
    /// The inventory's labels.
    pub labels: BTreeMap<String, String>,
    /// Where its journal is (`shakedown judge` reproduces its verdicts).
    pub journal: Option<PathBuf>,
    /// Why the target could not run (unreachable, bad environment): no verdicts then.
    pub error: Option<String>,
    /// Its report.
    pub report: Option<Report>,
}

impl Section {
    /// A target that ran.
    pub fn ran(
        name: &str,
        labels: &BTreeMap<String, String>,
        journal: &Path,
        report: Report,
    ) -> Section {
        Section {
            name: name.into(),
            labels: labels.clone(),
            journal: Some(journal.to_path_buf()),
            error: None,
            report: Some(report),
        }
    }

    /// A target that could not run.
    pub fn failed(name: &str, labels: &BTreeMap<String, String>, error: String) -> Section {
        Section {
            name: name.into(),
            labels: labels.clone(),
            journal: None,
            error: Some(error),
            report: None,
        }
    }
}

/// The whole run.
#[derive(Debug)]
pub struct MultiReport {
    /// Version of shakedown that wrote it.
    pub shakedown_version: String,
    /// Scenarios by outcome over every target; `targets_failed` could not run.
    pub summary: Summary,
    /// Targets that could not run.
    pub targets_failed: usize,
    /// Each target, in the order given.
    pub targets: Vec<Section>,
}

impl MultiReport {
    /// Sums the sections up.
    pub fn new(targets: Vec<Section>) -> MultiReport {
        let mut summary = Summary::default();
        let mut failed = 0;
        for t in &targets {
            match &t.report {
                Some(r) => summary.add(&r.summary),
                None => failed += 1,
            }
        }
        MultiReport {
            shakedown_version: version::VERSION.into(),
            summary,
            targets_failed: failed,
            targets,
        }
    }
}

/// The JSON report: a target per section, in order.
pub fn document(m: &MultiReport) -> super::document::Document {
    use super::document::{Command, Document, Target};
    Document::of_targets(
        Command::Run,
        m.targets
            .iter()
            .map(|t| match &t.report {
                Some(r) => Target::ran(&t.name, &t.labels, t.journal.as_deref(), r.clone()),
                None => Target::failed(&t.name, &t.labels, t.error.clone().unwrap_or_default()),
            })
            .collect(),
    )
}

/// The terminal text: each target's own report under a heading, then the totals.
pub fn terminal(m: &MultiReport, verbose: bool) -> String {
    let mut out = String::new();
    for t in &m.targets {
        out.push_str(&format!("── target {} ──\n", t.name));
        match (&t.report, &t.error) {
            (Some(r), _) => out.push_str(&super::terminal::render(r, verbose)),
            (None, Some(e)) => out.push_str(&format!("    ERROR  could not run: {e}\n")),
            (None, None) => {}
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "{} targets: {}{}\n",
        m.targets.len(),
        m.summary.text(),
        if m.targets_failed > 0 {
            format!("; {} target(s) could not run", m.targets_failed)
        } else {
            String::new()
        }
    ));
    out
}

/// JUnit XML: a testsuite per target (a target that could not run: one errored testcase).
pub fn junit(m: &MultiReport) -> anyhow::Result<String> {
    let mut r = JReport::new("shakedown");
    let mut total = std::time::Duration::ZERO;
    for t in &m.targets {
        match (&t.report, &t.error) {
            (Some(rep), _) => {
                let (suite, time) = super::junit::suite(rep, &t.name);
                total += time;
                r.add_test_suite(suite);
            }
            (None, e) => {
                let mut suite = TestSuite::new(t.name.as_str());
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(e.clone().unwrap_or_default());
                status.set_type("target unavailable");
                let mut case = TestCase::new("target", status);
                case.set_classname(t.name.as_str());
                suite.add_test_case(case);
                r.add_test_suite(suite);
            }
        }
    }
    r.set_time(total);
    Ok(r.to_string()?)
}

/// The HTML pages: one self-contained page per target that ran, named after `path` with the
/// target's name before the extension (`report.html` → `report-NAME.html`).
pub fn html_pages(m: &MultiReport, path: &Path) -> Vec<(PathBuf, String)> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "html".into());
    m.targets
        .iter()
        .filter_map(|t| {
            let r = t.report.as_ref()?;
            let name = format!("{stem}-{}.{ext}", model::units::file_name(&t.name));
            Some((path.with_file_name(name), super::html::run_page(r)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use judge::verdict::{Outcome, ScenarioVerdict};
    use model::record::{RunRecord, ScenarioRecord};

    fn report(outcomes: &[Outcome]) -> Report {
        let names: Vec<String> = (0..outcomes.len()).map(|i| format!("s{i}")).collect();
        let run = RunRecord {
            scenarios: names
                .iter()
                .map(|n| ScenarioRecord {
                    name: n.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let verdicts = names
            .iter()
            .zip(outcomes)
            .map(|(n, o)| ScenarioVerdict {
                name: n.clone(),
                outcome: *o,
                checks: vec![],
                errors: vec![],
                stats: vec![],
                skipped: (*o == Outcome::Skipped).then(|| "needs cgroup v1".into()),
            })
            .collect();
        Report::new(run, verdicts)
    }

    #[test]
    fn skipped_scenarios_are_summed_apart_over_the_targets() {
        let m = MultiReport::new(vec![
            Section::ran(
                "v1",
                &BTreeMap::new(),
                Path::new("a.jsonl"),
                report(&[Outcome::Pass, Outcome::Pass]),
            ),
            Section::ran(
                "v2",
                &BTreeMap::new(),
                Path::new("b.jsonl"),
                report(&[Outcome::Pass, Outcome::Skipped]),
            ),
        ]);
        assert_eq!(m.summary.skipped, 1);
        assert_eq!(m.summary.passed, 3);
        let text = terminal(&m, false);
        assert!(
            text.contains("2 targets: 3 passed, 0 failed, 1 skipped"),
            "{text}"
        );
        let xml = junit(&m).unwrap();
        assert!(
            xml.contains("<skipped message=\"needs cgroup v1\"/>"),
            "{xml}"
        );
    }
}
