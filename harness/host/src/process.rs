//! A container's process as the harness holds it: a pidfd for its PID 1 and a descriptor of its
//! network namespace, both opened when the container was observed running and checked to belong
//! to that container (its cgroup names the container's id). Faults, heals, probes and
//! `kill_process` go through these, so they work while the daemon is down and can never reach a
//! process that merely inherited the PID.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use super::{NetnsHandle, PidFd};

/// A running container's PID 1 and network namespace, held by descriptor.
#[derive(Clone, Debug)]
pub struct ContainerProcess {
    /// The container's full id.
    pub container_id: String,
    /// Its PID 1 when observed.
    pub pid: u32,
    pidfd: Arc<PidFd>,
    /// Its network namespace.
    pub netns: NetnsHandle,
}

/// The container id a cgroup path component names, if it names one: the id itself (cgroupfs
/// driver: `/docker/<id>`) or `docker-<id>.scope` (systemd driver), the id being 64 hex digits.
/// The one place that reads container cgroups' names.
pub fn container_of_cgroup(component: &str) -> Option<&str> {
    let id = component
        .strip_prefix("docker-")
        .and_then(|c| c.strip_suffix(".scope"))
        .unwrap_or(component);
    is_container_id(id).then_some(id)
}

/// Whether `name` is a full container id (64 hex digits).
pub fn is_container_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a `/proc/PID/cgroup` text places the process in the container's cgroup (a path
/// component naming it, [`container_of_cgroup`]).
pub fn cgroup_names_container(cgroup: &str, id: &str) -> bool {
    cgroup.lines().any(|line| {
        line.splitn(3, ':')
            .nth(2)
            .is_some_and(|path| path.split('/').any(|c| container_of_cgroup(c) == Some(id)))
    })
}

impl ContainerProcess {
    /// Opens descriptors for `pid` and checks, after opening them, that the process is in the
    /// container's cgroup and still alive: then both descriptors are that container's. Blocking:
    /// call it through [`super::blocking`].
    pub fn capture(container_id: &str, pid: u32) -> anyhow::Result<Self> {
        let pidfd = PidFd::open(pid).with_context(|| format!("pidfd_open({pid})"))?;
        let netns = NetnsHandle::open(Path::new(&format!("/proc/{pid}/ns/net")))
            .with_context(|| format!("opening the network namespace of pid {pid}"))?;
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .with_context(|| format!("reading /proc/{pid}/cgroup"))?;
        if !cgroup_names_container(&cgroup, container_id) {
            bail!("pid {pid} is not in the cgroup of container {container_id}");
        }
        // Alive after the reads: the PID was not recycled in between, so what we opened was its.
        if !pidfd.is_alive() {
            bail!("pid {pid} exited while it was being observed");
        }
        Ok(ContainerProcess {
            container_id: container_id.to_string(),
            pid,
            pidfd: Arc::new(pidfd),
            netns,
        })
    }

    /// Whether the process still runs.
    pub fn is_alive(&self) -> bool {
        self.pidfd.is_alive()
    }

    /// Signals exactly this process, after checking that it is still in the container's cgroup.
    pub fn signal(&self, signal: i32) -> anyhow::Result<()> {
        let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", self.pid))
            .with_context(|| format!("reading /proc/{}/cgroup", self.pid))?;
        if !self.pidfd.is_alive() {
            bail!(
                "the process of container {} (pid {}) has already exited",
                short(&self.container_id),
                self.pid
            );
        }
        if !cgroup_names_container(&cgroup, &self.container_id) {
            bail!(
                "pid {} no longer belongs to container {}",
                self.pid,
                short(&self.container_id)
            );
        }
        self.pidfd
            .signal(signal)
            .with_context(|| format!("signalling pid {}", self.pid))
    }
}

