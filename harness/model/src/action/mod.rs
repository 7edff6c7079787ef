//! Actions: what a step does, as data. Each action is one file with its arguments (as written in
//! scenarios), their validation, its default deadline and its daemon-side measures; how it runs is
//! the file of the same name in the harness's `execute` module. This file only lists them for the
//! scenario format and dispatches.

mod check_leaks;
mod churn;
mod container_freeze;
mod containerd_kill;
mod create;
mod daemon_freeze;
mod daemon_kill;
mod daemon_limits;
mod daemon_oom;
mod daemon_reload;
mod daemon_restart;
mod daemon_thaw;
mod dependency_outage;
mod exec;
mod file_progress;
mod fill_disk;
mod fill_inodes;
mod inspect;
mod join;
mod kill;
mod kill_process;
mod leak_veth;
mod log;
mod net_shape;
mod partition;
mod pause;
mod pin_netns;
mod probe;
mod probe_api;
mod remove;
mod restart;
mod shim_kill;
mod sleep;
mod start;
mod stop;
mod wait;
mod wait_for;
pub mod window;

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::anchor::Effect;
use crate::record::{EventRecord, Measure};
use crate::units::HumanDuration;

pub use check_leaks::{CheckLeaks, LeakScope};
pub use churn::Churn;
pub use container_freeze::ContainerFreeze;
pub use containerd_kill::ContainerdKill;
pub use create::Create;
pub use daemon_freeze::DaemonFreeze;
pub use daemon_kill::DaemonKill;
pub use daemon_limits::{DaemonLimits, DaemonProcess};
pub use daemon_oom::DaemonOom;
pub use daemon_reload::DaemonReload;
pub use daemon_restart::DaemonRestart;
pub use daemon_thaw::DaemonThaw;
pub use dependency_outage::{DependencyOutage, OutageMode};
pub use exec::Exec;
pub use file_progress::FileProgress;
pub use fill_disk::{FillDisk, FillTarget};
pub use fill_inodes::FillInodes;
pub use inspect::Inspect;
pub use join::Join;
pub use kill::Kill;
pub use kill_process::KillProcess;
pub use leak_veth::LeakVeth;
pub use log::{Log, LogSince};
pub use net_shape::{NetCorrupt, NetDelay, NetDuplicate, NetLoss, NetRate};
pub use partition::{Direction, Partition};
pub use pause::{Pause, Unpause};
pub use pin_netns::{PinNetns, PINNED_DIR};
pub use probe::ProbeOnce;
pub use probe_api::ProbeApi;
pub use remove::Remove;
pub use restart::Restart;
pub use shim_kill::ShimKill;
pub use sleep::Sleep;
pub use start::Start;
pub use stop::Stop;
pub use wait::Wait;
pub use wait_for::WaitFor;

/// What an action's default deadline may depend on in the scenario around it (the scenario
/// implements it), so that actions need not know the scenario type they sit in.
pub trait Deadlines {
    /// The deadline of the step named `name` (its own, or its action's default), if there is one.
    fn step_deadline(&self, name: &str) -> Option<Duration>;
    /// The `stop_timeout` of the container named `container`, if it sets one.
    fn stop_timeout(&self, container: &str) -> Option<HumanDuration>;
}

/// A container command.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Command {
    /// Arguments, the first being the program.
    Args(Vec<String>),
    /// A shell command line, run as `/bin/sh -c LINE`.
    Shell(String),
}

impl Command {
    /// The argument vector docker receives.
    pub fn to_args(&self) -> Vec<String> {
        match self {
            Command::Args(a) => a.clone(),
            Command::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
        }
    }
}

/// A reference to a container of the scenario, keeping where it was written for error messages.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerRef {
    /// The container's name in the scenario's `containers`.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
}

impl ContainerRef {
    /// The referenced name.
    pub fn name(&self) -> &str {
        &self.container.value
    }
}

