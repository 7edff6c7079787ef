//! Comparisons with an earlier observation, one mechanism for all of them:
//!
//! - `same_as`, `differs_from`, `later_than`: with the step named by `step` (e.g. the PID must be the
//!   same as before a daemon restart, `StartedAt` later than before a `restart`, an exec's output the
//!   same as an earlier exec's);
//! - `unchanged` and `changed`: with the container's anchor among the iteration's earlier steps —
//!   its latest look, except that a look taken after a step whose effect may still unfold (a
//!   `kill`, a daemon fault) is passed over for the look before that step until a step settles
//!   ([`crate::anchor`]). Shorthands for `same_as`/`differs_from` that need no step name.
//!
//! Both sides come from the journal: when either was not observed (its step failed, the daemon did
//! not answer), the check is `unknown`, never `pass`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// Facts of a step that can be compared.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Host PID of the container's process 1.
    Pid,
    /// `State.StartedAt`.
    StartedAt,
    /// `State.FinishedAt`.
    FinishedAt,
    /// Restart count.
    RestartCount,
    /// State.
    State,
    /// The output of an `exec` step (not for `unchanged`/`changed`).
    Output,
}

impl Field {
    /// The name as written in scenarios.
    pub fn name(self) -> &'static str {
        match self {
            Field::Pid => "pid",
            Field::StartedAt => "started_at",
            Field::FinishedAt => "finished_at",
            Field::RestartCount => "restart_count",
            Field::State => "state",
            Field::Output => "output",
        }
    }

    /// Whether `later_than` applies (a time).
    pub fn is_time(self) -> bool {
        matches!(self, Field::StartedAt | Field::FinishedAt)
    }
}

/// How a fact must relate to the earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Equal.
    Same,
    /// Different.
    Differs,
    /// A later time.
    Later,
}

impl Relation {
    /// The expectation's key.
    pub fn key(self) -> &'static str {
        match self {
            Relation::Same => "same_as",
            Relation::Differs => "differs_from",
            Relation::Later => "later_than",
        }
    }
}

/// A comparison with an earlier step: `{step: NAME, fields: [pid, started_at]}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Against {
    /// The earlier step: its `name`, or its default label (`<action> <container>`) when no other
    /// step has that label.
    #[schemars(with = "String")]
    pub step: Spanned<String>,
    /// The facts compared: `pid`, `started_at`, `finished_at`, `restart_count`, `state`, `output`
    /// (of `exec` steps); `later_than` takes only the times.
    pub fields: Vec<Field>,
}
