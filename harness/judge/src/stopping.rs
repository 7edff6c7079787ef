//! What a qualification's report says of its rounds: the confidence level of its intervals, and
//! with `--repeat auto` how many rounds each scenario took and why it stopped (the rule itself is
//! in [`crate::sequential`]).

use serde::{Deserialize, Serialize};

/// The confidence level of the intervals with a fixed number of rounds.
pub const LEVEL: f64 = 0.95;

/// The level of a report without one (written before `--repeat auto`): 95%.
pub fn fixed_level() -> f64 {
    LEVEL
}

/// Why a scenario stopped.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Its verdict and timings were decided.
    Decided,
    /// It reached the maximum of rounds undecided.
    MaxRounds,
    /// The budget allowed no further round.
    Budget,
}

impl Reason {
    /// As printed.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Decided => "decided",
            Reason::MaxRounds => "max rounds",
            Reason::Budget => "budget",
        }
    }
}

/// How many rounds a scenario took and why it stopped.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Stopped {
    /// Rounds it ran on each side.
    pub rounds: usize,
    /// Why it stopped.
    pub reason: Reason,
}