impl ContainerProcess {
    /// Reads a file inside the container (`path` as the container sees it) from the host, through
    /// its PID 1's root (`/proc/PID/root`), then checks that the process still runs and is still
    /// the container's: what was read was that container's file, without any daemon call.
    /// Blocking: call it through [`super::blocking`].
    pub fn read_file(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let rel = path.trim_start_matches('/');
        let data = std::fs::read(format!("/proc/{}/root/{rel}", self.pid))
            .with_context(|| format!("reading {path} in container {}", short(&self.container_id)));
        self.still_ours()?;
        data
    }

    /// The container's freezer: its cgroup v2 directory (`cgroup.freeze`) or, on cgroup v1, its
    /// `freezer` controller directory (`freezer.state`), from `/proc/PID/cgroup` — checked to name
    /// the container and read while its PID 1 still runs. Blocking.
    pub fn freezer(&self) -> anyhow::Result<Freezer> {
        let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", self.pid))
            .with_context(|| format!("reading /proc/{}/cgroup", self.pid))?;
        self.still_ours()?;
        Freezer::from_proc_cgroup(&cgroup, &self.container_id).ok_or_else(|| {
            anyhow::anyhow!(
                "container {} has no freezer cgroup naming it in /proc/{}/cgroup",
                short(&self.container_id),
                self.pid
            )
        })
    }

    fn still_ours(&self) -> anyhow::Result<()> {
        let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", self.pid))
            .with_context(|| format!("reading /proc/{}/cgroup", self.pid))?;
        if !self.pidfd.is_alive() || !cgroup_names_container(&cgroup, &self.container_id) {
            bail!(
                "the process of container {} (pid {}) has exited",
                short(&self.container_id),
                self.pid
            );
        }
        Ok(())
    }
}

/// A container's cgroup freezer on the host.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Freezer {
    /// The control file: `.../cgroup.freeze` (v2, `1`/`0`) or `.../freezer.state` (v1,
    /// `FROZEN`/`THAWED`).
    pub control: std::path::PathBuf,
}

