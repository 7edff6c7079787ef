//! The vocabulary of the rollback ledger: every change the harness makes to the host or to a
//! daemon, with the exact handle that undoes it. A change is journaled *before* it is made (see
//! the ledger in the main crate), so a run killed at any moment leaves a journal that names everything it may
//! have changed; `shakedown clean` undoes exactly that.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The identity of a namespace: its nsfs inode and device (as `stat` on `/proc/PID/ns/net` shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NetnsId {
    /// Inode number (`net:[INODE]`).
    pub inode: u64,
    /// Device of the nsfs.
    pub dev: u64,
}

impl fmt::Display for NetnsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "net:[{}]", self.inode)
    }
}

/// A network namespace as the ledger names it: its identity, and the container it belonged to
/// when the harness opened it (a namespace found later must still be that container's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsRef {
    /// The namespace's nsfs inode and device.
    pub id: NetnsId,
    /// The container whose PID 1 was in it.
    pub container_id: String,
}

/// How to start a daemon again that the harness stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DaemonRef {
    /// The harness's own managed daemon in this directory (undone by its owner, or swept with
    /// its directory once the owner is gone).
    Managed {
        /// The daemon's directory.
        dir: PathBuf,
    },
    /// A daemon the harness did not start, as it was started.
    System(SystemDaemonSpec),
}

/// How a daemon the harness did not start was started: enough to start it the same way again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemDaemonSpec {
    /// Its API socket.
    pub socket: PathBuf,
    /// The executable.
    pub exe: PathBuf,
    /// Its arguments (without argv\[0\]).
    pub args: Vec<String>,
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// Its working directory.
    pub cwd: PathBuf,
    /// The systemd unit that runs it, if any (then it is started with systemctl).
    pub unit: Option<String>,
    /// Where a daemon the harness starts writes its output.
    pub log: PathBuf,
}

/// A process resource limit the harness lowers on a daemon (`prlimit(2)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rlimit {
    /// `RLIMIT_NOFILE`: open files.
    Nofile,
    /// `RLIMIT_NPROC`: processes (threads) of the process's real user, checked at its children's
    /// forks and at a non-root user's `setuid`/`execve`.
    Nproc,
}

impl Rlimit {
    /// Its name as the kernel's `/proc/PID/limits` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Rlimit::Nofile => "open files",
            Rlimit::Nproc => "processes",
        }
    }
}

