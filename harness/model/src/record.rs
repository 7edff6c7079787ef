//! What a run did and observed, as folded from its journal (see [`crate::journal`]): verdicts and
//! reports read this, never the live run.
//!
//! Times are monotonic offsets from the run's start (`t`), except the daemon's own event
//! timestamps (`time_nano`, wall clock of the daemon's host), kept as reported for cross-checks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A whole `shakedown run`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunRecord {
    /// Unique id of this run; every object the run creates carries it as the `io.shakedown.run` label.
    pub run_id: String,
    /// Wall-clock start, seconds since the Unix epoch.
    pub started_unix: f64,
    /// The target kind (`managed`, `docker`).
    pub target: String,
    /// The engine and host the run happened on.
    pub fingerprint: Fingerprint,
    /// One record per scenario, in run order.
    pub scenarios: Vec<ScenarioRecord>,
    /// The signal that interrupted the run (`SIGINT`, `SIGTERM`), or why the journal ends early.
    #[serde(default)]
    pub interrupted: Option<String>,
    /// Host and daemon changes the run made and whether each was undone, in the order made.
    #[serde(default)]
    pub changes: Vec<ChangeRecord>,
    /// The run's setup: what it was and how long it took in seconds (targets ready, fixture image).
    #[serde(default)]
    pub setup: Vec<(String, f64)>,
}

/// A change the run made to the host or the daemon, and its undoing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ChangeRecord {
    /// Its number in the run's ledger.
    pub id: u64,
    /// What it is, in words.
    pub description: String,
    /// Whether it was undone (or found gone), with what undoing said; `None` while outstanding.
    pub undone: Option<Result<String, String>>,
}

/// Versions and settings of the engine and host, as the daemon reports them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Fingerprint {
    /// dockerd version.
    pub engine_version: String,
    /// Docker API version the daemon speaks.
    pub api_version: String,
    /// containerd version.
    pub containerd_version: String,
    /// runc version.
    pub runc_version: String,
    /// Kernel release.
    pub kernel_version: String,
    /// Operating system of the daemon's host.
    pub operating_system: String,
    /// cgroup version ("1" or "2").
    pub cgroup_version: String,
    /// cgroup driver (cgroupfs, systemd).
    pub cgroup_driver: String,
    /// Storage driver (overlay2, vfs, ...).
    pub storage_driver: String,
    /// Whether the daemon runs with live-restore.
    pub live_restore: bool,
    /// The default logging driver.
    #[serde(default)]
    pub logging_driver: String,
    /// The default OCI runtime.
    #[serde(default)]
    pub default_runtime: String,
    /// Security options (seccomp profile, AppArmor, user namespaces, rootless, …).
    #[serde(default)]
    pub security_options: Vec<String>,
    /// The daemon's configuration file as it was given: for the managed daemon, the user's
    /// `--daemon-config` settings it ran with; for an existing daemon, its `--config-file`
    /// (default `/etc/docker/daemon.json`) when that can be read.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub daemon_config: std::collections::BTreeMap<String, serde_json::Value>,
    /// Where `daemon_config` came from, or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_config_source: Option<String>,
    /// The user's settings the harness left out (keys it owns for the managed daemon).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<String>,
}

impl Fingerprint {
    /// One line: engine and API, containerd, runc, kernel, cgroup version.
    pub fn summary(&self) -> String {
        format!(
            "engine {} (API {}), containerd {}, runc {}, kernel {}, cgroup v{}",
            self.engine_version,
            self.api_version,
            self.containerd_version,
            self.runc_version,
            self.kernel_version,
            self.cgroup_version
        )
    }
}

