//! The `events` check: the Docker events of the step's container during the step.

use super::CheckResult;
use crate::expect::events::EventsExpect;
use crate::record::{EventRecord, IterationRecord, Source, StepOutcome, StepRecord};

/// Checks that every expected event was seen for the step's container (by docker id), and no
/// absent one. A missing event while the event stream had a gap during the step is `unknown`: it
/// may have happened unseen; so is an absent event not seen during a gap.
pub fn check(
    e: &EventsExpect,
    step: &StepRecord,
    events: &[&EventRecord],
    it: &IterationRecord,
) -> CheckResult {
    let name = "events";
    let (present, absent) = (e.present(), e.absent());
    let mut want = present.join(", ");
    if !absent.is_empty() {
        if !want.is_empty() {
            want.push_str("; ");
        }
        want.push_str(&format!("none of {}", absent.join(", ")));
    }
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, want, "not observed: the step did not complete");
    }
    let seen: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    let missing: Vec<&str> = present
        .iter()
        .map(String::as_str)
        .filter(|e| !seen.contains(e))
        .collect();
    let forbidden: Vec<&str> = absent
        .iter()
        .map(String::as_str)
        .filter(|e| seen.contains(e))
        .collect();
    let mut observed = if seen.is_empty() {
        "no events".to_string()
    } else {
        seen.join(", ")
    };
    if !missing.is_empty() {
        observed.push_str(&format!(" (missing: {})", missing.join(", ")));
    }
    if !forbidden.is_empty() {
        observed.push_str(&format!(" (forbidden: {})", forbidden.join(", ")));
        return CheckResult::new(name, want, observed, false);
    }
    let undecided = !missing.is_empty() || !absent.is_empty();
    match it.gap(Source::Events, step.started, step.observed_until) {
        Some(gap) if undecided => CheckResult::unknown(
            name,
            want,
            &format!(
                "{observed}, but the events may be incomplete: {}",
                gap.reason
            ),
        ),
        _ => CheckResult::new(name, want, observed, missing.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::expect::events::EventSets;
    use crate::verdict::Outcome;
    use std::time::Duration;

    fn ev(action: &str, id: &str, t: f64) -> EventRecord {
        event(action, id, t, None)
    }

    #[test]
    fn present_and_missing() {
        let s = step(exited(137, true), 1.0);
        let it = IterationRecord::default();
        let (oom, die) = (ev("oom", WEB_ID, 2.0), ev("die", WEB_ID, 2.0));
        let want = EventsExpect::Present(vec!["oom".to_string(), "die".to_string()]);
        assert_eq!(check(&want, &s, &[&oom, &die], &it).outcome, Outcome::Pass);
        let r = check(&want, &s, &[&die], &it);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.observed.contains("missing: oom"), "{}", r.observed);
    }

    #[test]
    fn events_are_attributed_by_id_and_time_never_by_name() {
        let s = step(exited(143, false), 1.0); // runs from 1s, observed until 3s
        let it = IterationRecord {
            events: vec![
                // Same scenario name, another container (an earlier iteration's or scenario's `web`).
                ev("kill", "other-web", 2.0),
                ev("die", "other-web", 2.0),
                // This container, but before the step.
                ev("stop", WEB_ID, 0.5),
                // This container during the step.
                ev("kill", WEB_ID, 1.5),
                // After the step was observed.
                ev("destroy", WEB_ID, 3.5),
            ],
            ..Default::default()
        };
        let seen: Vec<&str> = it.step_events(&s).map(|e| e.action.as_str()).collect();
        assert_eq!(seen, vec!["kill"]);
        let events: Vec<&EventRecord> = it.step_events(&s).collect();
        let want = EventsExpect::Present(
            ["kill", "die", "stop", "destroy"]
                .map(String::from)
                .to_vec(),
        );
        let r = check(&want, &s, &events, &it);
        assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
        assert!(
            r.observed.contains("missing: die, stop, destroy"),
            "{}",
            r.observed
        );
        // A step without a container id has no events at all.
        let mut anonymous = s.clone();
        anonymous.container_id = None;
        assert_eq!(it.step_events(&anonymous).count(), 0);
    }

    #[test]
    fn a_gap_in_the_stream_makes_a_missing_event_unknown() {
        let s = step(exited(137, true), 1.0);
        let mut it = IterationRecord::default();
        it.gaps.push(crate::record::SourceGap {
            source: Source::Events,
            from: Duration::from_secs(2),
            until: Some(Duration::from_secs(4)),
            reason: "the event stream was lost".into(),
        });
        let die = ev("die", WEB_ID, 2.0);
        let want = EventsExpect::Present(vec!["oom".to_string(), "die".to_string()]);
        let r = check(&want, &s, &[&die], &it);
        assert_eq!(r.outcome, Outcome::Unknown, "{r:?}");
        // Everything present: the gap does not matter.
        let oom = ev("oom", WEB_ID, 2.0);
        assert_eq!(check(&want, &s, &[&oom, &die], &it).outcome, Outcome::Pass);
        // A gap outside the step's window does not matter either.
        it.gaps[0].from = Duration::from_secs(10);
        it.gaps[0].until = Some(Duration::from_secs(11));
        assert_eq!(check(&want, &s, &[&die], &it).outcome, Outcome::Fail);
    }

    #[test]
    fn absent_events_fail_when_seen_and_are_unknown_during_a_gap() {
        let s = step(exited(0, false), 1.0);
        let (die, restart) = (ev("die", WEB_ID, 0.5), ev("restart", WEB_ID, 0.6));
        let mut it = IterationRecord::default();
        let want = EventsExpect::Sets(EventSets {
            present: vec!["die".into()],
            absent: vec!["restart".into()],
        });
        assert_eq!(check(&want, &s, &[&die], &it).outcome, Outcome::Pass);
        let r = check(&want, &s, &[&die, &restart], &it);
        assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
        assert!(r.observed.contains("forbidden: restart"), "{r:?}");
        assert_eq!(r.expected, "die; none of restart");
        it.gaps.push(crate::record::SourceGap {
            source: Source::Events,
            from: Duration::from_millis(100),
            until: None,
            reason: "the event stream broke".into(),
        });
        // Not seen, but it may have happened unseen.
        assert_eq!(check(&want, &s, &[&die], &it).outcome, Outcome::Unknown);
        // Seen is seen, gap or not.
        assert_eq!(
            check(&want, &s, &[&die, &restart], &it).outcome,
            Outcome::Fail
        );
    }
}
