//! `exits`: the step's container's exits since its iteration began, counted by cause — the early
//! warning a service that keeps dying needs: is it OOM-killed, killed by someone, or failing on
//! its own? Causes come from the daemon's events of that container (by docker id), each run of it
//! being the events between one `start` and the next:
//!
//! - `oom_killed`: the run has an `oom` event (the kernel's OOM killer, `State.OOMKilled`);
//! - `killed`: else it has a `kill` event (a signal sent through the daemon: `docker stop`/`kill`);
//! - `failed`: else its `die` has a non-zero `exitCode` (the application failed on its own);
//! - `clean`: else (exit code 0).
//!
//! A gap in the event stream from the iteration's start to the step's end makes the check
//! `unknown`: an exit may have gone unseen.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many exits of a cause: exactly a number, or `{min, max}`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum Count {
    /// Exactly this many.
    Exactly(u32),
    /// Within inclusive bounds; either may be left out.
    Range(CountRange),
}

/// `{min, max}` of a count.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CountRange {
    /// At least this many.
    #[serde(default)]
    pub min: Option<u32>,
    /// At most this many.
    #[serde(default)]
    pub max: Option<u32>,
}

impl Count {
    /// The count in words: `2`, `1..3`, `>= 1`, `<= 4` or `any`.
    pub fn describe(self) -> String {
        match self {
            Count::Exactly(v) => v.to_string(),
            Count::Range(CountRange { min, max }) => match (min, max) {
                (Some(a), Some(b)) => format!("{a}..{b}"),
                (Some(a), None) => format!(">= {a}"),
                (None, Some(b)) => format!("<= {b}"),
                (None, None) => "any".into(),
            },
        }
    }
}

/// `exits: {oom_killed, killed, failed, clean}`: each set cause's count must hold.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Exits {
    /// Exits by the kernel's OOM killer (an `oom` event in that run).
    #[serde(default)]
    pub oom_killed: Option<Count>,
    /// Exits after a signal sent through the daemon (a `kill` event: `docker stop`, `docker kill`).
    #[serde(default)]
    pub killed: Option<Count>,
    /// Exits with a non-zero code on the application's own account (neither of the above).
    #[serde(default)]
    pub failed: Option<Count>,
    /// Exits with code 0 on the application's own account.
    #[serde(default)]
    pub clean: Option<Count>,
}

/// Problems with the expectation itself.
pub fn problems(e: &Exits) -> Vec<String> {
    let mut p = Vec::new();
    if e.oom_killed.is_none() && e.killed.is_none() && e.failed.is_none() && e.clean.is_none() {
        p.push("exits: give at least one of `oom_killed`, `killed`, `failed`, `clean`".into());
    }
    for (k, v) in [
        ("oom_killed", e.oom_killed),
        ("killed", e.killed),
        ("failed", e.failed),
        ("clean", e.clean),
    ] {
        if let Some(Count::Range(CountRange {
            min: Some(a),
            max: Some(b),
        })) = v
        {
            if a > b {
                p.push(format!("exits.{k}: min ({a}) is above max ({b})"));
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_inverted_is_a_problem() {
        assert_eq!(problems(&Exits::default()).len(), 1);
        let e = Exits {
            failed: Some(Count::Range(CountRange {
                min: Some(3),
                max: Some(1),
            })),
            ..Default::default()
        };
        assert_eq!(problems(&e).len(), 1);
    }
}
