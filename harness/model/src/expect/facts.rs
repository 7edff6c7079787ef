//! Expectations on facts that actions record: `api` (responsive or not, from `probe_api` and
//! `daemon_freeze`) and `output` (an exec's output contains a text).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API's state as a client saw it.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `/_ping` and a real call answered within their deadlines.
    Responsive,
    /// At least one did not.
    Unresponsive,
}

impl Api {
    /// The name as written in scenarios.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Responsive => "responsive",
            Api::Unresponsive => "unresponsive",
        }
    }
}

/// A probe's verdict as the step saw it (`probe`, `log`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProbeState {
    /// It answered (the log made progress).
    Up,
    /// It did not (the application is hung).
    Down,
}
