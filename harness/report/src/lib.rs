//! Reports: consumers of the run record and the verdicts. None of them touches Docker.

pub mod document;
pub mod html;
pub mod json;
pub mod junit;
pub mod multi;
pub mod progress;
pub mod qualify;
pub mod terminal;

use serde::{Deserialize, Serialize};

use judge::verdict::{Outcome, ScenarioVerdict};
use model::record::{RunRecord, ScenarioRecord};

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
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Summary {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios without a decision (interrupted, not run).
    pub unknown: usize,
    /// Scenarios not run because the daemon cannot have what they require.
    #[serde(default)]
    pub skipped: usize,
}

impl Summary {
    /// Scenarios that ran (passed, failed or unknown): none when every one was skipped.
    pub fn ran(&self) -> usize {
        self.passed + self.failed + self.unknown
    }

    /// Adds another summary's counts.
    pub fn add(&mut self, o: &Summary) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.unknown += o.unknown;
        self.skipped += o.skipped;
    }

    /// The counts in words: `18 passed, 0 failed, 1 skipped`; unknown and skipped only when there
    /// are any, and said plainly when nothing ran because everything was skipped.
    pub fn text(&self) -> String {
        let mut out = format!("{} passed, {} failed", self.passed, self.failed);
        if self.unknown > 0 {
            out.push_str(&format!(", {} unknown", self.unknown));
        }
        if self.skipped > 0 {
            out.push_str(&format!(", {} skipped", self.skipped));
            if self.ran() == 0 {
                out.push_str(" — nothing ran: every scenario was skipped");
            }
        }
        out
    }
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
                Outcome::Skipped => summary.skipped += 1,
            }
        }
        Report {
            shakedown_version: version::VERSION.into(),
            summary,
            verdicts,
            run,
        }
    }

    /// Whether the run succeeded: every scenario passed or was skipped.
    pub fn succeeded(&self) -> bool {
        self.verdicts.iter().all(|v| v.outcome.is_ok())
    }
}

/// What the containers of a scenario's last iteration printed last and how they ended, as lines
/// for a failure's text: a header per container, then up to `lines` of its output, indented.
pub fn evidence(rec: &ScenarioRecord, lines: usize) -> Vec<String> {
    let Some(it) = rec
        .iterations
        .iter()
        .rev()
        .find(|it| !it.outputs.is_empty())
    else {
        return vec![];
    };
    let mut out = Vec::new();
    for o in &it.outputs {
        let state = match &o.observation {
            Some(ob) => {
                let mut s = ob.state.clone();
                if let Some(code) = ob.exit_code.filter(|_| ob.state != "running") {
                    s.push_str(&format!(", exit code {code}"));
                }
                if ob.oom_killed == Some(true) {
                    s.push_str(", OOM-killed");
                }
                s
            }
            None => "state unknown".into(),
        };
        let iteration = if rec.iterations.len() > 1 {
            format!(", iteration {}", it.index + 1)
        } else {
            String::new()
        };
        out.push(format!("output of {} ({state}{iteration}):", o.container));
        if let Some(e) = &o.error {
            out.push(format!("    (could not read: {e})"));
        }
        if o.stdout.is_empty() && o.stderr.is_empty() && o.error.is_none() {
            out.push("  (no output)".into());
        }
        // stderr first: that is where the reason usually is.
        for (name, text) in [("stderr", &o.stderr), ("stdout", &o.stdout)] {
            let all: Vec<&str> = text.lines().collect();
            if all.is_empty() {
                continue;
            }
            out.push(format!("  {name}:"));
            let from = all.len().saturating_sub(lines);
            if from > 0 || o.truncated {
                out.push("    …".into());
            }
            out.extend(all[from..].iter().map(|l| format!("    {l}")));
        }
    }
    out
}
