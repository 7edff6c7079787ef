//! The `leaks` check: what a `check_leaks` step found.

use super::CheckResult;
use crate::expect::{LeakKind, Leaks};
use crate::record::{LeakFinding, StepOutcome, StepRecord};

/// Checks the leaks a `check_leaks` step recorded. A kind that could not be read makes `none`
/// (and a required kind) `unknown`, never `pass`.
pub fn check(e: &Leaks, step: &StepRecord) -> CheckResult {
    let name = "leaks";
    let want = match e {
        Leaks::None(_) => "none".to_string(),
        Leaks::Found(k) => format!(
            "found: {}",
            k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, want, "not observed: the step did not complete");
    }
    let Some(findings) = &step.leaks else {
        return CheckResult::new(
            name,
            want,
            "this step does not check leaks (use check_leaks)".into(),
            false,
        );
    };
    let found: Vec<(&str, &Vec<String>)> = findings
        .iter()
        .filter_map(|(k, f)| match f {
            LeakFinding::Found(v) if !v.is_empty() => Some((k.as_str(), v)),
            _ => None,
        })
        .collect();
    let unavailable: Vec<(&str, &str)> = findings
        .iter()
        .filter_map(|(k, f)| match f {
            LeakFinding::Unavailable(why) => Some((k.as_str(), why.as_str())),
            _ => None,
        })
        .collect();
    let mut observed = if found.is_empty() {
        "none".to_string()
    } else {
        found
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !unavailable.is_empty() {
        observed.push_str(&format!(
            " (not read: {})",
            unavailable
                .iter()
                .map(|(k, why)| format!("{k}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    match e {
        // Something found fails `none` whatever could not be read; nothing found passes only if
        // every kind was read.
        Leaks::None(_) if !found.is_empty() => CheckResult::new(name, want, observed, false),
        Leaks::None(_) if !unavailable.is_empty() => CheckResult::unknown(name, want, &observed),
        Leaks::None(_) => CheckResult::new(name, want, observed, true),
        Leaks::Found(kinds) => {
            let is_found = |k: &LeakKind| found.iter().any(|(f, _)| *f == k.as_str());
            let unreadable = |k: &LeakKind| unavailable.iter().any(|(u, _)| *u == k.as_str());
            if kinds.iter().all(is_found) {
                CheckResult::new(name, want, observed, true)
            } else if kinds.iter().any(|k| !is_found(k) && unreadable(k)) {
                CheckResult::unknown(name, want, &observed)
            } else {
                CheckResult::new(name, want, observed, false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::expect::NoLeaks;
    use crate::verdict::Outcome;

    fn with(findings: &[(&str, LeakFinding)]) -> StepRecord {
        let mut s = step(exited(0, false), 0.1);
        s.leaks = Some(
            ["veth", "bridge_port", "netns", "mount", "shim", "cgroup"]
                .iter()
                .map(|k| (k.to_string(), LeakFinding::Found(vec![])))
                .chain(findings.iter().map(|(k, f)| (k.to_string(), f.clone())))
                .collect(),
        );
        s
    }

    #[test]
    fn none_and_found() {
        let none = Leaks::None(NoLeaks::None);
        let clean = with(&[]);
        assert_eq!(check(&none, &clean).outcome, Outcome::Pass);
        assert_eq!(
            check(&Leaks::Found(vec![LeakKind::Veth]), &clean).outcome,
            Outcome::Fail
        );
        let leaked = with(&[(
            "veth",
            LeakFinding::Found(vec!["sdleak1".into(), "sdleak2".into()]),
        )]);
        let r = check(&none, &leaked);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(
            r.observed.contains("veth: sdleak1, sdleak2"),
            "{}",
            r.observed
        );
        assert_eq!(
            check(&Leaks::Found(vec![LeakKind::Veth]), &leaked).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn an_unreadable_kind_fails_closed() {
        let none = Leaks::None(NoLeaks::None);
        let blind = with(&[("veth", LeakFinding::Unavailable("`ip` failed".into()))]);
        let r = check(&none, &blind);
        assert_eq!(r.outcome, Outcome::Unknown, "{r:?}");
        assert!(r.observed.contains("`ip` failed"), "{}", r.observed);
        assert_eq!(
            check(&Leaks::Found(vec![LeakKind::Veth]), &blind).outcome,
            Outcome::Unknown
        );
        // What was found still fails `none`, and still satisfies a requirement for it.
        let mixed = with(&[
            ("veth", LeakFinding::Unavailable("`ip` failed".into())),
            ("netns", LeakFinding::Found(vec!["/run/x".into()])),
        ]);
        assert_eq!(check(&none, &mixed).outcome, Outcome::Fail);
        assert_eq!(
            check(&Leaks::Found(vec![LeakKind::Netns]), &mixed).outcome,
            Outcome::Pass
        );
        // No findings recorded at all: not a leak check.
        let mut plain = step(exited(0, false), 0.1);
        plain.leaks = None;
        assert_eq!(check(&none, &plain).outcome, Outcome::Fail);
    }
}
