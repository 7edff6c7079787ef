//! `state`: the container's state after the step (`running`, `exited`, `removed`, ...).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::{observation, CheckResult};
use crate::record::StepRecord;

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

/// Checks the observed state.
pub fn check(expected: State, step: &StepRecord) -> CheckResult {
    let name = "state";
    match observation(step) {
        Err(why) => CheckResult::unknown(name, expected.as_str().into(), &why),
        Ok(o) => CheckResult::new(
            name,
            expected.as_str().into(),
            o.state.clone(),
            o.state == expected.as_str(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::verdict::Outcome;

    #[test]
    fn pass_and_fail() {
        assert_eq!(
            check(State::Exited, &step(exited(0, false), 1.0)).outcome,
            Outcome::Pass
        );
        let r = check(State::Running, &step(exited(0, false), 1.0));
        assert_eq!((r.outcome, r.observed.as_str()), (Outcome::Fail, "exited"));
    }
}
