//! `oom_killed`: whether the kernel's OOM killer killed the container (`State.OOMKilled`).

use super::{observation, CheckResult};
use crate::record::StepRecord;

/// Checks `State.OOMKilled`.
pub fn check(expected: bool, step: &StepRecord) -> CheckResult {
    let name = "oom_killed";
    match observation(step) {
        Err(why) => CheckResult::unknown(name, expected.to_string(), &why),
        Ok(o) => match o.oom_killed {
            Some(v) => CheckResult::new(name, expected.to_string(), v.to_string(), v == expected),
            None => CheckResult::new(
                name,
                expected.to_string(),
                format!("unknown: container is {}", o.state),
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
    fn pass_and_fail() {
        assert_eq!(
            check(true, &step(exited(137, true), 1.0)).outcome,
            Outcome::Pass
        );
        let r = check(true, &step(exited(0, false), 1.0));
        assert_eq!((r.outcome, r.observed.as_str()), (Outcome::Fail, "false"));
    }
}
