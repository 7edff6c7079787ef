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

/// Whether a `/proc/PID/cgroup` text places the process in the container's cgroup: a path
/// component equal to the id (cgroupfs driver: `/docker/<id>`) or `docker-<id>.scope` (systemd).
pub fn cgroup_names_container(cgroup: &str, id: &str) -> bool {
    let scope = format!("docker-{id}.scope");
    cgroup.lines().any(|line| {
        line.splitn(3, ':')
            .nth(2)
            .is_some_and(|path| path.split('/').any(|c| c == id || c == scope))
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

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2";

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
    fn a_process_outside_the_cgroup_is_refused() {
        let e = ContainerProcess::capture(ID, std::process::id()).unwrap_err();
        assert!(format!("{e:#}").contains("not in the cgroup"), "{e:#}");
    }
}
