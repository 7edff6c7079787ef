//! Facts an action observes besides the container's state: a probe's answer, an exec's output,
//! the daemon's PID before and after a restart, how a fault was made. The journal keeps each as
//! text under its name (`facts: {"probe": "up"}`; the format is unchanged), but the code writes
//! them as a [`Fact`] and reads them back through [`Fact::parse`], so each fact's name and the
//! shape of its value are in one place.

use std::collections::BTreeMap;

use crate::expect::{Api, ProbeState};

/// A fact and its value.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact {
    /// `progress`: a log line or a file change showed progress (`yes`), or none came (`hung`).
    Progress(bool),
    /// `probe`: the probe's answer, `None` when the probe could not be run (`unknown`).
    Probe(Option<ProbeState>),
    /// `last_line`: the log's last line when no matching line came.
    LastLine(String),
    /// `content_before`: a watched file's first characters at the start.
    ContentBefore(String),
    /// `content_after`: a watched file's first characters at the end.
    ContentAfter(String),
    /// `exec_output`: what an exec printed.
    ExecOutput(String),
    /// `exec_exit_code`: an exec's exit code.
    ExecExitCode(i64),
    /// `api`: whether `/_ping` and a real call both answered.
    Api(Api),
    /// `api_during_freeze`: whether the API answered while dockerd was frozen.
    ApiDuringFreeze(Api),
    /// `ping`: whether `/_ping` answered (`ok`, `no answer`).
    Ping(bool),
    /// `list`: whether listing containers answered (`ok`, `no answer`).
    List(bool),
    /// `dockerd_pid`: the daemon signalled.
    DockerdPid(u32),
    /// `dockerd_pid_before`: the daemon before a restart or a kill.
    DockerdPidBefore(u32),
    /// `dockerd_pid_after`: the daemon after it (0: none came back).
    DockerdPidAfter(u32),
    /// `containerd_pid_before`: containerd before a kill.
    ContainerdPidBefore(u32),
    /// `containerd_pid_after`: containerd after it.
    ContainerdPidAfter(u32),
    /// `shim_pid`: the shim killed.
    ShimPid(u32),
    /// `killed_pid`: the container's process killed from the host.
    KilledPid(u32),
    /// `containers_missing`: containers the daemon listed before a kill and not after.
    ContainersMissing(Vec<String>),
    /// `dockerd_state_during`: the daemon's process state while frozen (from /proc).
    DockerdStateDuring(String),
    /// `freezer_state`: the container's cgroup freezer state.
    FreezerState(String),
    /// `process_state`: the container's process state (from /proc).
    ProcessState(String),
    /// `process_wchan`: where the container's process waits in the kernel.
    ProcessWchan(String),
    /// `mechanism`: how a fault was made (`netem`, `tbf`, iptables rules, …).
    Mechanism(String),
    /// `injected_at`: seconds since the scenario started when the fault was injected.
    InjectedAt(f64),
    /// `healed_at`: seconds since the scenario started when it was healed.
    HealedAt(f64),
    /// `healed`: what healing undid.
    Healed(String),
    /// `recovered`: `no` when the probe never answered again after healing.
    Recovered(bool),
    /// `veths`: the orphan veths made.
    Veths(Vec<String>),
    /// `pinned`: where a network namespace was bind-mounted.
    Pinned(String),
}

fn yes_no(b: bool, yes: &str, no: &str) -> String {
    if b { yes } else { no }.to_string()
}

