//! A memory cgroup of the harness's own for a daemon process (cgroup v1's `memory` hierarchy, or
//! the unified v2 hierarchy): where it goes, the process's cgroup before, the move, the bound, the
//! kernel's count of OOM kills in it, and its removal. Blocking: call through `host::blocking`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The root of the memory controller: cgroup v1's `memory` hierarchy, else the unified one.
fn root() -> (PathBuf, bool) {
    let v1 = Path::new("/sys/fs/cgroup/memory");
    if v1.join("memory.limit_in_bytes").exists() {
        (v1.to_path_buf(), true)
    } else {
        (PathBuf::from("/sys/fs/cgroup"), false)
    }
}

/// Where the harness's cgroup named `name` (it must carry the run id) goes.
pub fn path_for(name: &str) -> PathBuf {
    root().0.join(name)
}

/// The directory of `pid`'s memory cgroup in the hierarchy `path_for` uses.
pub fn cgroup_of(pid: u32) -> std::io::Result<PathBuf> {
    let (root, v1) = root();
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    let rel = text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
            let ours = if v1 {
                controllers.split(',').any(|c| c == "memory")
            } else {
                controllers.is_empty()
            };
            ours.then(|| path.to_string())
        })
        .next()
        .ok_or_else(|| std::io::Error::other(format!("pid {pid} has no memory cgroup")))?;
    Ok(root.join(rel.trim_start_matches('/')))
}

/// Makes the cgroup at `path` with `limit` bytes of memory (and no swap beyond it, where the
/// kernel accounts swap).
pub fn create(path: &Path, limit: u64) -> std::io::Result<()> {
    match std::fs::create_dir(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    if path.join("memory.limit_in_bytes").exists() {
        std::fs::write(path.join("memory.limit_in_bytes"), limit.to_string())?;
        let memsw = path.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            std::fs::write(memsw, limit.to_string())?;
        }
        // Without swap to fall back on, the limit is reached and the OOM killer acts.
        let _ = std::fs::write(path.join("memory.swappiness"), "0");
    } else {
        if !path.join("memory.max").exists() {
            let _ = std::fs::remove_dir(path);
            return Err(std::io::Error::other(
                "the memory controller is not enabled for the children of /sys/fs/cgroup \
                 (no memory in its cgroup.subtree_control)",
            ));
        }
        std::fs::write(path.join("memory.max"), limit.to_string())?;
        let _ = std::fs::write(path.join("memory.swap.max"), "0");
    }
    Ok(())
}

/// Moves the process `pid` (all its threads) into the cgroup at `path`.
pub fn move_to(path: &Path, pid: u32) -> std::io::Result<()> {
    std::fs::write(path.join("cgroup.procs"), pid.to_string())
}

/// How many processes the kernel's OOM killer killed in the cgroup (`oom_kill` in cgroup v1's
/// `memory.oom_control`, v2's `memory.events`).
pub fn oom_kills(path: &Path) -> std::io::Result<u64> {
    let file = if path.join("memory.oom_control").exists() {
        "memory.oom_control"
    } else {
        "memory.events"
    };
    let text = std::fs::read_to_string(path.join(file))?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0))
}

/// The processes in the cgroup at `path`.
pub fn procs(path: &Path) -> std::io::Result<Vec<u32>> {
    Ok(std::fs::read_to_string(path.join("cgroup.procs"))?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

/// Removes the cgroup at `path` once it is empty, waiting up to `deadline` for a dying process
/// to leave it; `Ok(false)` when it was not there.
pub fn remove(path: &Path, deadline: Duration) -> std::io::Result<bool> {
    let t = Instant::now();
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) if t.elapsed() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
