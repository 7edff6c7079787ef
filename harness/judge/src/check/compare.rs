//! The comparisons with an earlier observation: `same_as`, `differs_from`, `later_than`,
//! `unchanged` and `changed` (see [`crate::expect::Against`]).

use super::{outcome_text, CheckResult};
use crate::anchor::{effect_of, Anchors, Effect};
use crate::expect::{Against, Field, Relation};
use crate::outcome::Outcome;
use crate::record::{StepOutcome, StepRecord};
use crate::units::parse_time;

/// The field's value in a step's record, or why there is none.
fn get(field: Field, s: &StepRecord) -> Result<String, String> {
    if s.outcome != StepOutcome::Ok {
        return Err(format!("not observed: step {}", outcome_text(s)));
    }
    if field == Field::Output {
        return s
            .facts
            .get("exec_output")
            .cloned()
            .ok_or_else(|| "not observed: no exec output".into());
    }
    let o = s
        .observation
        .as_ref()
        .ok_or_else(|| "not observed: the container was not inspected".to_string())?;
    let missing = || format!("not observed: no {}", field.name());
    match field {
        Field::Pid => o.pid.map(|p| p.to_string()).ok_or_else(missing),
        Field::StartedAt => o.started_at.clone().ok_or_else(missing),
        Field::FinishedAt => o.finished_at.clone().ok_or_else(missing),
        Field::RestartCount => o.restart_count.map(|c| c.to_string()).ok_or_else(missing),
        Field::State => Ok(o.state.clone()),
        Field::Output => unreachable!("handled above"),
    }
}

fn show(field: Field, v: &str) -> String {
    if field == Field::Output {
        let shown: String = v.chars().take(200).collect();
        format!("{shown:?}")
    } else {
        v.to_string()
    }
}

/// Checks `fields` of `step` against the step labelled `against.step` among `earlier`.
pub fn check_against(
    against: &Against,
    rel: Relation,
    step: &StepRecord,
    earlier: &[&StepRecord],
) -> CheckResult {
    let name = against.step.value.as_str();
    let want = format!("{} {} '{name}'", list(&against.fields), words(rel));
    match earlier.iter().rev().find(|s| s.label == name) {
        Some(before) => compare(rel.key(), want, &against.fields, rel, before, step),
        None => CheckResult::unknown(
            rel.key(),
            want,
            &format!("not observed: step '{name}' has no record in this iteration"),
        ),
    }
}

/// Checks that `fields` are equal (`same == true`) or all different from the container's previous
/// observation.
pub fn check(
    fields: &[Field],
    same: bool,
    step: &StepRecord,
    earlier: &[&StepRecord],
) -> CheckResult {
    let (key, rel) = if same {
        ("unchanged", Relation::Same)
    } else {
        ("changed", Relation::Differs)
    };
    let want = list(fields);
    if step.outcome != StepOutcome::Ok || step.observation.is_none() {
        return CheckResult::unknown(key, want, "not observed: the step did not complete");
    }
    let Some(before) = anchor(step, earlier) else {
        return CheckResult::new(
            key,
            want,
            "no earlier observation of this container to compare with".into(),
            false,
        );
    };
    compare(key, want, fields, rel, before, step)
}

/// The earlier step whose look `step` compares with: its container's anchor, folded from the
/// earlier steps by the rule the runner follows ([`crate::anchor`]) — never a look taken while an
/// earlier step's effect (a `kill`'s restart) may still have been unfolding.
fn anchor<'r>(step: &StepRecord, earlier: &[&'r StepRecord]) -> Option<&'r StepRecord> {
    let mut anchors = Anchors::default();
    for s in earlier {
        let effect = effect_of(&s.action).unwrap_or(Effect::Continues);
        let look = s.observation.as_ref().map(|_| *s);
        anchors.after(effect, s.container.as_deref(), look);
    }
    anchors.before(step.container.as_deref()?).copied()
}