/// One change to the host or a daemon, with its undo handle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A private dockerd the harness started in its own directory (roots, socket, bridge).
    ManagedDaemon {
        /// Its directory.
        dir: PathBuf,
        /// Its id (bridge `sd-<id>`, containerd namespace `shakedown-<id>`).
        id: String,
    },
    /// A container the harness created. `id` is filled in once the daemon answered; until then
    /// the name (with the run's label) finds it.
    Container {
        /// The daemon's address.
        daemon: String,
        /// The docker name.
        name: String,
        /// The docker id.
        #[serde(default)]
        id: Option<String>,
    },
    /// A network the harness created for a scenario (undo: remove it, only while it carries the
    /// run's label).
    Network {
        /// The daemon's address.
        daemon: String,
        /// The docker name.
        name: String,
    },
    /// A named volume the harness created for a scenario (undo: remove it, only while it carries
    /// the run's label).
    Volume {
        /// The daemon's address.
        daemon: String,
        /// The docker name.
        name: String,
    },
    /// A container paused by a fault (undo: unpause).
    ContainerPaused {
        /// The daemon's address.
        daemon: String,
        /// The docker id.
        id: String,
    },
    /// A container stopped by a fault (undo: start).
    ContainerStopped {
        /// The daemon's address.
        daemon: String,
        /// The docker id.
        id: String,
    },
    /// dockerd frozen with SIGSTOP (undo: SIGCONT to that very process).
    DaemonFrozen {
        /// Its pid.
        pid: u32,
        /// Its start time (clock ticks since boot, /proc/PID/stat field 22): the pid's identity.
        start_time: u64,
    },
    /// dockerd's limit of open files lowered (undo: set back to `soft`/`hard` on that very
    /// process, if it still runs).
    DaemonNofile {
        /// Its pid.
        pid: u32,
        /// Its start time (clock ticks since boot, /proc/PID/stat field 22): the pid's identity.
        start_time: u64,
        /// The soft limit before.
        soft: u64,
        /// The hard limit before.
        hard: u64,
    },
    /// A daemon process's limit lowered (undo: set back to `soft`/`hard` on that very process, if
    /// it still runs).
    DaemonLimit {
        /// Which process (`dockerd`, `containerd`).
        process: String,
        /// The limit.
        resource: Rlimit,
        /// Its pid.
        pid: u32,
        /// Its start time (clock ticks since boot, /proc/PID/stat field 22): the pid's identity.
        start_time: u64,
        /// The soft limit before.
        soft: u64,
        /// The hard limit before.
        hard: u64,
    },
    /// A memory cgroup the harness made to bound dockerd's memory, its name carrying the run id
    /// (undo: move that very process back to `original` if it still runs, remove the cgroup).
    DaemonCgroup {
        /// The cgroup's directory (`/sys/fs/cgroup/memory/shakedown-…` on cgroup v1,
        /// `/sys/fs/cgroup/shakedown-…` on v2).
        path: PathBuf,
        /// dockerd's cgroup before, as a directory of the same hierarchy.
        original: PathBuf,
        /// dockerd's pid.
        pid: u32,
        /// Its start time (clock ticks since boot): the pid's identity.
        start_time: u64,
    },
    /// A container's cgroup frozen from the host, behind the daemon's back (undo: thaw it, if
    /// that cgroup still exists).
    CgroupFrozen {
        /// The container's id (the freezer's path names it).
        container_id: String,
        /// The freezer's control file.
        control: PathBuf,
        /// A child cgroup the harness created inside the container's (`shakedown-*`) and moved
        /// its PID 1 into (undo: also move the processes back and remove it).
        #[serde(default)]
        nested: bool,
    },
    /// dockerd stopped or killed and not (yet) started again (undo: start it again).
    DaemonStopped {
        /// Which daemon, and how to start it.
        daemon: DaemonRef,
    },
    /// An iptables rule in a container's network namespace (undo: `iptables -D` of exactly this
    /// rule, which carries a comment naming the run).
    IptablesRule {
        /// The namespace.
        netns: NetnsRef,
        /// The rule as given after `-I`/`-D` (chain first).
        rule: Vec<String>,
    },
    /// A root qdisc on a device in a container's network namespace, with a handle of ours (undo:
    /// `tc qdisc del ... root handle H`, which the kernel refuses for another handle).
    Qdisc {
        /// The namespace.
        netns: NetnsRef,
        /// The device.
        dev: String,
        /// The qdisc handle, e.g. `5d1:`.
        handle: String,
    },
    /// A network interface the harness created on the host, its alias naming the run.
    Link {
        /// The interface name.
        name: String,
        /// Its alias (`shakedown:<run id>`): only an interface carrying it is deleted.
        alias: String,
    },
    /// A bind mount keeping a network namespace alive (undo: unmount, remove the file).
    NetnsPin {
        /// The mount point (its name carries the run id).
        path: PathBuf,
    },
    /// A sparse image file made for a filesystem of a scenario, in the run's own directory (undo:
    /// remove it, only while its path carries the run id).
    FsImage {
        /// The image file.
        path: PathBuf,
    },
    /// A loop device attached to an image of the harness (undo: detach every loop device whose
    /// backing file is `image`, as `/sys/block/loopN/loop/backing_file` names it; a device still
    /// in use is detached by the kernel once released).
    LoopDevice {
        /// The image it is backed by.
        image: PathBuf,
        /// The device (`/dev/loopN`), once `losetup` named it.
        #[serde(default)]
        device: Option<String>,
    },
    /// A filesystem mounted by the harness, at a path in the run's own directory (undo: detach
    /// whatever is mounted there, lazily: a daemon still using it lets go when it dies).
    FsMount {
        /// The mount point.
        point: PathBuf,
        /// The device mounted.
        device: String,
    },
    /// A file or a directory of files written to fill a filesystem the harness made (undo: remove
    /// it, only while its name carries the run id).
    FillFile {
        /// The file or directory.
        path: PathBuf,
    },
}

