//! `state`: the container's state after the step (`running`, `exited`, `removed`, ...).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Container states as docker reports them, plus `removed` for a container that no longer exists.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused (frozen cgroup).
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Exited.
    Exited,
    /// Dead (removal failed).
    Dead,
    /// No longer exists.
    Removed,
}

impl State {
    /// The name as docker writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Exited => "exited",
            State::Dead => "dead",
            State::Removed => "removed",
        }
    }
}
