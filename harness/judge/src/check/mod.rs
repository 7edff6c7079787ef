//! Checks: whether a step's expectations ([`crate::expect`]) held, judged from its record, its
//! events and the iteration's earlier steps. One file per kind of expectation, as in `expect/`.
//!
//! Checks are pure functions of the step's record and its events: no Docker, no clock.

mod compare;
mod duration;
mod error;
mod events;
mod exit_code;
mod exits;
mod facts;
mod kernel_log;
mod leaks;
mod measures;
mod oom_killed;
mod restart_count;
mod state;

pub use exits::ExitCounts;

use crate::expect::Expect;
use crate::outcome::Outcome;
use crate::record::{EventRecord, IterationRecord, StepRecord};

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
    fn new(expectation: &str, expected: String, observed: String, pass: bool) -> Self {
        CheckResult {
            expectation: expectation.into(),
            expected,
            observed,
            outcome: if pass { Outcome::Pass } else { Outcome::Fail },
        }
    }

    fn unknown(expectation: &str, expected: String, why: &str) -> Self {
        CheckResult {
            expectation: expectation.into(),
            expected,
            observed: why.into(),
            outcome: Outcome::Unknown,
        }
    }
}

/// Runs every check set in an expectation against a step's record, its events, and the
/// iteration's earlier steps.
pub fn check(
    expect: &Expect,
    step: &StepRecord,
    events: &[&EventRecord],
    earlier: &[&StepRecord],
    iteration: &IterationRecord,
) -> Vec<CheckResult> {
    let mut out = Vec::new();
    if let Some(e) = &expect.error {
        out.push(error::check(e, step));
    }
    if let Some(v) = &expect.exit_code {
        out.push(exit_code::check(v, step));
    }
    if let Some(v) = expect.oom_killed {
        out.push(oom_killed::check(v, step));
    }
    if let Some(v) = expect.restart_count {
        out.push(restart_count::check(v, step));
    }
    if let Some(v) = expect.state {
        out.push(state::check(v, step));
    }
    if let Some(x) = &expect.exits {
        out.push(exits::check(x, step, iteration));
    }
    if let Some(b) = &expect.duration {
        out.push(duration::check(b, step));
    }
    if let Some(v) = &expect.events {
        out.push(events::check(v, step, events, iteration));
    }
    for (name, b) in &expect.measures {
        out.push(measures::check(name, b, step, iteration));
    }
    if let Some(f) = &expect.unchanged {
        out.push(compare::check(f, true, step, earlier));
    }
    if let Some(f) = &expect.changed {
        out.push(compare::check(f, false, step, earlier));
    }
    for (rel, against) in expect.comparisons() {
        out.push(compare::check_against(against, rel, step, earlier));
    }
    if let Some(a) = expect.api {
        out.push(facts::check_api(a, step));
    }
    if let Some(o) = &expect.output {
        out.push(facts::check_output(o, step));
    }
    if let Some(k) = &expect.kernel_log {
        out.push(kernel_log::check(k, step, iteration));
    }
    if let Some(l) = &expect.leaks {
        out.push(leaks::check(l, step));
    }
    if let Some(p) = expect.probe {
        out.push(facts::check_probe(p, step));
    }
    out
}

/// The observation a container check reads, or why there is none.
fn observation(step: &StepRecord) -> Result<&crate::record::Observation, String> {
    if step.outcome != crate::record::StepOutcome::Ok {
        return Err(format!("not observed: step {}", outcome_text(step)));
    }
    step.observation
        .as_ref()
        .ok_or_else(|| "not observed: the step has no container".to_string())
}

fn outcome_text(step: &StepRecord) -> String {
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
