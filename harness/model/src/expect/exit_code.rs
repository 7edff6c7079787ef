//! `exit_code`: the container's `State.ExitCode` after the step — or, after an `exec` step, the exit
//! code of the executed command. One code, or a list of acceptable ones (`[143, 255]`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An expected exit code, or several acceptable ones.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum ExitCode {
    /// Exactly this code.
    One(i64),
    /// Any of these codes.
    AnyOf(Vec<i64>),
}