/// One scenario's run: its iterations (one per `repeat`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioRecord {
    /// Scenario name.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Iterations in order.
    pub iterations: Vec<IterationRecord>,
    /// A problem that prevented running the scenario at all (e.g. a missing image).
    pub error: Option<String>,
    /// Whether the run was interrupted during this scenario (or the journal ends inside it).
    pub interrupted: bool,
    /// Why the scenario was not run because the daemon cannot have what it requires (its verdict
    /// is `skipped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Why the scenario was not run because whether the daemon has what it requires could not be
    /// told (its verdict is `unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undecided: Option<String>,
    /// Monotonic offset of the scenario's start.
    #[serde(with = "secs", default)]
    #[schemars(with = "f64")]
    pub started: Duration,
    /// Monotonic wall time of the whole scenario, setup and cleanup included.
    #[serde(with = "secs")]
    #[schemars(with = "f64")]
    pub elapsed: Duration,
    /// Cleanup actions and their outcomes.
    pub cleanup: Vec<String>,
}

/// One pass over the scenario's steps.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IterationRecord {
    /// 0-based iteration number.
    pub index: u32,
    /// Step records, in order; steps after a failed one are recorded as skipped.
    pub steps: Vec<StepRecord>,
    /// Docker events about this iteration's containers, in arrival order.
    pub events: Vec<EventRecord>,
    /// Kernel log lines seen during the iteration (local targets).
    #[serde(default)]
    pub kernel: Vec<KernelLine>,
    /// Times when a source (the event stream, the kernel log) could not be read: checks that
    /// depend on a source during one of its gaps are `unknown`, never `pass`.
    #[serde(default)]
    pub gaps: Vec<SourceGap>,
    /// Monotonic offset of the iteration's start.
    #[serde(with = "secs", default)]
    #[schemars(with = "f64")]
    pub started: Duration,
    /// Scenario container name → docker id, for attributing kernel lines.
    #[serde(default)]
    pub containers: BTreeMap<String, String>,
    /// Host changes the iteration's actions made and the runner undid afterwards.
    #[serde(default)]
    pub undone: Vec<String>,
    /// Faults injected during the iteration, from when they were made until they were undone.
    #[serde(default)]
    pub faults: Vec<FaultWindow>,
    /// Each container's last output and final state, read at the end of the iteration.
    #[serde(default)]
    pub outputs: Vec<ContainerOutput>,
}

/// What a container printed last and how it ended, read before it was removed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ContainerOutput {
    /// The scenario's name for the container.
    pub container: String,
    /// Its docker id.
    pub id: String,
    /// The last lines of its stdout (at most [`OUTPUT_TAIL_BYTES`]).
    pub stdout: String,
    /// The last lines of its stderr (at most [`OUTPUT_TAIL_BYTES`]).
    pub stderr: String,
    /// Earlier output was left out.
    #[serde(default)]
    pub truncated: bool,
    /// Its final state (`docker inspect`), when it could be read.
    pub observation: Option<Observation>,
    /// Why the output or the state could not be read (the container was gone, the daemon did not
    /// answer).
    #[serde(default)]
    pub error: Option<String>,
}

/// How much of each of a container's output streams is kept.
pub const OUTPUT_TAIL_BYTES: usize = 8192;

/// A fault's time on the target: from its journaled change until its undo.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct FaultWindow {
    /// The change, as the journal describes it.
    pub description: String,
    /// Monotonic offset when it was recorded (just before it was made).
    #[serde(with = "secs")]
    #[schemars(with = "f64")]
    pub from: Duration,
    /// Monotonic offset when it was undone (none: never, in this journal).
    #[serde(default, with = "opt_secs")]
    #[schemars(with = "Option<f64>")]
    pub until: Option<Duration>,
}

/// A source of observations whose gaps make checks `unknown`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The daemon's event stream.
    Events,
    /// The kernel log (`/dev/kmsg`).
    KernelLog,
    /// A probe the harness could not run (it could not join the namespace, or got no result).
    Probe,
}

/// A time during which a source could not be read.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SourceGap {
    /// Which source.
    pub source: Source,
    /// Monotonic offset from which it was not read.
    #[serde(with = "secs")]
    #[schemars(with = "f64")]
    pub from: Duration,
    /// Until when; `None`: for the rest of the iteration.
    #[serde(default, with = "opt_secs")]
    #[schemars(with = "Option<f64>")]
    pub until: Option<Duration>,
    /// Why.
    pub reason: String,
}

