//! The JSON report: one shape for every command (`run` on one target or several, `judge`,
//! `qualify`), versioned by [`FORMAT`] and described by [`schema`] (`shakedown schema report`).
//! A run on one target is a run with a list of one target; a qualification lists its two sides
//! as targets and carries the comparison. docs/report.md documents the fields.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use judge::compare::QualifyReport;
use judge::verdict::{Outcome, ScenarioVerdict};
use model::record::RunRecord;

use super::{Report, Summary};

/// The report format's version: raised when a field changes meaning or goes away (new fields
/// may appear within a version).
pub const FORMAT: u32 = 1;

/// The command a report is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// `shakedown run`.
    Run,
    /// `shakedown judge`: a saved journal judged again.
    Judge,
    /// `shakedown qualify`.
    Qualify,
}

/// The JSON report of any command.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "shakedown report")]
pub struct Document {
    /// The format's version ([`FORMAT`]); a reader checks it first.
    pub format: u32,
    /// The command that wrote the report.
    pub command: Command,
    /// The harness version that wrote it.
    pub shakedown_version: String,
    /// Whether the command succeeded: every scenario passed or was skipped on every target (for
    /// `qualify`: the candidate qualifies). The exit code is 0 exactly when this is true and
    /// nothing interrupted the command.
    pub succeeded: bool,
    /// Scenarios by outcome over every target (for `qualify`: every scenario's outcome on each
    /// side, counted once per side).
    pub summary: Summary,
    /// Targets that could not be used (their `error` says why).
    pub targets_failed: usize,
    /// Each target in the order given (a run without `--target` has one: `managed`); for
    /// `qualify`, the baseline and the candidate.
    pub targets: Vec<Target>,
    /// `qualify` only: the comparison of the two sides, scenario by scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<QualifyReport>,
}

/// One target's part of a report.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// The target's name: the inventory's, the target as written, or a qualify side's role
    /// (`baseline`, `candidate`).
    pub name: String,
    /// The inventory's labels (a qualify side's: `side`, the side as written).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Its journal (`shakedown judge FILE` reproduces its verdicts); a qualify side's are in
    /// `comparison`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<PathBuf>,
    /// Why the target could not be used (unreachable, no engine): no verdicts then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its scenarios by outcome.
    pub summary: Summary,
    /// Its verdicts, one per scenario in run order (none when it could not be used, or for a
    /// qualify side: see `comparison`).
    #[serde(default)]
    pub verdicts: Vec<ScenarioVerdict>,
    /// Its run record: every step, measure and event, and the environment's fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
}

impl Target {
    /// A target that ran, with its report.
    pub fn ran(
        name: &str,
        labels: &BTreeMap<String, String>,
        journal: Option<&Path>,
        report: Report,
    ) -> Target {
        Target {
            name: name.into(),
            labels: labels.clone(),
            journal: journal.map(Path::to_path_buf),
            error: None,
            summary: report.summary,
            verdicts: report.verdicts,
            run: Some(report.run),
        }
    }

    /// A target that could not be used.
    pub fn failed(name: &str, labels: &BTreeMap<String, String>, error: String) -> Target {
        Target {
            name: name.into(),
            labels: labels.clone(),
            journal: None,
            error: Some(error),
            summary: Summary::default(),
            verdicts: vec![],
            run: None,
        }
    }

    /// Whether every scenario passed or was skipped (false for a target that could not be used).
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.verdicts.iter().all(|v| v.outcome.is_ok())
    }
}

impl Document {
    /// The report of `run` or `judge` over these targets.
    pub fn of_targets(command: Command, targets: Vec<Target>) -> Document {
        let mut summary = Summary::default();
        for t in &targets {
            summary.add(&t.summary);
        }
        Document {
            format: FORMAT,
            command,
            shakedown_version: version::VERSION.into(),
            succeeded: targets.iter().all(Target::succeeded),
            summary,
            targets_failed: targets.iter().filter(|t| t.error.is_some()).count(),
            targets,
            comparison: None,
        }
    }

    /// The report of `qualify`: its sides as targets, and the comparison.
    pub fn of_qualification(q: QualifyReport) -> Document {
        let side =
            |name: &str, spec: &str, pick: fn(&judge::compare::ScenarioComparison) -> Outcome| {
                let mut summary = Summary::default();
                for s in &q.scenarios {
                    match pick(s) {
                        Outcome::Pass => summary.passed += 1,
                        Outcome::Fail => summary.failed += 1,
                        Outcome::Unknown => summary.unknown += 1,
                        Outcome::Skipped => summary.skipped += 1,
                    }
                }
                Target {
                    name: name.into(),
                    labels: BTreeMap::from([("side".to_string(), spec.to_string())]),
                    journal: None,
                    error: None,
                    summary,
                    verdicts: vec![],
                    run: None,
                }
            };
        let targets = vec![
            side("baseline", &q.baseline.spec, |s| s.baseline.outcome),
            side("candidate", &q.candidate.spec, |s| s.candidate.outcome),
        ];
        let mut summary = Summary::default();
        for t in &targets {
            summary.add(&t.summary);
        }
        Document {
            format: FORMAT,
            command: Command::Qualify,
            shakedown_version: version::VERSION.into(),
            succeeded: !q.fails(),
            summary,
            targets_failed: 0,
            targets,
            comparison: Some(q),
        }
    }

    /// The report as pretty JSON, with a final newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Writes the report to `path`, or to standard output when `path` is `-`.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        write_json(&self.to_json(), path)
    }
}

/// Writes report text to `path`, or to standard output when `path` is `-`.
pub fn write_json(text: &str, path: &Path) -> anyhow::Result<()> {
    if path == Path::new("-") {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        // A closed pipe (`… --json - | head`) is the reader's choice, not an error.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// The JSON Schema (draft-07) of the report, as `shakedown schema report` prints it.
pub fn schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Document>();
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
