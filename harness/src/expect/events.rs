//! `events`: Docker events that must arrive for the step's container while the step runs
//! (e.g. `[kill, die, oom]`). Their timestamps are the daemon's own, which cross-check our clock.

use super::CheckResult;
use crate::record::{EventRecord, StepOutcome, StepRecord};

/// Container event actions the daemon emits (`exec_*` ones are matched by prefix).
const KNOWN: &[&str] = &[
    "attach",
    "commit",
    "copy",
    "create",
    "destroy",
    "detach",
    "die",
    "exec_create",
    "exec_start",
    "exec_die",
    "export",
    "health_status",
    "kill",
    "oom",
    "pause",
    "rename",
    "resize",
    "restart",
    "start",
    "stop",
    "top",
    "unpause",
    "update",
];

/// Unknown event names, for validation.
pub fn problems(expected: &[String]) -> Vec<String> {
    expected
        .iter()
        .filter(|e| !KNOWN.contains(&e.as_str()))
        .map(|e| {
            format!(
                "events: unknown docker event {e:?} (known: {})",
                KNOWN.join(", ")
            )
        })
        .collect()
}

/// Checks that every expected event was seen for the step's container.
pub fn check(expected: &[String], step: &StepRecord, events: &[&EventRecord]) -> CheckResult {
    let name = "events";
    let want = expected.join(", ");
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, want, "not observed: the step did not complete");
    }
    let seen: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    let missing: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|e| !seen.contains(e))
        .collect();
    let observed = if seen.is_empty() {
        "no events".to_string()
    } else {
        seen.join(", ")
    };
    if missing.is_empty() {
        CheckResult::new(name, want, observed, true)
    } else {
        CheckResult::new(
            name,
            want,
            format!("{observed} (missing: {})", missing.join(", ")),
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::testutil::*;
    use crate::verdict::Outcome;
    use std::time::Duration;

    fn ev(action: &str) -> EventRecord {
        EventRecord {
            t: Duration::from_secs(2),
            time_nano: 0,
            action: action.into(),
            container: Some("web".into()),
            attributes: Default::default(),
        }
    }

    #[test]
    fn present_and_missing() {
        let s = step(exited(137, true), 1.0);
        let (oom, die) = (ev("oom"), ev("die"));
        let want = vec!["oom".to_string(), "die".to_string()];
        assert_eq!(check(&want, &s, &[&oom, &die]).outcome, Outcome::Pass);
        let r = check(&want, &s, &[&die]);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.observed.contains("missing: oom"), "{}", r.observed);
    }

    #[test]
    fn unknown_names_are_problems() {
        assert_eq!(problems(&["oom".into(), "boom".into()]).len(), 1);
    }
}
