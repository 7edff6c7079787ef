//! Network namespaces held by descriptor. A container's namespace is opened once, when the
//! container is observed running (see [`super::ContainerProcess`]); faults, heals and probes join
//! it through that descriptor, so they act on that namespace even if the container's PID has been
//! recycled by then. A namespace is named in the journal by its nsfs inode and device.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

pub use model::journal::NetnsId;

/// An open network namespace; clones share the descriptor.
#[derive(Clone)]
pub struct NetnsHandle {
    fd: Arc<OwnedFd>,
    id: NetnsId,
}

impl fmt::Debug for NetnsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetnsHandle({})", self.id)
    }
}

impl NetnsHandle {
    /// Opens a namespace file (`/proc/PID/ns/net`, a bind mount of one, `/proc/self/fd/N`).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        Ok(NetnsHandle {
            fd: Arc::new(OwnedFd::from(file)),
            id: NetnsId {
                inode: meta.ino(),
                dev: meta.dev(),
            },
        })
    }

    /// Its identity.
    pub fn id(&self) -> NetnsId {
        self.id
    }

    /// The raw descriptor, for `setns` in a child between fork and exec.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Runs `f` on a new thread that has joined this namespace (setns must never run on a tokio
    /// worker: the worker would stay in the namespace). Blocks the calling thread until `f`
    /// returns: call it from [`super::blocking`].
    pub fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> anyhow::Result<R> {
        let fd = self.fd.clone();
        std::thread::spawn(move || -> anyhow::Result<R> {
            nix::sched::setns(fd.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| anyhow::anyhow!("setns: {e}"))?;
            Ok(f())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
    }
}

impl AsFd for NetnsHandle {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The identity of the namespace a path names, without keeping it open.
pub fn id_of(path: &Path) -> std::io::Result<NetnsId> {
    let m = std::fs::metadata(path)?;
    Ok(NetnsId {
        inode: m.ino(),
        dev: m.dev(),
    })
}

/// Finds a container's namespace again by its identity, through a live process of that container
/// (its cgroup names the container) whose namespace has that inode and device. Blocking. `None`:
/// no process of the container is in it any more, so nothing of ours can act there.
pub fn find(id: &NetnsId, container_id: &str) -> Result<Option<NetnsHandle>, String> {
    let procs = std::fs::read_dir("/proc").map_err(|e| format!("reading /proc: {e}"))?;
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let ns = Path::new("/proc").join(pid).join("ns/net");
        if id_of(&ns).ok() != Some(*id) {
            continue;
        }
        let cgroup = std::fs::read_to_string(Path::new("/proc").join(pid).join("cgroup"))
            .unwrap_or_default();
        if !super::process::cgroup_names_container(&cgroup, container_id) {
            continue;
        }
        // Opened, then checked: the descriptor is the namespace we looked for.
        if let Ok(h) = NetnsHandle::open(&ns) {
            if h.id() == *id {
                return Ok(Some(h));
            }
        }
    }
    Ok(None)
}

/// [`find`], off the async workers and bounded.
pub async fn find_bounded(
    id: NetnsId,
    container_id: String,
) -> Result<Option<NetnsHandle>, String> {
    super::blocking(
        "finding a network namespace",
        std::time::Duration::from_secs(10),
        move || find(&id, &container_id),
    )
    .await
    .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespace_by_descriptor() {
        let h = NetnsHandle::open(Path::new("/proc/self/ns/net")).unwrap();
        assert_eq!(h.id(), id_of(Path::new("/proc/self/ns/net")).unwrap());
        // A thread that joins it still sees the same namespace.
        let seen = h
            .run(|| id_of(Path::new("/proc/thread-self/ns/net")).unwrap())
            .unwrap();
        assert_eq!(seen, h.id());
    }
}