impl Fact {
    /// The name the journal keeps it under.
    pub fn name(&self) -> &'static str {
        match self {
            Fact::Progress(_) => "progress",
            Fact::Probe(_) => "probe",
            Fact::LastLine(_) => "last_line",
            Fact::ContentBefore(_) => "content_before",
            Fact::ContentAfter(_) => "content_after",
            Fact::ExecOutput(_) => "exec_output",
            Fact::ExecExitCode(_) => "exec_exit_code",
            Fact::Api(_) => "api",
            Fact::ApiDuringFreeze(_) => "api_during_freeze",
            Fact::Ping(_) => "ping",
            Fact::List(_) => "list",
            Fact::DockerdPid(_) => "dockerd_pid",
            Fact::DockerdPidBefore(_) => "dockerd_pid_before",
            Fact::DockerdPidAfter(_) => "dockerd_pid_after",
            Fact::ContainerdPidBefore(_) => "containerd_pid_before",
            Fact::ContainerdPidAfter(_) => "containerd_pid_after",
            Fact::ShimPid(_) => "shim_pid",
            Fact::KilledPid(_) => "killed_pid",
            Fact::ContainersMissing(_) => "containers_missing",
            Fact::DockerdStateDuring(_) => "dockerd_state_during",
            Fact::FreezerState(_) => "freezer_state",
            Fact::ProcessState(_) => "process_state",
            Fact::ProcessWchan(_) => "process_wchan",
            Fact::Mechanism(_) => "mechanism",
            Fact::InjectedAt(_) => "injected_at",
            Fact::HealedAt(_) => "healed_at",
            Fact::Healed(_) => "healed",
            Fact::Recovered(_) => "recovered",
            Fact::Veths(_) => "veths",
            Fact::Pinned(_) => "pinned",
        }
    }

    /// The value as the journal keeps it.
    pub fn value(&self) -> String {
        match self {
            Fact::Progress(p) => yes_no(*p, "yes", "hung"),
            Fact::Probe(Some(ProbeState::Up)) => "up".into(),
            Fact::Probe(Some(ProbeState::Down)) => "down".into(),
            Fact::Probe(None) => "unknown".into(),
            Fact::Api(a) | Fact::ApiDuringFreeze(a) => a.as_str().into(),
            Fact::Ping(b) | Fact::List(b) => yes_no(*b, "ok", "no answer"),
            Fact::Recovered(b) => yes_no(*b, "yes", "no"),
            Fact::ExecExitCode(c) => c.to_string(),
            Fact::DockerdPid(p)
            | Fact::DockerdPidBefore(p)
            | Fact::DockerdPidAfter(p)
            | Fact::ContainerdPidBefore(p)
            | Fact::ContainerdPidAfter(p)
            | Fact::ShimPid(p)
            | Fact::KilledPid(p) => p.to_string(),
            Fact::ContainersMissing(v) => v.join(","),
            Fact::Veths(v) => v.join(" "),
            Fact::InjectedAt(t) | Fact::HealedAt(t) => format!("{t:.3}"),
            Fact::LastLine(s)
            | Fact::ContentBefore(s)
            | Fact::ContentAfter(s)
            | Fact::ExecOutput(s)
            | Fact::DockerdStateDuring(s)
            | Fact::FreezerState(s)
            | Fact::ProcessState(s)
            | Fact::ProcessWchan(s)
            | Fact::Mechanism(s)
            | Fact::Healed(s)
            | Fact::Pinned(s) => s.clone(),
        }
    }

    /// The fact named `name` as journaled (`None` when absent, or when its text is not a value
    /// of that fact: a check then says it could not read it, never that it holds).
    pub fn parse(facts: &BTreeMap<String, String>, name: &str) -> Option<Fact> {
        let v = facts.get(name)?;
        let pid = || v.parse::<u32>().ok();
        let secs = || v.parse::<f64>().ok();
        let words = |sep: char| {
            v.split(sep)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let flag = |yes: &str, no: &str| match v.as_str() {
            s if s == yes => Some(true),
            s if s == no => Some(false),
            _ => None,
        };
        let api = || match v.as_str() {
            "responsive" => Some(Api::Responsive),
            "unresponsive" => Some(Api::Unresponsive),
            _ => None,
        };
        let text = || v.clone();
        Some(match name {
            "progress" => Fact::Progress(flag("yes", "hung")?),
            "probe" => Fact::Probe(match v.as_str() {
                "up" => Some(ProbeState::Up),
                "down" => Some(ProbeState::Down),
                "unknown" => None,
                _ => return None,
            }),
            "last_line" => Fact::LastLine(text()),
            "content_before" => Fact::ContentBefore(text()),
            "content_after" => Fact::ContentAfter(text()),
            "exec_output" => Fact::ExecOutput(text()),
            "exec_exit_code" => Fact::ExecExitCode(v.parse().ok()?),
            "api" => Fact::Api(api()?),
            "api_during_freeze" => Fact::ApiDuringFreeze(api()?),
            "ping" => Fact::Ping(flag("ok", "no answer")?),
            "list" => Fact::List(flag("ok", "no answer")?),
            "dockerd_pid" => Fact::DockerdPid(pid()?),
            "dockerd_pid_before" => Fact::DockerdPidBefore(pid()?),
            "dockerd_pid_after" => Fact::DockerdPidAfter(pid()?),
            "containerd_pid_before" => Fact::ContainerdPidBefore(pid()?),
            "containerd_pid_after" => Fact::ContainerdPidAfter(pid()?),
            "shim_pid" => Fact::ShimPid(pid()?),
            "killed_pid" => Fact::KilledPid(pid()?),
            "containers_missing" => Fact::ContainersMissing(words(',')),
            "dockerd_state_during" => Fact::DockerdStateDuring(text()),
            "freezer_state" => Fact::FreezerState(text()),
            "process_state" => Fact::ProcessState(text()),
            "process_wchan" => Fact::ProcessWchan(text()),
            "mechanism" => Fact::Mechanism(text()),
            "injected_at" => Fact::InjectedAt(secs()?),
            "healed_at" => Fact::HealedAt(secs()?),
            "healed" => Fact::Healed(text()),
            "recovered" => Fact::Recovered(flag("yes", "no")?),
            "veths" => Fact::Veths(words(' ')),
            "pinned" => Fact::Pinned(text()),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_reads_back_as_written() {
        let all = [
            Fact::Progress(true),
            Fact::Progress(false),
            Fact::Probe(Some(ProbeState::Up)),
            Fact::Probe(Some(ProbeState::Down)),
            Fact::Probe(None),
            Fact::LastLine("ready".into()),
            Fact::ContentBefore("1".into()),
            Fact::ContentAfter("2".into()),
            Fact::ExecOutput("alive\n".into()),
            Fact::ExecExitCode(-1),
            Fact::Api(Api::Responsive),
            Fact::ApiDuringFreeze(Api::Unresponsive),
            Fact::Ping(true),
            Fact::List(false),
            Fact::DockerdPid(42),
            Fact::DockerdPidBefore(42),
            Fact::DockerdPidAfter(0),
            Fact::ContainerdPidBefore(7),
            Fact::ContainerdPidAfter(8),
            Fact::ShimPid(9),
            Fact::KilledPid(10),
            Fact::ContainersMissing(vec!["a".into(), "b".into()]),
            Fact::DockerdStateDuring("T (stopped)".into()),
            Fact::FreezerState("FROZEN".into()),
            Fact::ProcessState("D".into()),
            Fact::ProcessWchan("do_freezer_trap".into()),
            Fact::Mechanism("netem".into()),
            Fact::InjectedAt(1.25),
            Fact::HealedAt(5.5),
            Fact::Healed("iptables rule removed".into()),
            Fact::Recovered(false),
            Fact::Veths(vec!["sdleak1".into(), "sdleak2".into()]),
            Fact::Pinned("/run/x".into()),
        ];
        for f in all {
            let facts: BTreeMap<String, String> = [(f.name().to_string(), f.value())].into();
            assert_eq!(Fact::parse(&facts, f.name()), Some(f.clone()), "{f:?}");
        }
        // What the journal says in words, as before.
        assert_eq!(Fact::Progress(false).value(), "hung");
        assert_eq!(Fact::Ping(false).value(), "no answer");
        assert_eq!(Fact::InjectedAt(1.0).value(), "1.000");
        // Text that is not a value of the fact is no fact.
        let odd: BTreeMap<String, String> = [("probe".to_string(), "maybe".to_string())].into();
        assert_eq!(Fact::parse(&odd, "probe"), None);
        assert_eq!(Fact::parse(&odd, "progress"), None);
    }
}