// The harness's own daemon deadlines, which default step deadlines are built from.
/// How long a managed daemon may take to answer `/_ping` after it starts.
pub const READY_DEADLINE: Duration = Duration::from_secs(60);
/// How long a managed daemon may take to stop.
pub const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// A step's action, written as a one-key map: `action: {stop: {container: web, timeout: 5s}}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create (on first use) and start a container.
    Start(Start),
    /// Create a container without starting it.
    Create(Create),
    /// `docker restart`: stop, then start again.
    Restart(Restart),
    /// Freeze a container's processes (`docker pause`); unpaused at the latest when its iteration ends.
    Pause(Pause),
    /// Thaw a paused container (`docker unpause`).
    Unpause(Unpause),
    /// `docker stop`: the stop signal, then SIGKILL after the grace period.
    Stop(Stop),
    /// Send a signal to the container's PID 1 through the daemon (`docker kill -s`).
    Kill(Kill),
    /// Wait until the container exits.
    Wait(Wait),
    /// Do nothing for a while.
    Sleep(Sleep),
    /// Only observe a container (for expectations on its state).
    Inspect(Inspect),
    /// Force-remove a container.
    Remove(Remove),
    /// Run a command in a running container.
    Exec(Exec),
    /// Poll a container until it reaches a state.
    WaitFor(WaitFor),
    /// Kill a container's PID 1 from the host, not through the daemon.
    KillProcess(KillProcess),
    /// Probe the API: `/_ping` and a real call, each with a deadline.
    ProbeApi(ProbeApi),
    /// Restart dockerd gracefully (SIGTERM, then start again). Disruptive.
    DaemonRestart(DaemonRestart),
    /// SIGKILL dockerd only, then (by default) start it again. Disruptive.
    DaemonKill(DaemonKill),
    /// SIGSTOP dockerd for a while (the hang), with forensics, then SIGCONT. Disruptive.
    DaemonFreeze(DaemonFreeze),
    /// Lower dockerd's or containerd's limit of open files or processes on the live process (set
    /// back when the step's `duration` ends, else at the end of the iteration).
    DaemonLimits(DaemonLimits),
    /// Bound dockerd's memory in a cgroup of the harness and make it allocate until the kernel's
    /// OOM killer takes it, then start it again. Disruptive.
    DaemonOom(DaemonOom),
    /// SIGCONT a daemon frozen without a duration.
    DaemonThaw(DaemonThaw),
    /// SIGHUP dockerd (configuration reload).
    DaemonReload(DaemonReload),
    /// SIGKILL the containerd dockerd started. Disruptive.
    ContainerdKill(ContainerdKill),
    /// SIGKILL a container's containerd shim. Disruptive.
    ShimKill(ShimKill),
    /// Create/start/stop/remove copies of a container, N cycles, C at a time.
    Churn(Churn),
    /// Compare the host with the iteration's starting snapshot: veths, netns, mounts, shims, cgroups.
    CheckLeaks(CheckLeaks),
    /// Create orphan veth pairs on the engine's bridge (undone after the iteration). Disruptive.
    LeakVeth(LeakVeth),
    /// Keep a container's network namespace alive with a bind mount (undone after). Disruptive.
    PinNetns(PinNetns),
    /// Drop traffic between containers (or to an address/port) for a while, with a probe around it.
    Partition(Partition),
    /// Delay a container's outgoing packets (netem, or NFQUEUE served by the harness).
    NetDelay(NetDelay),
    /// Drop a share of a container's outgoing packets (netem, or an iptables statistic rule).
    NetLoss(NetLoss),
    /// Limit a container's outgoing rate (tbf).
    NetRate(NetRate),
    /// Corrupt a share of outgoing packets (netem only).
    NetCorrupt(NetCorrupt),
    /// Duplicate a share of outgoing packets (netem only).
    NetDuplicate(NetDuplicate),
    /// Pause or stop a dependency container for a while, with a probe around it.
    DependencyOutage(DependencyOutage),
    /// One TCP/HTTP probe from a container's namespace to a container's port.
    Probe(ProbeOnce),
    /// Wait for log lines containing a text (new ones, or since the container started): progress,
    /// readiness, or a hung application.
    Log(Log),
    /// Wait for a background step (`background: true`) to finish.
    Join(Join),
    /// Freeze a container's cgroup from the host (thawed when the iteration ends).
    ContainerFreeze(ContainerFreeze),
    /// Wait for a file inside a container to change, read from the host without the daemon.
    FileProgress(FileProgress),
    /// Fill the scenario's own filesystem (`requires: {data_root: ...}`) to N bytes free or none.
    /// Disruptive.
    FillDisk(FillDisk),
    /// Use up the inodes of the scenario's own filesystem to N free or none. Disruptive.
    FillInodes(FillInodes),
}

