//! `exit_code`: the container's `State.ExitCode` after the step.

use super::{observation, CheckResult};
use crate::record::StepRecord;

/// Checks the exit code; a running container has none yet and fails.
pub fn check(expected: i64, step: &StepRecord) -> CheckResult {
    let name = "exit_code";
    match observation(step) {
        Err(why) => CheckResult::unknown(name, expected.to_string(), &why),
        Ok(o) => match (o.state.as_str(), o.exit_code) {
            ("exited" | "dead", Some(code)) => CheckResult::new(
                name,
                expected.to_string(),
                code.to_string(),
                code == expected,
            ),
            (state, _) => CheckResult::new(
                name,
                expected.to_string(),
                format!("no exit code: container is {state}"),
                false,
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::testutil::*;
    use crate::verdict::Outcome;

    #[test]
    fn matches_and_mismatches() {
        assert_eq!(
            check(137, &step(exited(137, false), 5.0)).outcome,
            Outcome::Pass
        );
        let r = check(143, &step(exited(137, false), 5.0));
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(r.observed, "137");
    }

    #[test]
    fn running_container_fails() {
        let obs = crate::record::Observation {
            state: "running".into(),
            exit_code: Some(0),
            ..Default::default()
        };
        let r = check(0, &step(obs, 0.1));
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.observed.contains("running"), "{}", r.observed);
    }
}
