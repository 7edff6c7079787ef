//! The `error` check: the action failed (or was cut off at its deadline) as expected.

use super::CheckResult;
use crate::expect::ErrorExpect;
use crate::record::{StepOutcome, StepRecord};

/// Checks that the step's action failed as expected.
pub fn check(e: &ErrorExpect, step: &StepRecord) -> CheckResult {
    let name = "error";
    if e.deadline_exceeded {
        let want = "the action does not finish within its deadline".to_string();
        return match &step.outcome {
            StepOutcome::DeadlineExceeded { deadline } => CheckResult::new(
                name,
                want,
                format!(
                    "cut off at its deadline of {}",
                    crate::units::format_duration(*deadline)
                ),
                true,
            ),
            StepOutcome::Ok => CheckResult::new(name, want, "the action finished".into(), false),
            StepOutcome::Error { message, .. } => {
                CheckResult::new(name, want, format!("failed: {message}"), false)
            }
            StepOutcome::Skipped | StepOutcome::Interrupted => {
                CheckResult::unknown(name, want, "not run to its end")
            }
        };
    }
    let mut want = vec!["the action fails".to_string()];
    if let Some(t) = &e.contains {
        want.push(format!("with {t:?}"));
    }
    if let Some(s) = e.status {
        want.push(format!("status {s}"));
    }
    let want = want.join(", ");
    match &step.outcome {
        StepOutcome::Error {
            message,
            http_status: status,
            ..
        } => {
            let text_ok = e
                .contains
                .as_ref()
                .is_none_or(|t| message.contains(t.as_str()));
            let status_ok = e.status.is_none_or(|s| *status == Some(s));
            let observed = match status {
                Some(s) => format!("failed with status {s}: {message}"),
                None => format!("failed: {message}"),
            };
            CheckResult::new(name, want, observed, text_ok && status_ok)
        }
        StepOutcome::Ok => CheckResult::new(name, want, "the action succeeded".to_string(), false),
        StepOutcome::DeadlineExceeded { deadline } => CheckResult::new(
            name,
            want,
            format!(
                "no answer: exceeded its deadline of {}",
                crate::units::format_duration(*deadline)
            ),
            false,
        ),
        StepOutcome::Skipped | StepOutcome::Interrupted => {
            CheckResult::unknown(name, want, "not run to its end")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::verdict::Outcome;

    #[test]
    fn text_and_status_must_match() {
        let mut s = step(exited(0, false), 1.0);
        let e = ErrorExpect {
            contains: Some("is not running".into()),
            status: Some(409),
            deadline_exceeded: false,
        };
        assert_eq!(check(&e, &s).outcome, Outcome::Fail, "succeeded");
        s.outcome = StepOutcome::Error {
            kind: Default::default(),
            message: "docker: exec: container 1 is not running".into(),
            http_status: Some(409),
        };
        assert_eq!(check(&e, &s).outcome, Outcome::Pass);
        let wrong = ErrorExpect {
            status: Some(404),
            ..e.clone()
        };
        assert_eq!(check(&wrong, &s).outcome, Outcome::Fail);
        assert_eq!(check(&ErrorExpect::default(), &s).outcome, Outcome::Pass);
        s.outcome = StepOutcome::Skipped;
        assert_eq!(check(&e, &s).outcome, Outcome::Unknown);
    }

    #[test]
    fn a_hang_can_be_the_expected_outcome() {
        let hang = ErrorExpect {
            deadline_exceeded: true,
            ..Default::default()
        };
        let mut s = step(exited(0, false), 1.0);
        assert_eq!(check(&hang, &s).outcome, Outcome::Fail, "finished");
        s.outcome = StepOutcome::DeadlineExceeded {
            deadline: std::time::Duration::from_secs(5),
        };
        assert_eq!(check(&hang, &s).outcome, Outcome::Pass);
        // A plain failure is not a hang, and a hang is not a plain failure.
        assert_eq!(check(&ErrorExpect::default(), &s).outcome, Outcome::Fail);
        s.outcome = StepOutcome::Error {
            kind: Default::default(),
            message: "refused".into(),
            http_status: Some(500),
        };
        assert_eq!(check(&hang, &s).outcome, Outcome::Fail);
    }
}
