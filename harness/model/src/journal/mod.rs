//! The journal's vocabulary: what a run did and saw, as typed events appended as they happen (JSON
//! Lines, flushed line by line; written, read and folded in the crates above). It is the one
//! source of truth after the run: the run record, the verdicts and every report are computed from
//! it, so `shakedown judge FILE` gives the
//! same verdicts offline — for a run killed midway too (its unfinished scenarios are `unknown`).
//!
//! The first lines are the run's identity, the resolved plan and the environment's fingerprint;
//! then steps, observations, daemon events (both clocks), probe samples, kernel lines, measures,
//! and every change to the host or a daemon — journaled *before* it is made, with the handle that
//! undoes it ([`change`]) — and its undoing. The format is documented in `docs/journal.md`.

pub mod change;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use change::{Change, ChangeScope, DaemonRef, NetnsId, NetnsRef, Rlimit, SystemDaemonSpec};

use crate::record::{
    secs, ContainerOutput, EventRecord, Fingerprint, KernelLine, LeakFinding, Measure, Observation,
    Sample, SourceGap, StepOutcome,
};
use crate::scenario::Scenario;

/// The journal format's version; `judge` refuses other versions.
pub const FORMAT: u32 = 1;

/// One line of the journal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// Its number, from 0, in file order.
    pub seq: u64,
    /// When it happened: monotonic seconds since the run started.
    #[serde(with = "secs")]
    pub t: Duration,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// Who ran and where: the journal's first line.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunStart {
    /// The journal format.
    pub format: u32,
    /// The run id (the `io.shakedown.run` label of everything it creates).
    pub run_id: String,
    /// The harness version.
    pub version: String,
    /// The harness's pid.
    pub pid: u32,
    /// Its start time (clock ticks since boot): with the pid, the process's identity.
    pub pid_start_time: u64,
    /// Host name.
    pub host: String,
    /// Wall-clock start, seconds since the Unix epoch.
    pub started_unix: f64,
    /// The target kind.
    pub target: String,
    /// The command line.
    pub argv: Vec<String>,
}

/// A scenario of the resolved plan, as journaled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlannedEntry {
    /// The file it came from.
    pub file: PathBuf,
    /// Iterations.
    pub repeat: u32,
    /// The scenario, validated.
    pub scenario: Scenario,
}

impl PartialEq for PlannedEntry {
    fn eq(&self, other: &Self) -> bool {
        self.file == other.file
            && self.repeat == other.repeat
            && serde_json::to_value(&self.scenario).ok()
                == serde_json::to_value(&other.scenario).ok()
    }
}

/// Where in the plan an event happened: scenario (index in the plan), iteration, step.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct At {
    /// Scenario index in the plan.
    pub scenario: usize,
    /// Iteration, from 0.
    pub iteration: u32,
    /// Step index, from 0.
    pub step: usize,
}