impl Change {
    /// Whether the change is a fault injected into the target (a frozen or stopped daemon, a
    /// paused or stopped container, a network fault, an injected leak), as opposed to what a
    /// scenario needs to run (a daemon, its containers). Reports draw faults as fault windows.
    pub fn is_fault(&self) -> bool {
        !matches!(
            self,
            Change::ManagedDaemon { .. }
                | Change::Container { .. }
                | Change::Network { .. }
                | Change::Volume { .. }
                | Change::FsImage { .. }
                | Change::LoopDevice { .. }
                | Change::FsMount { .. }
        )
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |id: &str| id.chars().take(12).collect::<String>();
        match self {
            Change::ManagedDaemon { dir, .. } => {
                write!(f, "managed dockerd in {}", dir.display())
            }
            Change::Container { name, id, .. } => match id {
                Some(id) => write!(f, "container {name} ({})", short(id)),
                None => write!(f, "container {name}"),
            },
            Change::Network { name, .. } => write!(f, "network {name}"),
            Change::Volume { name, .. } => write!(f, "volume {name}"),
            Change::ContainerPaused { id, .. } => write!(f, "paused container {}", short(id)),
            Change::ContainerStopped { id, .. } => write!(f, "stopped container {}", short(id)),
            Change::DaemonFrozen { pid, .. } => write!(f, "froze dockerd (pid {pid})"),
            Change::DaemonNofile { pid, soft, .. } => {
                write!(
                    f,
                    "lowered the open-files limit of dockerd (pid {pid}, was {soft})"
                )
            }
            Change::DaemonLimit {
                process,
                resource,
                pid,
                soft,
                ..
            } => write!(
                f,
                "lowered the {} limit of {process} (pid {pid}, was {soft})",
                resource.name()
            ),
            Change::DaemonCgroup { path, pid, .. } => {
                write!(
                    f,
                    "memory cgroup {} for dockerd (pid {pid})",
                    path.display()
                )
            }
            Change::CgroupFrozen { container_id, .. } => {
                write!(f, "froze the cgroup of container {}", short(container_id))
            }
            Change::DaemonStopped { .. } => write!(f, "stopped dockerd"),
            Change::IptablesRule { netns, rule } => {
                write!(f, "iptables rule `{}` in {}", rule.join(" "), netns.id)
            }
            Change::Qdisc { netns, dev, handle } => {
                write!(f, "qdisc {handle} on {dev} in {}", netns.id)
            }
            Change::Link { name, .. } => write!(f, "interface {name}"),
            Change::NetnsPin { path } => write!(f, "netns pin {}", path.display()),
            Change::FsImage { path } => write!(f, "image file {}", path.display()),
            Change::LoopDevice { image, device } => match device {
                Some(d) => write!(f, "loop device {d} on {}", image.display()),
                None => write!(f, "loop device on {}", image.display()),
            },
            Change::FsMount { point, device } => {
                write!(f, "mount of {device} at {}", point.display())
            }
            Change::FillFile { path } => write!(f, "fill {}", path.display()),
        }
    }
}

/// When a change is undone, if nothing undid it before: at the end of its step, of its iteration,
/// or of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeScope {
    /// At the end of the run (the managed daemon).
    Run,
    /// At the end of the iteration (containers, injected leaks, a freeze without a duration).
    Iteration {
        /// Scenario index in the plan.
        scenario: usize,
        /// Iteration.
        iteration: u32,
    },
    /// At the end of the step (network faults, outages).
    Step {
        /// Scenario index in the plan.
        scenario: usize,
        /// Iteration.
        iteration: u32,
        /// Step index.
        step: usize,
    },
}

impl ChangeScope {
    /// The scenario and iteration the scope lies in (`None` for the run).
    pub fn iteration(self) -> Option<(usize, u32)> {
        match self {
            ChangeScope::Run => None,
            ChangeScope::Iteration {
                scenario,
                iteration,
            }
            | ChangeScope::Step {
                scenario,
                iteration,
                ..
            } => Some((scenario, iteration)),
        }
    }

    /// Whether a change of this scope is due when `ending` ends (a step's changes are due at its
    /// iteration's end too).
    pub fn due_at(self, ending: ChangeScope) -> bool {
        match (self, ending) {
            (_, ChangeScope::Run) => true,
            (ChangeScope::Run, _) => false,
            (_, ChangeScope::Iteration { .. }) => self.iteration() == ending.iteration(),
            (ChangeScope::Iteration { .. }, ChangeScope::Step { .. }) => false,
            (ChangeScope::Step { .. }, ChangeScope::Step { .. }) => self == ending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest() {
        let it = ChangeScope::Iteration {
            scenario: 1,
            iteration: 0,
        };
        let step = ChangeScope::Step {
            scenario: 1,
            iteration: 0,
            step: 3,
        };
        let other_step = ChangeScope::Step {
            scenario: 1,
            iteration: 0,
            step: 4,
        };
        assert!(step.due_at(step));
        assert!(!step.due_at(other_step));
        assert!(step.due_at(it));
        assert!(!it.due_at(step));
        assert!(it.due_at(ChangeScope::Run));
        assert!(!ChangeScope::Run.due_at(it));
        assert!(!it.due_at(ChangeScope::Iteration {
            scenario: 1,
            iteration: 1
        }));
    }
}