fn list(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn words(rel: Relation) -> &'static str {
    match rel {
        Relation::Same => "same as at",
        Relation::Differs => "different from",
        Relation::Later => "later than at",
    }
}

/// Compares each field of `now` with `before`: fail when one definitely does not hold, unknown when
/// one could not be read (on either side), pass otherwise.
fn compare(
    key: &str,
    want: String,
    fields: &[Field],
    rel: Relation,
    before: &StepRecord,
    now: &StepRecord,
) -> CheckResult {
    let mut parts = Vec::new();
    let mut outcome = Outcome::Pass;
    let mut worse = |o: Outcome| {
        outcome = match (outcome, o) {
            (Outcome::Fail, _) | (_, Outcome::Fail) => Outcome::Fail,
            (Outcome::Unknown, _) | (_, Outcome::Unknown) => Outcome::Unknown,
            _ => Outcome::Pass,
        }
    };
    for &f in fields {
        let (a, b) = match (get(f, before), get(f, now)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(why), _) => {
                parts.push(format!("{} at '{}': {why}", f.name(), before.label));
                worse(Outcome::Unknown);
                continue;
            }
            (_, Err(why)) => {
                parts.push(format!("{}: {why}", f.name()));
                worse(Outcome::Unknown);
                continue;
            }
        };
        let holds = match rel {
            Relation::Same => Some(a == b),
            Relation::Differs => Some(a != b),
            Relation::Later => match (parse_time(&a), parse_time(&b)) {
                (Some(x), Some(y)) => Some(y > x),
                _ => None,
            },
        };
        parts.push(if a == b {
            format!("{} {} (same)", f.name(), show(f, &a))
        } else {
            format!("{} {} → {}", f.name(), show(f, &a), show(f, &b))
        });
        match holds {
            Some(true) => {}
            Some(false) => worse(Outcome::Fail),
            None => {
                parts.push(format!("{}: not a time", f.name()));
                worse(Outcome::Unknown);
            }
        }
    }
    CheckResult {
        expectation: key.into(),
        expected: want,
        observed: parts.join(", "),
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::record::Observation;
    use serde_saphyr::Spanned;

    fn running(pid: i64) -> Observation {
        Observation {
            state: "running".into(),
            pid: Some(pid),
            started_at: Some("t1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn same_and_different_pids() {
        let before = step(running(10), 0.1);
        let same = step(running(10), 0.1);
        let moved = step(running(11), 0.1);
        assert_eq!(
            check(&[Field::Pid], true, &same, &[&before]).outcome,
            Outcome::Pass
        );
        let r = check(&[Field::Pid], true, &moved, &[&before]);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.observed.contains("10 → 11"), "{}", r.observed);
        assert_eq!(
            check(&[Field::Pid], false, &moved, &[&before]).outcome,
            Outcome::Pass
        );
        assert_eq!(
            check(&[Field::Pid], false, &same, &[]).outcome,
            Outcome::Fail
        );
    }

    /// A step of `action` whose look shows PID `pid`.
    fn look(action: &str, pid: i64) -> StepRecord {
        let mut s = step(running(pid), 0.1);
        s.action = action.into();
        s
    }

    #[test]
    fn a_look_after_a_kill_is_not_what_later_steps_compare_with() {
        // start (PID 10) → kill (its look already shows the restart: 11) → inspect (11) →
        // wait_for (11): the restart is seen against the PID before the kill.
        let (start, kill, inspect) = (look("start", 10), look("kill", 11), look("inspect", 11));
        let wait_for = look("wait_for", 11);
        let earlier = [&start, &kill, &inspect];
        let r = check(&[Field::Pid], false, &wait_for, &earlier);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        assert!(r.observed.contains("10 → 11"), "{}", r.observed);
        // Once a step settled (wait_for), later looks compare with it.
        let again = look("inspect", 11);
        let r = check(
            &[Field::Pid],
            true,
            &again,
            &[&start, &kill, &inspect, &wait_for],
        );
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        // A daemon fault (no container) unsettles every container the same way.
        let mut restart = look("daemon_kill", 0);
        (restart.container, restart.observation) = (None, None);
        let r = check(
            &[Field::Pid],
            true,
            &look("inspect", 10),
            &[&start, &restart, &kill],
        );
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    }

    fn at(label: &str, started: &str) -> StepRecord {
        let mut s = step(
            Observation {
                state: "running".into(),
                pid: Some(7),
                started_at: Some(started.into()),
                ..Default::default()
            },
            0.1,
        );
        s.label = label.into();
        s
    }

    fn against(step: &str, fields: &[Field]) -> Against {
        Against {
            step: Spanned::new(
                step.to_string(),
                serde_saphyr::Location::UNKNOWN,
                serde_saphyr::Location::UNKNOWN,
            ),
            fields: fields.to_vec(),
        }
    }

    #[test]
    fn later_than_reads_times_not_text() {
        let before = at("before", "2026-01-01T10:00:00.9Z");
        // Fewer fraction digits, later time: text order would say earlier.
        let now = at("after", "2026-01-01T10:00:01Z");
        let a = against("before", &[Field::StartedAt]);
        let r = check_against(&a, Relation::Later, &now, &[&before]);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        let back = against("after", &[Field::StartedAt]);
        let r = check_against(&back, Relation::Later, &before, &[&now]);
        assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
        assert!(r.observed.contains("→"), "{}", r.observed);
        let same = check_against(
            &a,
            Relation::Later,
            &at("x", "2026-01-01T10:00:00.9Z"),
            &[&before],
        );
        assert_eq!(same.outcome, Outcome::Fail);
        // Offsets count.
        assert_eq!(
            parse_time("2026-01-01T11:00:00+01:00"),
            parse_time("2026-01-01T10:00:00Z")
        );
        assert!(
            parse_time("0001-01-01T00:00:00Z").unwrap()
                < parse_time("1970-01-01T00:00:00Z").unwrap()
        );
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn missing_earlier_observation_is_unknown_never_pass() {
        let mut before = at("before", "2026-01-01T10:00:00Z");
        before.outcome = StepOutcome::Error {
            kind: Default::default(),
            message: "boom".into(),
            http_status: None,
        };
        let now = at("after", "2026-01-01T10:00:00Z");
        for rel in [Relation::Same, Relation::Differs, Relation::Later] {
            let a = against("before", &[Field::StartedAt]);
            let r = check_against(&a, rel, &now, &[&before]);
            assert_eq!(r.outcome, Outcome::Unknown, "{rel:?}: {r:?}");
            let r = check_against(&a, rel, &now, &[]);
            assert_eq!(r.outcome, Outcome::Unknown, "{rel:?}: {r:?}");
        }
        // A definite failure of one field still fails.
        let mut moved = at("after", "2026-01-01T10:00:00Z");
        moved.observation.as_mut().unwrap().pid = Some(8);
        let mut half = at("before", "2026-01-01T10:00:00Z");
        half.observation.as_mut().unwrap().finished_at = None;
        let a = against("before", &[Field::FinishedAt, Field::Pid]);
        let r = check_against(&a, Relation::Same, &moved, &[&half]);
        assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    }

    #[test]
    fn exec_output() {
        let mut a = at("first", "t");
        a.facts.insert("exec_output".into(), "1234\n".into());
        let mut b = at("second", "t");
        b.facts.insert("exec_output".into(), "1234\n".into());
        let output = against("first", &[Field::Output]);
        let r = check_against(&output, Relation::Same, &b, &[&a]);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        b.facts.insert("exec_output".into(), "99\n".into());
        let r = check_against(&output, Relation::Same, &b, &[&a]);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(
            r.observed.contains("\"1234\\n\" → \"99\\n\""),
            "{}",
            r.observed
        );
    }
}
