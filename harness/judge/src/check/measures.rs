//! `measures`: bounds on any named measure of the step, e.g. `time_to_oom` or `daemon_duration`.

use super::duration::check_measure;
use super::CheckResult;
use crate::expect::Bounds;
use crate::record::{IterationRecord, Source, StepOutcome, StepRecord};

/// Checks the measure `name` of the step against `bounds`. A measure that is missing while a source
/// had a gap during the step is `unknown`: measures on the daemon's clock come from its events, and
/// a fault window's from its probes.
pub fn check(name: &str, bounds: &Bounds, step: &StepRecord, it: &IterationRecord) -> CheckResult {
    let expectation = format!("measures.{name}");
    if step.outcome == StepOutcome::Ok && step.measure(name).is_none() {
        let gap = [Source::Events, Source::Probe]
            .into_iter()
            .find_map(|s| it.gap(s, step.started, step.observed_until));
        if let Some(gap) = gap {
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
    use crate::check::testutil::*;
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
        // The same measure missing while a probe could not be run: unknown.
        let mut blind = it.clone();
        blind.gaps.push(crate::record::SourceGap {
            source: Source::Probe,
            from: std::time::Duration::from_secs(2),
            until: Some(std::time::Duration::from_secs(3)),
            reason: "setns: Operation not permitted".into(),
        });
        let r = check("time_to_oom", &bounds, &s, &blind);
        assert_eq!(r.outcome, Outcome::Unknown, "{r:?}");
    }

    #[test]
    fn a_leak_kind_that_could_not_be_read_is_unknown_not_a_failure() {
        use crate::record::LeakFinding;
        let mut s = step(exited(0, false), 1.0);
        s.leaks = Some(
            [
                (
                    "veth".to_string(),
                    LeakFinding::Unavailable("another machine".into()),
                ),
                ("netns".to_string(), LeakFinding::Found(vec![])),
            ]
            .into(),
        );
        let bounds = Bounds {
            max: Some("0s".parse().unwrap()),
            ..Default::default()
        };
        let it = IterationRecord::default();
        let r = check("leaked_veth", &bounds, &s, &it);
        assert_eq!(r.outcome, Outcome::Unknown, "{r:?}");
        assert!(r.observed.contains("another machine"), "{r:?}");
        // A kind that was read but not measured, or a name no kind has, still fails.
        assert_eq!(
            check("leaked_netns", &bounds, &s, &it).outcome,
            Outcome::Fail
        );
        assert_eq!(
            check("leaked_vethx", &bounds, &s, &it).outcome,
            Outcome::Fail
        );
    }
}