impl SourceGap {
    /// Whether the gap overlaps `[from, until]`.
    pub fn overlaps(&self, from: Duration, until: Duration) -> bool {
        self.from <= until && self.until.is_none_or(|u| u >= from)
    }
}

impl IterationRecord {
    /// The first gap of `source` overlapping `[from, until]`, with its reason.
    pub fn gap(&self, source: Source, from: Duration, until: Duration) -> Option<&SourceGap> {
        self.gaps
            .iter()
            .find(|g| g.source == source && g.overlaps(from, until))
    }
}

/// A kernel log line seen during a scenario.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct KernelLine {
    /// Monotonic offset at which the harness read it.
    #[serde(with = "secs")]
    #[schemars(with = "f64")]
    pub t: Duration,
    /// The kernel's timestamp, microseconds since boot.
    pub usec: u64,
    /// When the kernel logged it, on the run's clock: its own timestamp shifted by the smallest
    /// read lag seen in the iteration (`min(t - usec)`), so never later than `t`. Computed when
    /// the journal is folded; absent in the journal itself.
    #[serde(default, with = "opt_secs", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<f64>")]
    pub at: Option<Duration>,
    /// Syslog priority.
    pub priority: u32,
    /// The message.
    pub text: String,
    /// What it is about, when a classifier recognised it.
    pub class: Option<crate::kernel::KernelClass>,
}

impl KernelLine {
    /// When the kernel logged the line on the run's clock, or when it was read if that is unknown.
    pub fn time(&self) -> Duration {
        self.at.unwrap_or(self.t)
    }
}

/// Puts kernel lines on the run's clock by their own timestamps. The kernel's clock (microseconds
/// since boot) and the run's clock differ by an offset that drifts slowly; every line was logged
/// before it was read, so `t - usec` bounds the offset from above for each line, and the smallest
/// bound of the iteration is the closest (the watcher reads a line as soon as the kernel logs
/// it). Lines are then never placed later than they were read.
pub fn place_kernel_lines(lines: &mut [KernelLine]) {
    let Some(offset) = lines
        .iter()
        .map(|l| l.t.as_micros() as i128 - l.usec as i128)
        .min()
    else {
        return;
    };
    for l in lines {
        let at = (l.usec as i128 + offset).max(0) as u64;
        l.at = Some(Duration::from_micros(at));
    }
}

/// What kind of failure ended a step, decided where it happened (never from message text).
#[derive(
    Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The action failed.
    #[default]
    Failed,
    /// The Docker API did not answer within its deadline (calls for forensics).
    ApiUnresponsive,
    /// A host call (a command, a read of /proc) did not finish within its deadline.
    HostUnresponsive,
}

/// How a step's action ended.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepOutcome {
    /// The action completed.
    Ok,
    /// The action failed.
    Error {
        /// What kind of failure.
        #[serde(default)]
        kind: ErrorKind,
        /// What failed.
        message: String,
        /// The Docker API's HTTP status, when the daemon refused the call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        http_status: Option<u16>,
    },
    /// The run was interrupted (SIGINT, SIGTERM) during the step.
    Interrupted,
    /// The action did not finish within its deadline.
    DeadlineExceeded {
        /// The deadline.
        #[serde(with = "secs")]
        #[schemars(with = "f64")]
        deadline: Duration,
    },
    /// Not run, because an earlier step failed or the run was interrupted.
    Skipped,
}