/// What every action's arguments tell without running it; [`Action`] dispatches to it.
pub trait ActionKind {
    /// Name as written in scenarios.
    const NAME: &'static str;
    /// Containers the action refers to, with their locations, for validation.
    fn container_refs(&self) -> Vec<&Spanned<String>>;
    /// Problems with the arguments that parsing cannot catch.
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
    /// Deadline when the step gives none.
    fn default_deadline(&self, steps: &dyn Deadlines) -> Duration;
    /// Whether the action disturbs the daemon or the runtime itself (refused on a daemon the
    /// harness did not start unless explicitly allowed).
    const DISRUPTIVE: bool = false;
    /// Whether the action takes its own anchor when it starts (a first read it compares later
    /// reads with) and says so when it runs (`anchor_taken`); otherwise its step's start is its
    /// anchor.
    const ANCHORS_ITSELF: bool = false;
    /// Measures derived from the daemon's events of this step (and the iteration's earlier events).
    fn daemon_measures(&self, _step: &[&EventRecord], _all: &[EventRecord]) -> Vec<Measure> {
        Vec::new()
    }
}

/// `dispatch_action!(action, a => expr)`: `expr` with `a` bound to the arguments of whichever
/// [`Action`] variant `action` is. The one list of variants that dispatching needs.
#[macro_export]
macro_rules! dispatch_action {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            $crate::action::Action::Start($a) => $e,
            $crate::action::Action::Create($a) => $e,
            $crate::action::Action::Restart($a) => $e,
            $crate::action::Action::Pause($a) => $e,
            $crate::action::Action::Unpause($a) => $e,
            $crate::action::Action::Stop($a) => $e,
            $crate::action::Action::Kill($a) => $e,
            $crate::action::Action::Wait($a) => $e,
            $crate::action::Action::Sleep($a) => $e,
            $crate::action::Action::Inspect($a) => $e,
            $crate::action::Action::Remove($a) => $e,
            $crate::action::Action::Exec($a) => $e,
            $crate::action::Action::WaitFor($a) => $e,
            $crate::action::Action::KillProcess($a) => $e,
            $crate::action::Action::ProbeApi($a) => $e,
            $crate::action::Action::DaemonRestart($a) => $e,
            $crate::action::Action::DaemonKill($a) => $e,
            $crate::action::Action::DaemonFreeze($a) => $e,
            $crate::action::Action::DaemonLimits($a) => $e,
            $crate::action::Action::DaemonOom($a) => $e,
            $crate::action::Action::DaemonThaw($a) => $e,
            $crate::action::Action::DaemonReload($a) => $e,
            $crate::action::Action::ContainerdKill($a) => $e,
            $crate::action::Action::ShimKill($a) => $e,
            $crate::action::Action::Churn($a) => $e,
            $crate::action::Action::CheckLeaks($a) => $e,
            $crate::action::Action::LeakVeth($a) => $e,
            $crate::action::Action::PinNetns($a) => $e,
            $crate::action::Action::Partition($a) => $e,
            $crate::action::Action::NetDelay($a) => $e,
            $crate::action::Action::NetLoss($a) => $e,
            $crate::action::Action::NetRate($a) => $e,
            $crate::action::Action::NetCorrupt($a) => $e,
            $crate::action::Action::NetDuplicate($a) => $e,
            $crate::action::Action::DependencyOutage($a) => $e,
            $crate::action::Action::Probe($a) => $e,
            $crate::action::Action::Log($a) => $e,
            $crate::action::Action::Join($a) => $e,
            $crate::action::Action::ContainerFreeze($a) => $e,
            $crate::action::Action::FileProgress($a) => $e,
            $crate::action::Action::FillDisk($a) => $e,
            $crate::action::Action::FillInodes($a) => $e,
        }
    };
}

