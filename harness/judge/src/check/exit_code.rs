//! The `exit_code` check: the container's exit code after the step, or an `exec`'s.

use super::{observation, CheckResult};
use crate::expect::ExitCode;
use crate::fact::Fact;
use crate::record::{StepOutcome, StepRecord};

/// Whether `code` is one `expected` accepts.
fn accepts(expected: &ExitCode, code: i64) -> bool {
    match expected {
        ExitCode::One(c) => *c == code,
        ExitCode::AnyOf(cs) => cs.contains(&code),
    }
}

/// The expected code(s) in words.
fn text(expected: &ExitCode) -> String {
    match expected {
        ExitCode::One(c) => c.to_string(),
        ExitCode::AnyOf(cs) => format!(
            "one of {}",
            cs.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Checks the exit code; a running container has none yet and fails.
pub fn check(expected: &ExitCode, step: &StepRecord) -> CheckResult {
    let name = "exit_code";
    if step.facts.contains_key("exec_exit_code") && step.outcome == StepOutcome::Ok {
        return match Fact::parse(&step.facts, "exec_exit_code") {
            Some(Fact::ExecExitCode(code)) => CheckResult::new(
                name,
                text(expected),
                format!("{code} (exec)"),
                accepts(expected, code),
            ),
            _ => CheckResult::unknown(
                name,
                text(expected),
                "the fact exec_exit_code could not be read",
            ),
        };
    }
    match observation(step) {
        Err(why) => CheckResult::unknown(name, text(expected), &why),
        Ok(o) => match (o.state.as_str(), o.exit_code) {
            ("exited" | "dead", Some(code)) => CheckResult::new(
                name,
                text(expected),
                code.to_string(),
                accepts(expected, code),
            ),
            (state, _) => CheckResult::new(
                name,
                text(expected),
                format!("no exit code: container is {state}"),
                false,
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::verdict::Outcome;

    #[test]
    fn matches_and_mismatches() {
        let s = step(exited(137, false), 5.0);
        assert_eq!(check(&ExitCode::One(137), &s).outcome, Outcome::Pass);
        let r = check(&ExitCode::One(143), &s);
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(r.observed, "137");
        assert_eq!(
            check(&ExitCode::AnyOf(vec![143, 137]), &s).outcome,
            Outcome::Pass
        );
        assert_eq!(
            check(&ExitCode::AnyOf(vec![143, 255]), &s).outcome,
            Outcome::Fail
        );
    }

    #[test]
    fn running_container_fails() {
        let obs = crate::record::Observation {
            state: "running".into(),
            exit_code: Some(0),
            ..Default::default()
        };
        let r = check(&ExitCode::One(0), &step(obs, 0.1));
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.observed.contains("running"), "{}", r.observed);
    }

    #[test]
    fn exec_exit_code_is_checked_after_exec() {
        let mut s = step(exited(0, false), 0.1);
        s.facts.insert("exec_exit_code".into(), "3".into());
        let r = check(&ExitCode::One(0), &s);
        assert_eq!(
            (r.outcome, r.observed.as_str()),
            (Outcome::Fail, "3 (exec)")
        );
    }
}