/// What one step did and saw.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepRecord {
    /// 0-based step index in the scenario.
    pub index: usize,
    /// Step label.
    pub label: String,
    /// Action name (`start`, `stop`, ...).
    pub action: String,
    /// Monotonic offset of the action's start.
    #[serde(with = "secs")]
    #[schemars(with = "f64")]
    pub started: Duration,
    /// Monotonic offset of the action's end.
    #[serde(with = "secs")]
    #[schemars(with = "f64")]
    pub finished: Duration,
    /// How it ended.
    pub outcome: StepOutcome,
    /// The scenario name of the container the step acted on.
    pub container: Option<String>,
    /// That container's docker id in this iteration when the step started (events are attributed
    /// by id, never by name).
    #[serde(default)]
    pub container_id: Option<String>,
    /// The container's state right after the action.
    pub observation: Option<Observation>,
    /// Monotonic offset until which events still count as this step's (the action's end plus the
    /// time the runner waited for expected events to arrive).
    #[serde(with = "secs")]
    #[schemars(with = "f64")]
    pub observed_until: Duration,
    /// Measures taken by the step.
    pub measures: Vec<Measure>,
    /// Facts the action observed besides the container's state (e.g. `exec_exit_code`,
    /// `api_during_freeze`, `dockerd_pid_before`), as journaled: written and read back as
    /// [`crate::fact::Fact`].
    #[serde(default)]
    pub facts: BTreeMap<String, String>,
    /// The forensics bundle written for this step (a missed deadline, an unresponsive API).
    #[serde(default)]
    pub forensics: Option<PathBuf>,
    /// Probe samples taken around a fault: the probe timeline.
    #[serde(default)]
    pub samples: Vec<Sample>,
    /// What `check_leaks` found, by kind.
    #[serde(default)]
    pub leaks: Option<BTreeMap<String, LeakFinding>>,
}

/// What leak detection found for one kind of object.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeakFinding {
    /// The objects that appeared since the baseline and are still there (empty: none).
    Found(Vec<String>),
    /// The kind could not be read (before or after), with the reason: its checks are `unknown`.
    Unavailable(String),
}

/// One probe attempt around a fault.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Sample {
    /// Monotonic offset of the attempt's start.
    #[serde(with = "secs")]
    #[schemars(with = "f64")]
    pub t: Duration,
    /// `before`, `during` or `after` the fault.
    pub phase: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Its latency in seconds (connect time, or time to the HTTP status line), when it succeeded.
    pub latency: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The harness could not run this attempt: it says nothing about the target.
    #[serde(default)]
    pub unreadable: bool,
}

impl StepRecord {
    /// A measure of this step by name (the first, when the action took several).
    pub fn measure(&self, name: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.name == name)
    }

    /// Every value of a measure of this step (an action repeated `count` times takes several).
    pub fn measure_values(&self, name: &str) -> Vec<f64> {
        self.measures
            .iter()
            .filter(|m| m.name == name)
            .map(|m| m.value)
            .collect()
    }
}

/// A container's state as the daemon reported it (inspect).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Observation {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`, or `removed`
    /// when the container no longer exists.
    pub state: String,
    /// Exit code, when the container has exited.
    pub exit_code: Option<i64>,
    /// Whether the kernel's OOM killer killed it.
    pub oom_killed: Option<bool>,
    /// Host PID of its process 1 (0 when not running).
    pub pid: Option<i64>,
    /// `State.StartedAt`.
    pub started_at: Option<String>,
    /// `State.FinishedAt`.
    pub finished_at: Option<String>,
    /// Restart count.
    pub restart_count: Option<i64>,
    /// IP address on the default bridge.
    #[serde(default)]
    pub ip: Option<String>,
    /// Health (`starting`, `healthy`, `unhealthy`), when the container has a health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
}

/// One measured value.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Measure {
    /// Name, e.g. `duration`, `daemon_duration`, `time_to_oom`.
    pub name: String,
    /// The value in `unit`.
    pub value: f64,
    /// `s` for times, `bytes`, `count`.
    pub unit: String,
    /// Where the value comes from: `monotonic` (the harness's clock) or `daemon` (event timestamps).
    pub source: String,
}

impl Measure {
    /// A time measured on the harness's monotonic clock.
    pub fn monotonic(name: &str, d: Duration) -> Self {
        Measure {
            name: name.into(),
            value: d.as_secs_f64(),
            unit: "s".into(),
            source: "monotonic".into(),
        }
    }

