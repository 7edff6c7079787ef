//! The outcome of a check or a scenario: what checks produce and verdicts sum up.

use serde::{Deserialize, Serialize};

/// The outcome of a check or a scenario (Jepsen's valid / invalid / unknown).
#[derive(
    Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Held.
    Pass,
    /// Did not hold.
    Fail,
    /// Could not be decided (the step did not run, or the run was interrupted).
    Unknown,
    /// Not run: the daemon cannot have what the scenario requires (its reason says what). Neither
    /// a pass nor a failure; it does not fail the run.
    Skipped,
}

impl Outcome {
    /// Upper-case label for terminals.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Unknown => "UNKNOWN",
            Outcome::Skipped => "SKIP",
        }
    }

    /// Whether this outcome lets the run succeed (exit code 0): passed, or skipped.
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::Skipped)
    }
}