/// What happened. Times are the entry's `t` unless the event carries its own.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run started.
    RunStarted(RunStart),
    /// The resolved plan: every scenario, in run order.
    Plan {
        /// The scenarios.
        scenarios: Vec<PlannedEntry>,
    },
    /// A piece of the run's setup and how long it took (a target ready, the fixture image on it).
    Setup {
        /// What: `target ready`, `fixture image`.
        name: String,
        /// Its duration in seconds.
        seconds: f64,
    },
    /// The engine and host.
    Fingerprint {
        /// Versions and settings.
        fingerprint: Fingerprint,
    },
    /// A scenario started.
    ScenarioStarted {
        /// Its index in the plan.
        scenario: usize,
    },
    /// An iteration started; its containers carry `io.shakedown.iteration=<label>`.
    IterationStarted {
        /// Scenario index.
        scenario: usize,
        /// Iteration.
        iteration: u32,
        /// The iteration's label value.
        label: String,
    },
    /// A container of the iteration was created.
    ContainerCreated {
        /// Scenario index.
        scenario: usize,
        /// Iteration.
        iteration: u32,
        /// Its name in the scenario.
        container: String,
        /// Its docker id.
        id: String,
    },
    /// A step's action started.
    StepStarted {
        /// Where.
        at: At,
        /// The step's label.
        label: String,
        /// The action's name.
        action: String,
        /// Its deadline.
        #[serde(with = "secs")]
        deadline: Duration,
        /// The scenario container it acts on.
        container: Option<String>,
        /// That container's docker id, if it exists yet.
        container_id: Option<String>,
        /// The step runs in the background: the steps after it start before it finishes, and its
        /// events (all carrying its `at`) interleave with theirs.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        background: bool,
    },
    /// A measure taken by the step.
    Measure {
        /// Where.
        at: At,
        /// The value.
        measure: Measure,
    },
    /// A fact the step's action observed.
    Fact {
        /// Where.
        at: At,
        /// Its name.
        name: String,
        /// Its value.
        value: String,
    },
    /// One probe attempt.
    Sample {
        /// Where.
        at: At,
        /// The attempt.
        sample: Sample,
    },
    /// What `check_leaks` found.
    Leaks {
        /// Where.
        at: At,
        /// By kind.
        findings: std::collections::BTreeMap<String, LeakFinding>,
    },
    /// The step's action ended (`t` is its end).
    StepFinished {
        /// Where.
        at: At,
        /// How.
        outcome: StepOutcome,
        /// Its forensics bundle.
        forensics: Option<PathBuf>,
    },
    /// The step's container as the daemon reported it after the action.
    Observation {
        /// Where.
        at: At,
        /// The container's docker id.
        container_id: String,
        /// Its state.
        observation: Observation,
    },
    /// Observation of the step ended: events up to `t` count as the step's.
    StepSettled {
        /// Where.
        at: At,
    },
    /// A daemon event about one of the iteration's containers.
    DaemonEvent {
        /// Scenario index.
        scenario: usize,
        /// Iteration.
        iteration: u32,
        /// The event (its `t` is when the harness received it).
        record: EventRecord,
    },
    /// A container's last output and final state, read at the end of its iteration (before it is
    /// removed): the evidence of what it did.
    ContainerOutput {
        /// Scenario index.
        scenario: usize,
        /// Iteration.
        iteration: u32,
        /// What was read.
        output: ContainerOutput,
    },
    /// A kernel log line.
    KernelLine {
        /// Scenario index.
        scenario: usize,
        /// Iteration.
        iteration: u32,
        /// The line.
        line: KernelLine,
    },
    /// A source could not be read for a while: checks depending on it then are `unknown`.
    SourceGap {
        /// Scenario index.
        scenario: usize,
        /// Iteration.
        iteration: u32,
        /// The gap.
        gap: SourceGap,
    },
    /// Something went wrong in the harness that decides no verdict by itself (an observation of a
    /// container that failed while the daemon was down on purpose, forensics that could not be
    /// written): kept here and shown with `-v`, not in a normal run's terminal.
    Warning {
        /// Scenario index.
        scenario: usize,
        /// Iteration.
        iteration: u32,
        /// What happened.
        message: String,
    },
    /// A change about to be made (write-ahead), with its undo handle.
    ChangeMade {
        /// Its number in the run's ledger.
        change: u64,
        /// When it is due to be undone.
        scope: ChangeScope,
        /// What and how to undo it.
        handle: Change,
    },
    /// A change's handle became more exact (e.g. a container's id once created).
    ChangeHandle {
        /// The change.
        change: u64,
        /// The new handle.
        handle: Change,
    },
    /// A change was undone (or found gone, or undone by an action), or undoing it failed.
    ChangeUndone {
        /// The change.
        change: u64,
        /// Whether it is gone now.
        ok: bool,
        /// What undoing did or why it failed.
        detail: String,
    },
    /// An iteration ended (its changes undone).
    IterationFinished {
        /// Scenario index.
        scenario: usize,
        /// Iteration.
        iteration: u32,
    },
    /// A scenario is not run: the daemon cannot have what it requires (`requires: {cgroup: v1}` on
    /// a cgroup v2 daemon). Nothing was started or changed for it; its verdict is `skipped`.
    ScenarioSkipped {
        /// Its index in the plan.
        scenario: usize,
        /// Why, e.g. "needs cgroup v1; the daemon runs cgroup v2".
        reason: String,
    },
    /// A scenario is not run: whether the daemon has what it requires could not be told (its
    /// cgroup version could not be read). Nothing was started or changed for it; its verdict is
    /// `unknown`.
    ScenarioUndecided {
        /// Its index in the plan.
        scenario: usize,
        /// Why.
        reason: String,
    },
    /// A scenario ended.
    ScenarioFinished {
        /// Its index.
        scenario: usize,
        /// A problem that kept it from running (e.g. preparing the daemon failed).
        error: Option<String>,
        /// Whether the run was interrupted during it.
        interrupted: bool,
    },
    /// The run ended.
    RunFinished {
        /// The signal that interrupted it, if any.
        interrupted: Option<String>,
    },
}
