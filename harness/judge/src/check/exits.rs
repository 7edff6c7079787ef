//! The `exits` check: the step's container's exits since its iteration began, counted by cause
//! from the daemon's events.

use super::CheckResult;
use crate::expect::{Count, Exits};
use crate::record::{EventRecord, IterationRecord, Source, StepOutcome, StepRecord};

/// Whether `n` exits satisfy `count`.
fn holds(count: Count, n: u32) -> bool {
    match count {
        Count::Exactly(v) => n == v,
        Count::Range(r) => r.min.is_none_or(|m| n >= m) && r.max.is_none_or(|m| n <= m),
    }
}

/// Exits of one container by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitCounts {
    /// OOM-killed.
    pub oom_killed: u32,
    /// Killed through the daemon.
    pub killed: u32,
    /// Failed on their own.
    pub failed: u32,
    /// Exited 0 on their own.
    pub clean: u32,
}

impl ExitCounts {
    /// Counts the exits in a container's events (in arrival order), run by run: a run's `oom`
    /// notice may arrive just after its `die` (the runtime's OOM and exit notices travel
    /// separately), so a run is judged when the next one starts.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a EventRecord>) -> Self {
        let mut c = ExitCounts::default();
        let mut run = Run::default();
        for e in events {
            match e.action.as_str() {
                "start" => c.add(std::mem::take(&mut run)),
                "oom" => run.oom = true,
                "kill" if run.exit.is_none() => run.kill = true,
                "die" => {
                    if run.exit.is_some() {
                        c.add(std::mem::take(&mut run));
                    }
                    run.exit = Some(e.attributes.get("exitCode").cloned());
                }
                _ => {}
            }
        }
        c.add(run);
        c
    }

    fn add(&mut self, run: Run) {
        let Some(code) = run.exit else { return };
        if run.oom {
            self.oom_killed += 1;
        } else if run.kill {
            self.killed += 1;
        } else if code.as_deref() == Some("0") {
            self.clean += 1;
        } else {
            self.failed += 1;
        }
    }

    fn text(&self) -> String {
        format!(
            "oom_killed {}, killed {}, failed {}, clean {}",
            self.oom_killed, self.killed, self.failed, self.clean
        )
    }
}

/// One run of a container: what its events said until it exited.
#[derive(Default)]
struct Run {
    oom: bool,
    kill: bool,
    /// Its `die` event's exit code, once it died.
    exit: Option<Option<String>>,
}

/// Checks the exit counts of the step's container from its iteration's start to the step's end.
pub fn check(want: &Exits, step: &StepRecord, it: &IterationRecord) -> CheckResult {
    let name = "exits";
    let parts: Vec<String> = [
        ("oom_killed", want.oom_killed),
        ("killed", want.killed),
        ("failed", want.failed),
        ("clean", want.clean),
    ]
    .iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k} {}", v.describe())))
    .collect();
    let expected = parts.join(", ");
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, expected, "not observed: the step did not complete");
    }
    let Some(id) = step.container_id.as_deref() else {
        return CheckResult::new(name, expected, "the step has no container".into(), false);
    };
    if let Some(gap) = it.gap(Source::Events, it.started, step.observed_until) {
        return CheckResult::unknown(
            name,
            expected,
            &format!("the exits may be incomplete: {}", gap.reason),
        );
    }
    let events = it
        .events
        .iter()
        .filter(|e| e.id == id && e.t <= step.observed_until);
    let c = ExitCounts::of(events);
    let pass = [
        (want.oom_killed, c.oom_killed),
        (want.killed, c.killed),
        (want.failed, c.failed),
        (want.clean, c.clean),
    ]
    .iter()
    .all(|(w, n)| w.is_none_or(|w| holds(w, *n)));
    CheckResult::new(name, expected, c.text(), pass)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::expect::CountRange;
    use crate::verdict::Outcome;
    use std::time::Duration;

    fn iteration(events: Vec<EventRecord>) -> IterationRecord {
        IterationRecord {
            events,
            ..Default::default()
        }
    }

    #[test]
    fn causes_are_told_apart_run_by_run() {
        let it = iteration(vec![
            event("start", WEB_ID, 0.1, None),
            event("oom", WEB_ID, 0.2, None),
            event("die", WEB_ID, 0.2, Some("137")),
            event("start", WEB_ID, 0.3, None),
            // The oom notice arrives after the die: still this run's.
            event("die", WEB_ID, 0.4, Some("137")),
            event("oom", WEB_ID, 0.41, None),
            event("start", WEB_ID, 0.5, None),
            event("die", WEB_ID, 0.6, Some("3")),
            event("start", WEB_ID, 0.7, None),
            event("kill", WEB_ID, 0.8, None),
            event("die", WEB_ID, 0.8, Some("143")),
            event("start", WEB_ID, 0.85, None),
            event("die", WEB_ID, 0.9, Some("0")),
            // Another container's exits never count.
            event("oom", "other", 0.5, None),
            event("die", "other", 0.5, Some("137")),
            // After the step was observed.
            event("die", WEB_ID, 9.0, Some("1")),
        ]);
        let s = step(exited(0, false), 1.0);
        let want = Exits {
            oom_killed: Some(Count::Exactly(2)),
            killed: Some(Count::Exactly(1)),
            failed: Some(Count::Exactly(1)),
            clean: Some(Count::Range(CountRange {
                min: Some(1),
                max: None,
            })),
        };
        let r = check(&want, &s, &it);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        assert_eq!(r.observed, "oom_killed 2, killed 1, failed 1, clean 1");
        let wrong = Exits {
            oom_killed: Some(Count::Range(CountRange {
                min: Some(3),
                max: None,
            })),
            ..Default::default()
        };
        assert_eq!(check(&wrong, &s, &it).outcome, Outcome::Fail);
    }

    #[test]
    fn a_gap_makes_the_counts_unknown() {
        let mut it = iteration(vec![event("die", WEB_ID, 0.2, Some("1"))]);
        it.gaps.push(crate::record::SourceGap {
            source: Source::Events,
            from: Duration::from_millis(100),
            until: Some(Duration::from_millis(150)),
            reason: "the event stream was lost".into(),
        });
        let want = Exits {
            failed: Some(Count::Exactly(1)),
            ..Default::default()
        };
        let r = check(&want, &step(exited(1, false), 1.0), &it);
        assert_eq!(r.outcome, Outcome::Unknown, "{r:?}");
    }
}