fn name_of<A: ActionKind>(_: &A) -> &'static str {
    A::NAME
}

fn disruptive_of<A: ActionKind>(_: &A) -> bool {
    A::DISRUPTIVE
}

fn anchors_itself_of<A: ActionKind>(_: &A) -> bool {
    A::ANCHORS_ITSELF
}

impl Action {
    /// The action's name (`start`, `stop`, ...).
    pub fn name(&self) -> &'static str {
        dispatch_action!(self, a => name_of(a))
    }

    /// `stop web`, `sleep`: a default step label.
    pub fn describe(&self) -> String {
        if let Action::Join(j) = self {
            return format!("join {}", j.step.value);
        }
        match self.container_refs().first() {
            Some(c) => format!("{} {}", self.name(), c.value),
            None => self.name().to_string(),
        }
    }

    /// Containers referred to.
    pub fn container_refs(&self) -> Vec<&Spanned<String>> {
        dispatch_action!(self, a => a.container_refs())
    }

    /// The container the step's observations are about.
    pub fn container(&self) -> Option<&str> {
        self.container_refs().first().map(|c| c.value.as_str())
    }

    /// Argument problems.
    pub fn problems(&self) -> Vec<String> {
        dispatch_action!(self, a => a.problems())
    }

    /// Whether the action disturbs the daemon itself.
    pub fn disruptive(&self) -> bool {
        dispatch_action!(self, a => disruptive_of(a))
    }

    /// How its effect relates to the moment it returns ([`crate::anchor`]).
    pub fn effect(&self) -> Effect {
        crate::anchor::effect_of(self.name()).unwrap_or(Effect::Continues)
    }

    /// Whether it takes its own anchor when it starts.
    pub fn anchors_itself(&self) -> bool {
        dispatch_action!(self, a => anchors_itself_of(a))
    }

    /// The filesystem a `fill_disk` or `fill_inodes` fills, where it is written.
    pub fn fill_target(&self) -> Option<&Spanned<FillTarget>> {
        match self {
            Action::FillDisk(f) => Some(&f.target),
            Action::FillInodes(f) => Some(&f.target),
            _ => None,
        }
    }

    /// Default deadline.
    pub fn default_deadline(&self, steps: &dyn Deadlines) -> Duration {
        dispatch_action!(self, a => a.default_deadline(steps))
    }

    /// Daemon-side measures.
    pub fn daemon_measures(&self, step: &[&EventRecord], all: &[EventRecord]) -> Vec<Measure> {
        dispatch_action!(self, a => a.daemon_measures(step, all))
    }
}

/// The daemon's time between the first `from` event and the first `to` event after it, in nanoseconds.
pub(crate) fn span(events: &[&EventRecord], from: &str, to: &str) -> Option<i64> {
    let a = events.iter().find(|e| e.action == from)?;
    let b = events
        .iter()
        .find(|e| e.action == to && e.time_nano >= a.time_nano)?;
    Some(b.time_nano - a.time_nano)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anchor::effect_of;

    /// Every action the scenario format accepts has its effect known by name, so the judge
    /// anchors its steps as the runner did.
    #[test]
    fn every_action_name_has_an_effect() {
        let schema = serde_json::to_value(schemars::schema_for!(Action)).unwrap();
        let names: Vec<String> = schema["oneOf"]
            .as_array()
            .expect("Action is a one-key map per variant")
            .iter()
            .flat_map(|v| v["required"].as_array().cloned().unwrap_or_default())
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        assert_eq!(names.len(), 42, "{names:?}");
        for n in &names {
            assert!(effect_of(n).is_some(), "{n} has no effect");
        }
    }
}
