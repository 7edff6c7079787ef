//! `restart_count`: how many times the daemon restarted the container under its restart policy
//! (`RestartCount`), exactly.

use super::{observation, CheckResult};
use crate::record::StepRecord;

/// Checks `RestartCount`.
pub fn check(expected: i64, step: &StepRecord) -> CheckResult {
    let name = "restart_count";
    match observation(step) {
        Err(why) => CheckResult::unknown(name, expected.to_string(), &why),
        Ok(o) => match o.restart_count {
            Some(v) => CheckResult::new(name, expected.to_string(), v.to_string(), v == expected),
            None => CheckResult::unknown(
                name,
                expected.to_string(),
                &format!("the daemon did not say (container is {})", o.state),
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
    fn exact_count_or_unknown() {
        let mut o = exited(0, false);
        o.restart_count = Some(2);
        assert_eq!(check(2, &step(o.clone(), 1.0)).outcome, Outcome::Pass);
        let r = check(3, &step(o.clone(), 1.0));
        assert_eq!((r.outcome, r.observed.as_str()), (Outcome::Fail, "2"));
        o.restart_count = None;
        assert_eq!(check(2, &step(o, 1.0)).outcome, Outcome::Unknown);
    }
}
