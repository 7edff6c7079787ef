//! The `state` check: the container's state after the step.

use super::{observation, CheckResult};
use crate::expect::State;
use crate::record::StepRecord;

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
