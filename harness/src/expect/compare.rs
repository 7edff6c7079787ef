//! `unchanged` and `changed`: compare the container's observation after this step with its latest
//! observation in an earlier step of the same iteration — e.g. the PID and StartedAt of a container
//! must be unchanged across a live-restore restart, and the PID must change after a restart policy
//! brought a killed container back.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CheckResult;
use crate::record::{Observation, StepOutcome, StepRecord};

/// Fields of a container observation that can be compared.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Host PID of the container's process 1.
    Pid,
    /// `State.StartedAt`.
    StartedAt,
    /// Restart count.
    RestartCount,
    /// State.
    State,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Pid => "pid",
            Field::StartedAt => "started_at",
            Field::RestartCount => "restart_count",
            Field::State => "state",
        }
    }

    fn get(self, o: &Observation) -> String {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        match self {
            Field::Pid => opt(o.pid.map(|p| p.to_string())),
            Field::StartedAt => opt(o.started_at.clone()),
            Field::RestartCount => opt(o.restart_count.map(|c| c.to_string())),
            Field::State => o.state.clone(),
        }
    }
}

/// Checks that `fields` are equal (`same == true`) or all different from the previous observation.
pub fn check(
    fields: &[Field],
    same: bool,
    step: &StepRecord,
    earlier: &[&StepRecord],
) -> CheckResult {
    let name = if same { "unchanged" } else { "changed" };
    let want = fields
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ");
    let (Some(now), StepOutcome::Ok) = (&step.observation, &step.outcome) else {
        return CheckResult::unknown(name, want, "not observed: the step did not complete");
    };
    let Some(before) = earlier
        .iter()
        .rev()
        .filter(|s| s.container == step.container)
        .find_map(|s| s.observation.as_ref())
    else {
        return CheckResult::new(
            name,
            want,
            "no earlier observation of this container to compare with".into(),
            false,
        );
    };
    let diffs: Vec<String> = fields
        .iter()
        .map(|f| (f, f.get(before), f.get(now)))
        .map(|(f, a, b)| {
            if a == b {
                format!("{} {a} (same)", f.name())
            } else {
                format!("{} {a} → {b}", f.name())
            }
        })
        .collect();
    let pass = fields.iter().all(|f| (f.get(before) == f.get(now)) == same);
    CheckResult::new(name, want, diffs.join(", "), pass)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::testutil::*;
    use crate::verdict::Outcome;

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
}
