//! `measures`: bounds on any named measure of the step, e.g. `time_to_oom` or `daemon_duration`.

use super::duration::{check_measure, Bounds};
use super::CheckResult;
use crate::record::{IterationRecord, Source, StepOutcome, StepRecord};

/// Checks the measure `name` of the step against `bounds`. A measure that is missing while the
/// event stream had a gap during the step is `unknown`: measures on the daemon's clock come from
/// its events.
pub fn check(name: &str, bounds: &Bounds, step: &StepRecord, it: &IterationRecord) -> CheckResult {
    let expectation = format!("measures.{name}");
    if step.outcome == StepOutcome::Ok && step.measure(name).is_none() {
        if let Some(gap) = it.gap(Source::Events, step.started, step.observed_until) {
            return CheckResult::unknown(
                &expectation,
                bounds.to_string(),
                &format!(
                    "no measure `{name}`, and the events it may come from are incomplete: {}",
                    gap.reason
                ),
            );
        }
    }
    check_measure(&expectation, name, bounds, step)
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
        let it = IterationRecord::default();
        let r = check("time_to_oom", &bounds, &s, &it);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.observed.contains("time_to_oom"));
        assert_eq!(check("duration", &bounds, &s, &it).outcome, Outcome::Pass);
    }
}
