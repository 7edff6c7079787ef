//! Expectations: what must hold after a step. Each kind lives in its own file; this file lists them
//! in the scenario format. These are types only: the checks that judge them are in `check/`.

mod compare;
mod duration;
mod error;
pub mod events;
mod exit_code;
mod exits;
mod facts;
mod kernel_log;
mod leaks;
mod state;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use compare::{Against, Field, Relation};
pub use duration::Bounds;
pub use error::ErrorExpect;
pub use exit_code::ExitCode;
pub use exits::{Count, CountRange, Exits};
pub use facts::{Api, ProbeState};
pub use kernel_log::KernelLog;
pub use leaks::{LeakKind, Leaks, NoLeaks};
pub use state::State;

/// What must hold after a step's action. Every field is optional; each one set is one check.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The action must fail: `{}` for any failure, or with `contains` (text of the error) and
    /// `status` (the Docker API's HTTP status). The steps after it still run.
    #[serde(default)]
    pub error: Option<error::ErrorExpect>,
    /// The container's exit code (`State.ExitCode`), e.g. 137 after SIGKILL, 143 after SIGTERM, or
    /// a list of acceptable codes; after an `exec` step, the command's exit code.
    #[serde(default)]
    pub exit_code: Option<ExitCode>,
    /// Whether the kernel's OOM killer killed the container (`State.OOMKilled`).
    #[serde(default)]
    pub oom_killed: Option<bool>,
    /// How many times the daemon restarted the container under its restart policy
    /// (`RestartCount`), exactly.
    #[serde(default)]
    pub restart_count: Option<i64>,
    /// The container's state after the step.
    #[serde(default)]
    pub state: Option<State>,
    /// The container's exits since the iteration began, counted by cause from the daemon's
    /// events: `{oom_killed: {min: 2}, killed: 0, failed: 0, clean: 0}` (a number is exact).
    #[serde(default)]
    pub exits: Option<Exits>,
    /// Bounds on the action's duration (monotonic clock), e.g. `{min: 4.5s, max: 8s}`.
    #[serde(default)]
    pub duration: Option<Bounds>,
    /// Docker events of the container during the step: a list that must be seen, e.g.
    /// `[kill, die, oom]`, or `{present: [...], absent: [...]}` (events that must not be seen).
    #[serde(default)]
    pub events: Option<events::EventsExpect>,
    /// Bounds on any other measure of the step by name, e.g. `time_to_oom: {max: 30s}`; counts
    /// (`shims`, `mounts`, `netns`) take plain numbers (`{max: 0}`).
    #[serde(default)]
    pub measures: BTreeMap<String, Bounds>,
    /// Observation fields that must be the same as at the container's previous observation
    /// (e.g. `[pid, started_at]` across a live-restore restart).
    #[serde(default)]
    pub unchanged: Option<Vec<Field>>,
    /// Observation fields that must differ from the container's previous observation.
    #[serde(default)]
    pub changed: Option<Vec<Field>>,
    /// Facts that must be the same as at an earlier step, e.g. `{step: before, fields: [pid]}`
    /// (the PID across a daemon restart, an exec's `output`).
    #[serde(default)]
    pub same_as: Option<Against>,
    /// Facts that must differ from an earlier step's, e.g. `{step: before, fields: [pid]}`.
    #[serde(default)]
    pub differs_from: Option<Against>,
    /// Times that must be later than at an earlier step, e.g.
    /// `{step: before, fields: [started_at]}` after a restart.
    #[serde(default)]
    pub later_than: Option<Against>,
    /// The API's state as the step's probe saw it (`probe_api`, `daemon_freeze`).
    #[serde(default)]
    pub api: Option<Api>,
    /// Text the output of an `exec` step must contain.
    #[serde(default)]
    pub output: Option<String>,
    /// Kernel log lines (from the iteration's start to this step) that must or must not appear.
    #[serde(default)]
    pub kernel_log: Option<KernelLog>,
    /// What `check_leaks` found: `none`, or the kinds that must be found.
    #[serde(default)]
    pub leaks: Option<Leaks>,
    /// A `probe` or `log` step's verdict: `up` (answered, made progress) or `down` (hung).
    #[serde(default)]
    pub probe: Option<ProbeState>,
}

impl Expect {
    /// Problems in the expectation itself (e.g. `min` above `max`), for validation.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if let Some(b) = &self.duration {
            p.extend(b.problems("duration"));
        }
        for (name, b) in &self.measures {
            p.extend(b.problems(&format!("measures.{name}")));
        }
        if let Some(ev) = &self.events {
            p.extend(events::problems(ev));
        }
        for (key, fields) in [("unchanged", &self.unchanged), ("changed", &self.changed)] {
            if fields.iter().flatten().any(|f| *f == Field::Output) {
                p.push(format!(
                    "expect: `{key}` compares container observations: compare `output` with \
                     `same_as: {{step: NAME, fields: [output]}}`"
                ));
            }
        }
        for (rel, a) in self.comparisons() {
            if a.fields.is_empty() {
                p.push(format!("expect: `{}`: `fields` is empty", rel.key()));
            }
            if rel == Relation::Later {
                for f in a.fields.iter().filter(|f| !f.is_time()) {
                    p.push(format!(
                        "expect: `later_than` compares times (started_at, finished_at), not `{}`",
                        f.name()
                    ));
                }
            }
        }
        if let Some(x) = &self.exits {
            p.extend(exits::problems(x));
        }
        if let Some(e) = &self.error {
            p.extend(e.problems());
        }
        if self.error.is_some()
            && (self.needs_container()
                || self.duration.is_some()
                || !self.measures.is_empty()
                || self.comparisons().next().is_some()
                || self.api.is_some()
                || self.kernel_log.is_some()
                || self.leaks.is_some()
                || self.probe.is_some())
        {
            p.push(
                "expect: `error` cannot be combined with other expectations: an action that fails \
                 observes nothing (check the state in a later step)"
                    .into(),
            );
        }
        p
    }

    /// The comparisons with earlier steps (`same_as`, `differs_from`, `later_than`) that are set.
    pub fn comparisons(&self) -> impl Iterator<Item = (Relation, &Against)> {
        [
            (Relation::Same, &self.same_as),
            (Relation::Differs, &self.differs_from),
            (Relation::Later, &self.later_than),
        ]
        .into_iter()
        .filter_map(|(r, a)| a.as_ref().map(|a| (r, a)))
    }

    /// Whether any check reads the container's state.
    pub fn needs_container(&self) -> bool {
        self.exit_code.is_some()
            || self.oom_killed.is_some()
            || self.restart_count.is_some()
            || self.state.is_some()
            || self.events.is_some()
            || self.exits.is_some()
            || self.unchanged.is_some()
            || self.changed.is_some()
            || self.output.is_some()
    }
}