    /// A time computed from the daemon's event timestamps.
    pub fn daemon(name: &str, nanos: i64) -> Self {
        Measure {
            name: name.into(),
            value: nanos as f64 / 1e9,
            unit: "s".into(),
            source: "daemon".into(),
        }
    }
}

/// The label (and so the event attribute) that marks a copy of a scenario container (`churn`'s):
/// its events are journaled, but belong to no step.
pub const COPY_ATTRIBUTE: &str = "io.shakedown.copy";

/// A Docker event about one of the iteration's containers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct EventRecord {
    /// Monotonic offset at which the harness received it.
    #[serde(with = "secs")]
    #[schemars(with = "f64")]
    pub t: Duration,
    /// The daemon's timestamp, nanoseconds since the epoch.
    pub time_nano: i64,
    /// Event action (`start`, `kill`, `die`, `oom`, `stop`, ...).
    pub action: String,
    /// The container's docker id (the actor).
    #[serde(default)]
    pub id: String,
    /// The container's scenario name, from its label.
    pub container: Option<String>,
    /// Event attributes (e.g. `signal`, `exitCode`).
    pub attributes: BTreeMap<String, String>,
}

/// Serializes optional durations as fractional seconds or null.
pub mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Writes seconds as f64, or null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    /// Reads seconds from f64, or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(super::secs::from_f64)
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

/// Serializes durations as fractional seconds.
pub mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Writes seconds as f64.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    /// Reads seconds from f64.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        from_f64(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    /// Seconds as a duration (a negative value is zero); an error, never a panic, for seconds
    /// no duration holds.
    pub fn from_f64(v: f64) -> Result<Duration, String> {
        Duration::try_from_secs_f64(v.max(0.0))
            .map_err(|_| format!("{v} seconds is out of range for a duration"))
    }
}

/// The events of container `id` received within `[from, until]`: how events are attributed to a
/// step, by the runner (daemon-side measures) and by verdicts alike.
pub fn events_of<'a>(
    events: &'a [EventRecord],
    id: &'a str,
    from: Duration,
    until: Duration,
) -> impl Iterator<Item = &'a EventRecord> + 'a {
    events
        .iter()
        .filter(move |e| e.id == id && e.t >= from && e.t <= until)
}

impl IterationRecord {
    /// Events about the step's container (by docker id) that arrived while the step was running
    /// or being observed.
    pub fn step_events<'a>(
        &'a self,
        step: &'a StepRecord,
    ) -> impl Iterator<Item = &'a EventRecord> + 'a {
        let id = step.container_id.as_deref().unwrap_or_default();
        events_of(&self.events, id, step.started, step.observed_until)
            .filter(move |_| step.container_id.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(read_ms: u64, kernel_ms: u64) -> KernelLine {
        KernelLine {
            t: Duration::from_millis(read_ms),
            usec: kernel_ms * 1000,
            at: None,
            priority: 3,
            text: String::new(),
            class: None,
        }
    }

    #[test]
    fn kernel_lines_are_placed_by_their_own_timestamps() {
        // The run's clock is 1000 s behind the kernel's; lines were read 7, 1 and 40 ms late.
        let mut lines = vec![
            line(2_007, 1_002_000),
            line(3_001, 1_003_000),
            line(9_040, 1_009_000),
        ];
        place_kernel_lines(&mut lines);
        let at: Vec<_> = lines.iter().map(|l| l.time().as_millis()).collect();
        // The smallest lag (1 ms) is the offset's bound: each line lands 1 ms after its kernel
        // time, never later than it was read.
        assert_eq!(at, [2_001, 3_001, 9_001]);
        assert!(lines.iter().all(|l| l.time() <= l.t));
        // Without lines nothing happens; one line is placed where it was read.
        place_kernel_lines(&mut []);
        let mut one = vec![line(5_000, 1_004_990)];
        place_kernel_lines(&mut one);
        assert_eq!(one[0].time(), Duration::from_millis(5_000));
    }
}
