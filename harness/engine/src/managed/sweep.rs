//! Removing what a harness left behind: its own daemon at shutdown, and the daemons of harnesses
//! that died (SIGKILL, a crash) at the next start or on `shakedown clean`. Everything removed is
//! traced back to one daemon directory by an exact identity (see `procs`, `mounts`, `bridge`), so a
//! sweep never touches a bystander that merely has a file of `D` open.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::bridge::delete_bridge;
use super::mounts::unmount_all;
use super::procs::{kill_processes, Owned, Scope};
use super::state::{lock_state_root, owner_alive, Identity, LOCK_DEADLINE, OWNER_FILE};
use super::{KILL_DEADLINE, SCAN_DEADLINE};
use host::blocking;

/// How long [`sweep_stale`] lets a stale dockerd shut down gracefully before SIGKILL.
const SWEEP_GRACE: Duration = Duration::from_secs(10);

/// Everything after the dockerd is stopped: leftover processes, mounts, bridge, directory.
/// Returns one line per thing done or failed.
pub(super) async fn cleanup_dir(dir: &Path, id: &str) -> Vec<String> {
    let mut report = Vec::new();
    kill_processes(dir, id, Scope::Everything, KILL_DEADLINE, &mut report).await;
    unmount_all(dir, &mut report).await;
    delete_bridge(dir, id, &mut report).await;

    let d = dir.to_path_buf();
    match blocking("removing directory", SCAN_DEADLINE * 3, move || {
        fs::remove_dir_all(&d)
    })
    .await
    {
        Ok(Ok(())) => report.push(format!("removed {}", dir.display())),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        Ok(Err(e)) => report.push(format!("could not remove {}: {e}", dir.display())),
        Err(e) => report.push(format!("could not remove {}: {e:#}", dir.display())),
    }
    report
}

/// The dockerd of `dir` if it still runs: a live process with exactly a recorded identity.
async fn live_dockerd(dir: &Path, id: &str) -> Option<Identity> {
    let (d, i) = (dir.to_path_buf(), id.to_string());
    blocking("looking for dockerd", SCAN_DEADLINE, move || {
        Owned::read(&d, &i)
            .dockerd
            .into_iter()
            .find(Identity::is_live)
    })
    .await
    .ok()
    .flatten()
}

/// Whether `dockerd` still runs (as far as a bounded look can tell).
async fn still_runs(dockerd: Identity) -> bool {
    blocking("looking at dockerd", SCAN_DEADLINE, move || {
        dockerd.is_live()
    })
    .await
    .unwrap_or(true)
}

/// Stops a stale dockerd that is not our child: SIGTERM (it may still unmount and clean up its
/// netns), then SIGKILL after a grace period. Only a process with the pid and start time
/// recorded when it was spawned is signalled.
async fn stop_stale_dockerd(dir: &Path, id: &str, report: &mut Vec<String>) {
    let Some(dockerd) = live_dockerd(dir, id).await else {
        return;
    };
    let pid = Pid::from_raw(dockerd.pid as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let _ = kill(pid, Signal::SIGCONT);
    let t0 = Instant::now();
    while t0.elapsed() < SWEEP_GRACE && still_runs(dockerd).await {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if still_runs(dockerd).await {
        let _ = kill(pid, Signal::SIGKILL);
        report.push(format!(
            "killed stale dockerd pid {} (SIGTERM ignored)",
            dockerd.pid
        ));
    } else {
        report.push(format!("stopped stale dockerd pid {}", dockerd.pid));
    }
}

/// Daemon directories under `state_root` whose owner is gone, claimed for the caller by writing
/// its identity into their `owner.pid`, as `(id, dir)`. Run under the state-root lock.
fn claim_stale(state_root: &Path, report: &mut Vec<String>) -> Result<Vec<(String, PathBuf)>> {
    let me = Identity::current()?;
    let mut claimed = Vec::new();
    let entries =
        fs::read_dir(state_root).with_context(|| format!("reading {}", state_root.display()))?;
    for entry in entries.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if !ft.is_dir() || name.starts_with('.') {
            continue;
        }
        let dir = entry.path();
        if owner_alive(&dir) {
            continue;
        }
        if let Err(e) = me.write(&dir.join(OWNER_FILE)) {
            report.push(format!("could not claim {}: {e}", dir.display()));
            continue;
        }
        claimed.push((name, dir));
    }
    Ok(claimed)
}

/// Cleans up what earlier runs left under `state_root`: for each daemon directory whose owner
/// (the harness recorded in `D/owner.pid` by pid and start time, so pid reuse is detected) no
/// longer runs: kills its containers, stops its dockerd (the one recorded in
/// `D/dockerd.identity`), kills its containerd and shims, unmounts, deletes its bridge (`sd-<id>`
/// as recorded in `D/bridge`) and removes the directory. Directories of live owners are left
/// alone. Returns a human-readable line per thing cleaned.
pub async fn sweep_stale(state_root: &Path) -> Result<Vec<String>> {
    let state_root = match fs::canonicalize(state_root) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("resolving {}", state_root.display()));
        }
    };
    // Claim stale dirs under the lock: a concurrent sweeper then sees a live owner and keeps
    // off, and a daemon being created (which only exists under the lock, owner.pid included) is
    // never mistaken for a stale one.
    let (claimed, mut report) = {
        let _lock = lock_state_root(&state_root, LOCK_DEADLINE).await?;
        let root = state_root.clone();
        blocking("claiming stale daemons", SCAN_DEADLINE, move || {
            let mut report = Vec::new();
            claim_stale(&root, &mut report).map(|c| (c, report))
        })
        .await??
    };
    for (id, dir) in claimed {
        report.push(format!("stale managed daemon {}", dir.display()));
        // As in shutdown: containers first, so the stale dockerd's graceful stop is quick.
        kill_processes(&dir, &id, Scope::Containers, KILL_DEADLINE, &mut report).await;
        stop_stale_dockerd(&dir, &id, &mut report).await;
        report.extend(cleanup_dir(&dir, &id).await);
    }
    for line in &report {
        tracing::info!("sweep: {line}");
    }
    Ok(report)
}