impl Freezer {
    /// The freezer of the container's cgroup named in a `/proc/PID/cgroup` text: the v1 `freezer`
    /// controller's line if there is one, else the v2 (`0::`) line; its path must name the
    /// container (see [`cgroup_names_container`]).
    pub fn from_proc_cgroup(cgroup: &str, id: &str) -> Option<Freezer> {
        let line = |pred: &dyn Fn(&str) -> bool| {
            cgroup.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
                (pred(ctrl) && cgroup_names_container(l, id)).then(|| path.to_string())
            })
        };
        if let Some(path) = line(&|c| c.split(',').any(|c| c == "freezer")) {
            return Some(Freezer {
                control: std::path::Path::new("/sys/fs/cgroup/freezer")
                    .join(path.trim_start_matches('/'))
                    .join("freezer.state"),
            });
        }
        let path = line(&|c| c.is_empty())?;
        let base = if std::path::Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
            "/sys/fs/cgroup/unified"
        } else {
            "/sys/fs/cgroup"
        };
        Some(Freezer {
            control: std::path::Path::new(base)
                .join(path.trim_start_matches('/'))
                .join("cgroup.freeze"),
        })
    }

    fn v1(&self) -> bool {
        self.control.ends_with("freezer.state")
    }

    /// A child freezer cgroup `name` inside this one (cgroup v1 only: on v2 a frozen process dies
    /// of SIGKILL anyway, and a cgroup with controllers may not hold processes in a child).
    pub fn nested(&self, name: &str) -> Option<Freezer> {
        let dir = self.control.parent()?;
        self.v1().then(|| Freezer {
            control: dir.join(name).join("freezer.state"),
        })
    }

    /// Creates this (nested) freezer's directory and moves every process of the parent cgroup
    /// into it, `pid` (the container's PID 1) first. Blocking.
    pub fn create_with(&self, pid: u32) -> std::io::Result<()> {
        let dir = self
            .control
            .parent()
            .ok_or(std::io::ErrorKind::InvalidInput)?;
        let parent = dir.parent().ok_or(std::io::ErrorKind::InvalidInput)?;
        std::fs::create_dir(dir)?;
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())?;
        for other in std::fs::read_to_string(parent.join("cgroup.procs"))?.split_whitespace() {
            // A process that exits meanwhile cannot be moved, and need not be.
            let _ = std::fs::write(dir.join("cgroup.procs"), other);
        }
        Ok(())
    }

    /// Removes this nested freezer: moves its processes back to the parent cgroup and removes its
    /// directory, retrying while exiting processes still hold it; `Ok(false)` when it was gone.
    /// Blocking.
    pub fn remove_nested(&self) -> std::io::Result<bool> {
        let dir = self
            .control
            .parent()
            .ok_or(std::io::ErrorKind::InvalidInput)?;
        let parent = dir.parent().ok_or(std::io::ErrorKind::InvalidInput)?;
        if !dir.exists() {
            return Ok(false);
        }
        let t = std::time::Instant::now();
        loop {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.split_whitespace() {
                    // A process that exits meanwhile cannot be moved, and need not be.
                    let _ = std::fs::write(parent.join("cgroup.procs"), pid);
                }
            }
            match std::fs::remove_dir(dir) {
                Ok(()) => return Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) if t.elapsed() > std::time::Duration::from_secs(5) => return Err(e),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
    }

    /// Freezes (`true`) or thaws the cgroup. Blocking.
    pub fn set(&self, frozen: bool) -> std::io::Result<()> {
        let value = match (self.v1(), frozen) {
            (true, true) => "FROZEN",
            (true, false) => "THAWED",
            (false, true) => "1",
            (false, false) => "0",
        };
        std::fs::write(&self.control, value)
    }

    /// The freezer's state as the kernel reports it: `FROZEN`, `FREEZING`, `THAWED` (v1), or
    /// `frozen`/`thawed` from `cgroup.events` (v2). Blocking.
    pub fn state(&self) -> std::io::Result<String> {
        if self.v1() {
            return Ok(std::fs::read_to_string(&self.control)?.trim().to_string());
        }
        let events = std::fs::read_to_string(self.control.with_file_name("cgroup.events"))?;
        let frozen = events.lines().any(|l| l.trim() == "frozen 1");
        Ok(if frozen { "frozen" } else { "thawed" }.into())
    }

    /// Whether a reported state is frozen.
    pub fn is_frozen(state: &str) -> bool {
        state == "FROZEN" || state == "frozen"
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    // A container id: 64 hex digits.
    const ID: &str = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c";

    #[test]
    fn cgroup_component_must_be_the_id() {
        assert!(cgroup_names_container(
            &format!("12:memory:/docker/{ID}\n"),
            ID
        ));
        assert!(cgroup_names_container(
            &format!("0::/system.slice/docker-{ID}.scope\n"),
            ID
        ));
        assert!(!cgroup_names_container(
            &format!("12:memory:/docker/{ID}x\n"),
            ID
        ));
        assert!(!cgroup_names_container("12:memory:/user.slice\n", ID));
        // The id as a substring of another component is not enough.
        assert!(!cgroup_names_container(
            &format!("12:memory:/other-{ID}\n"),
            ID
        ));
    }

    #[test]
    fn the_freezer_is_the_containers_own() {
        let v1 = format!("6:freezer:/docker/{ID}\n4:memory:/docker/{ID}\n0::/\n");
        let f = Freezer::from_proc_cgroup(&v1, ID).unwrap();
        assert_eq!(
            f.control,
            std::path::PathBuf::from(format!("/sys/fs/cgroup/freezer/docker/{ID}/freezer.state"))
        );
        let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        let f = Freezer::from_proc_cgroup(&v2, ID).unwrap();
        assert!(f
            .control
            .ends_with(format!("docker-{ID}.scope/cgroup.freeze")));
        // A freezer line of another cgroup is never taken.
        assert_eq!(Freezer::from_proc_cgroup("6:freezer:/\n0::/\n", ID), None);
    }

    #[test]
    fn a_process_outside_the_cgroup_is_refused() {
        let e = ContainerProcess::capture(ID, std::process::id()).unwrap_err();
        assert!(format!("{e:#}").contains("not in the cgroup"), "{e:#}");
    }
}
