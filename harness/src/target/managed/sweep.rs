//! Removing what a dead harness left behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::bridge::{ip, link_exists};
use super::mounts::unmount_all;
use super::procs::{alive, kill_processes, read_stat};
use super::state::{lock_state_root, own_identity, LOCK_DEADLINE};
use super::{blocking, KILL_DEADLINE, SCAN_DEADLINE};

/// How long [`sweep_stale`] lets a stale dockerd shut down gracefully before SIGKILL.
const SWEEP_GRACE: Duration = Duration::from_secs(10);

/// Everything after the dockerd is stopped: leftover processes, mounts, bridge, directory.
/// Returns one line per thing done or failed.
pub(super) async fn cleanup_dir(dir: &Path, id: &str, bridge: Option<&str>) -> Vec<String> {
    let mut report = Vec::new();
    kill_processes(dir, id, false, KILL_DEADLINE, &mut report).await;
    unmount_all(dir, &mut report).await;

    let recorded = fs::read_to_string(dir.join("bridge"))
        .ok()
        .map(|s| s.trim().to_string());
    let bridge = bridge.map(str::to_owned).or(recorded);
    if let Some(bridge) = bridge {
        // Only a name we could have made: never docker0 or another daemon's bridge, whatever
        // the file says.
        if bridge.starts_with("sd-") && bridge.len() <= 15 && link_exists(&bridge).await {
            match ip(&["link", "del", &bridge]).await {
                Ok(_) => report.push(format!("deleted bridge {bridge}")),
                Err(e) => report.push(format!("could not delete bridge {bridge}: {e:#}")),
            }
        }
    }

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

/// `(pid, start time)` from an `owner.pid` file.
pub(super) fn read_owner(dir: &Path) -> Option<(i32, u64)> {
    let s = fs::read_to_string(dir.join("owner.pid")).ok()?;
    let mut it = s.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

pub(super) fn owner_alive(dir: &Path) -> bool {
    match read_owner(dir) {
        Some((pid, start)) => {
            matches!(read_stat(pid), Some(s) if s.start == start && s.state != 'Z')
        }
        None => false,
    }
}

/// Stops a stale dockerd that is not our child: SIGTERM (it may still unmount and clean up
/// its netns), then SIGKILL after a grace period. Only a pid whose command line names `dir`
/// is signalled, as the pidfile may be old and the pid reused.
pub(super) async fn stop_stale_dockerd(dir: &Path, report: &mut Vec<String>) {
    let Some(pid) = fs::read_to_string(dir.join("docker.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    let dir_prefix = format!("{}/", dir.display());
    let is_ours = fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).contains(&dir_prefix))
        .unwrap_or(false);
    if !is_ours || !alive(pid) {
        return;
    }
    let p = Pid::from_raw(pid);
    let _ = kill(p, Signal::SIGTERM);
    let _ = kill(p, Signal::SIGCONT);
    let t0 = Instant::now();
    while alive(pid) && t0.elapsed() < SWEEP_GRACE {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if alive(pid) {
        let _ = kill(p, Signal::SIGKILL);
        report.push(format!("killed stale dockerd pid {pid} (SIGTERM ignored)"));
    } else {
        report.push(format!("stopped stale dockerd pid {pid}"));
    }
}

/// Clean up what earlier runs left under state_root: for each daemon dir whose owner process
/// (the harness pid recorded in D/owner.pid at start, together with its start time from
/// /proc/<pid>/stat so pid reuse is detected) is no longer alive: stop its dockerd (pidfile
/// D/docker.pid) and containerd/shims, unmount, delete its bridge (recorded in D/bridge),
/// remove the dir. Dirs of live owners are left alone. Returns a human-readable line per
/// thing cleaned.
pub async fn sweep_stale(state_root: &Path) -> Result<Vec<String>> {
    let mut report = Vec::new();
    let state_root = match fs::canonicalize(state_root) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        Err(e) => {
            return Err(e).with_context(|| format!("resolving {}", state_root.display()));
        }
    };
    // Claim stale dirs under the lock by writing our own identity into them: a concurrent
    // sweeper then sees a live owner and keeps off, and a daemon being created (which only
    // exists under the lock, owner.pid included) is never mistaken for a stale one.
    let claimed: Vec<(String, PathBuf)> = {
        let _lock = lock_state_root(&state_root, LOCK_DEADLINE).await?;
        let (pid, start) = own_identity()?;
        let mut claimed = Vec::new();
        for entry in fs::read_dir(&state_root)?.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            if !ft.is_dir() || name.starts_with('.') {
                continue;
            }
            let dir = entry.path();
            if owner_alive(&dir) {
                continue;
            }
            if let Err(e) = fs::write(dir.join("owner.pid"), format!("{pid} {start}\n")) {
                report.push(format!("could not claim {}: {e}", dir.display()));
                continue;
            }
            claimed.push((name, dir));
        }
        claimed
    };
    for (id, dir) in claimed {
        report.push(format!("stale managed daemon {}", dir.display()));
        // As in shutdown: containers first, so the stale dockerd's graceful stop is quick.
        kill_processes(&dir, &id, true, KILL_DEADLINE, &mut report).await;
        stop_stale_dockerd(&dir, &mut report).await;
        report.extend(cleanup_dir(&dir, &id, None).await);
    }
    for line in &report {
        tracing::info!("sweep: {line}");
    }
    Ok(report)
}
