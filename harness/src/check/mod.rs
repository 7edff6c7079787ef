//! Checks: whether a step's expectations ([`crate::expect`]) held, judged from its record, its
//! events and the iteration's earlier steps. One file per kind of expectation, as in `expect/`.
//!
//! Checks are pure functions of the step's record and its events: no Docker, no clock.

pub(crate) mod compare;
pub(crate) mod duration;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod exit_code;
pub(crate) mod exits;
pub(crate) mod facts;
pub(crate) mod kernel_log;
pub(crate) mod leaks;
pub(crate) mod measures;
pub(crate) mod oom_killed;
pub(crate) mod restart_count;
pub(crate) mod state;

pub use exits::ExitCounts;

use crate::record::StepRecord;
use crate::verdict::Outcome;

/// The result of one check before it is attached to a step.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    /// Expectation kind, e.g. `exit_code`, `measures.time_to_oom`.
    pub expectation: String,
    /// The expected value, as written.
    pub expected: String,
    /// What was observed.
    pub observed: String,
    /// Pass, fail or unknown.
    pub outcome: Outcome,
}

impl CheckResult {
    pub(crate) fn new(expectation: &str, expected: String, observed: String, pass: bool) -> Self {
        CheckResult {
            expectation: expectation.into(),
            expected,
            observed,
            outcome: if pass { Outcome::Pass } else { Outcome::Fail },
        }
    }

    pub(crate) fn unknown(expectation: &str, expected: String, why: &str) -> Self {
        CheckResult {
            expectation: expectation.into(),
            expected,
            observed: why.into(),
            outcome: Outcome::Unknown,
        }
    }
}

/// The observation a container check reads, or why there is none.
pub(crate) fn observation(step: &StepRecord) -> Result<&crate::record::Observation, String> {
    if step.outcome != crate::record::StepOutcome::Ok {
        return Err(format!("not observed: step {}", outcome_text(step)));
    }
    step.observation
        .as_ref()
        .ok_or_else(|| "not observed: the step has no container".to_string())
}

pub(crate) fn outcome_text(step: &StepRecord) -> String {
    match &step.outcome {
        crate::record::StepOutcome::Ok => "ok".into(),
        crate::record::StepOutcome::Error { message, .. } => format!("failed: {message}"),
        crate::record::StepOutcome::DeadlineExceeded { deadline } => format!(
            "exceeded its deadline of {}",
            crate::units::format_duration(*deadline)
        ),
        crate::record::StepOutcome::Skipped => "was skipped".into(),
        crate::record::StepOutcome::Interrupted => "was interrupted".into(),
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::time::Duration;

    use crate::record::{EventRecord, Measure, Observation, StepOutcome, StepRecord};

    /// The docker id of the test step's container.
    pub const WEB_ID: &str = "a1b2c3";

    /// A completed step with an observation and a duration measure.
    pub fn step(obs: Observation, secs: f64) -> StepRecord {
        StepRecord {
            index: 0,
            label: "stop web".into(),
            action: "stop".into(),
            started: Duration::from_secs(1),
            finished: Duration::from_secs_f64(1.0 + secs),
            observed_until: Duration::from_secs_f64(2.0 + secs),
            outcome: StepOutcome::Ok,
            container: Some("web".into()),
            container_id: Some(WEB_ID.into()),
            observation: Some(obs),
            measures: vec![Measure::monotonic(
                "duration",
                Duration::from_secs_f64(secs),
            )],
            facts: Default::default(),
            forensics: None,
            samples: vec![],
            leaks: None,
        }
    }

    /// A daemon event for the container `web` at `t` seconds, with its exit code if given.
    pub fn event(action: &str, id: &str, t: f64, code: Option<&str>) -> EventRecord {
        EventRecord {
            t: Duration::from_secs_f64(t),
            time_nano: 0,
            action: action.into(),
            id: id.into(),
            container: Some("web".into()),
            attributes: code
                .map(|c| [("exitCode".to_string(), c.to_string())].into())
                .unwrap_or_default(),
        }
    }

    /// An exited container.
    pub fn exited(code: i64, oom: bool) -> Observation {
        Observation {
            state: "exited".into(),
            exit_code: Some(code),
            oom_killed: Some(oom),
            ..Default::default()
        }
    }
}
