//! `measures`: bounds on any named measure of the step, e.g. `time_to_oom` or `daemon_duration`.

use super::duration::{check_measure, Bounds};
use super::CheckResult;
use crate::record::StepRecord;

/// Checks the measure `name` of the step against `bounds`.
pub fn check(name: &str, bounds: &Bounds, step: &StepRecord) -> CheckResult {
    check_measure(&format!("measures.{name}"), name, bounds, step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::testutil::*;
    use crate::verdict::Outcome;

    #[test]
    fn missing_measure_fails_with_its_name() {
        let s = step(exited(137, true), 2.0);
        let bounds = Bounds {
            max: Some("30s".parse().unwrap()),
            ..Default::default()
        };
        let r = check("time_to_oom", &bounds, &s);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.observed.contains("time_to_oom"));
        assert_eq!(check("duration", &bounds, &s).outcome, Outcome::Pass);
    }
}
