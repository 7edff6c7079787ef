//! Runs on disk, and `shakedown clean`. Every run keeps a directory `<state>/runs/<run id>/` with
//! its journal (or a link to it) and a lock file it holds while it lives (`flock`: released by the
//! kernel when the process dies, whatever kills it). `clean` replays the ledgers of runs whose lock
//! is free — exactly the changes they journaled and did not undo, newest first, with the same undo
//! code a live run uses — and appends what it did to their journals. A live run's lock is held, so
//! its objects are never touched.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use docker::DockerClient;
use host::NetnsHandle;
use journal::{Change, DaemonRef, Event, Journal, NetnsRef};
use ledger::{undo_change, UndoEnv};

/// The directory holding every run's directory.
pub fn runs_dir(state: &Path) -> PathBuf {
    state.join("runs")
}

/// A live run's hold on its directory.
pub struct RunLock {
    _lock: Flock<File>,
    /// The run's directory.
    pub dir: PathBuf,
}

fn try_lock(dir: &Path) -> std::io::Result<Option<Flock<File>>> {
    let f = host::private::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(l)),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e.into()),
    }
}

/// Creates the run's directory (root-only, as is `runs/`, tightened if it was made looser) and
/// takes its lock for the life of this process. `journal` is the journal's path: when it is not
/// the directory's own `journal.jsonl`, that name becomes a link to it, so `clean` finds it.
pub fn claim_run(state: &Path, run_id: &str, journal: &Path) -> std::io::Result<RunLock> {
    host::private::ensure_dir(&runs_dir(state))?;
    let dir = runs_dir(state).join(run_id);
    host::private::create_dir_all(&dir)?;
    let lock = try_lock(&dir)?.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("run {run_id} is already running"),
        )
    })?;
    let own = dir.join("journal.jsonl");
    let journal = std::path::absolute(journal)?;
    if journal != own {
        let _ = std::fs::remove_file(&own);
        std::os::unix::fs::symlink(&journal, &own)?;
    }
    Ok(RunLock { _lock: lock, dir })
}

/// The journal a run directory names.
pub fn journal_of(run_dir: &Path) -> PathBuf {
    run_dir.join("journal.jsonl")
}

/// Marks a run's directory as settled: its journal has no change left to undo (so later runs need
/// not read it again).
pub fn mark_settled(run_dir: &Path) {
    let _ = host::private::write(&run_dir.join("settled"), "");
}

/// Whether a dead run's directory has changes left to undo (read from its journal unless it is
/// marked settled; an unreadable journal counts as unsettled).
fn unsettled(dir: &Path) -> bool {
    !dir.join("settled").exists()
        && journal::outstanding_path(&journal_of(dir)).map_or(true, |o| !o.is_empty())
}

/// What cleaning one dead run did.
#[derive(Debug, Default)]
pub struct Cleaned {
    /// One line per thing done or left.
    pub lines: Vec<String>,
    /// Changes that could not be undone.
    pub failed: usize,
}

/// The run directories under `state`, oldest first (run ids sort by start time).
fn run_dirs(state: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs_dir(state))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Replays the ledgers of every dead run under `state`; live runs are left alone.
pub async fn clean(state: &Path) -> Cleaned {
    let mut out = Cleaned::default();
    let dirs = run_dirs(state);
    let env = CleanEnv::default();
    for dir in dirs {
        let run_id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let lock = match try_lock(&dir) {
            Ok(Some(l)) => l,
            Ok(None) => {
                out.lines.push(format!("run {run_id} is alive: left alone"));
                continue;
            }
            Err(e) => {
                out.lines.push(format!("run {run_id}: cannot lock: {e}"));
                out.failed += 1;
                continue;
            }
        };
        if dir.join("settled").exists() {
            continue;
        }
        let path = journal_of(&dir);
        let open = match journal::outstanding_path(&path) {
            Ok(o) => o,
            Err(e) => {
                out.lines.push(format!("run {run_id}: {e}"));
                out.failed += 1;
                continue;
            }
        };
        if open.is_empty() {
            mark_settled(&dir);
            continue;
        }
        let failed_before = out.failed;
        let journal = match Journal::append(&path) {
            Ok(j) => Some(j),
            Err(e) => {
                out.lines.push(format!(
                    "run {run_id}: cannot append to {}: {e} (undoing anyway)",
                    path.display()
                ));
                None
            }
        };
        // The run's own managed daemons: what lives in them goes when they are swept (last, as
        // they were made first), should their API not answer any more.
        let managed: Vec<String> = open
            .iter()
            .filter_map(|(_, c)| match c {
                Change::ManagedDaemon { dir, id } if !id.is_empty() => Some(format!(
                    "unix://{}",
                    engine::managed::socket_in(dir).display()
                )),
                _ => None,
            })
            .collect();
        for (id, change) in open.into_iter().rev() {
            let mut r = undo_change(&change, None, &run_id, &env).await;
            if r.is_err() && daemon_of(&change).is_some_and(|d| managed.iter().any(|m| m == d)) {
                r = Ok("goes with its managed daemon, which is swept".into());
            }
            let (ok, detail) = match &r {
                Ok(d) => (true, format!("{d} (by shakedown clean)")),
                Err(e) => (false, format!("{e} (by shakedown clean)")),
            };
            if let Some(j) = &journal {
                j.emit(Event::ChangeUndone {
                    change: id,
                    ok,
                    detail: detail.clone(),
                });
            }
            match r {
                Ok(d) => out.lines.push(format!("run {run_id}: {change}: {d}")),
                Err(e) => {
                    out.failed += 1;
                    out.lines
                        .push(format!("run {run_id}: FAILED to undo {change}: {e}"))
                }
            }
        }
        if let Some(j) = journal {
            j.close();
        }
        if out.failed == failed_before {
            mark_settled(&dir);
        }
        drop(lock);
    }
    out
}

/// How many finished runs' directories (and journals) are kept: every run removes the oldest
/// dead, settled runs beyond this number when it starts (`shakedown clean --runs` removes more).
pub const KEEP_RUNS: usize = 50;

/// The least free space (bytes) the state directory's filesystem must have for a run to start:
/// room for its journal, its evidence and the managed daemon's state.
pub const MIN_FREE_BYTES: u64 = 256 << 20;

/// Which finished runs' directories `clean --runs` removes. A live run, or a dead one with
/// changes not undone, is never removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// All but the newest N runs (run ids sort by start time).
    Keep(usize),
    /// The runs whose directory was last written longer ago than this.
    OlderThan(Duration),
}

impl std::str::FromStr for Retention {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?}: expected keep=N or older-than=DURATION (e.g. older-than=14d)");
        match s.split_once('=') {
            Some(("keep", n)) => n.parse().map(Retention::Keep).map_err(|_| bad()),
            Some(("older-than", d)) => {
                let d = match d.strip_suffix('d') {
                    Some(days) => days
                        .parse::<u64>()
                        .ok()
                        .and_then(|n| n.checked_mul(86_400))
                        .map(Duration::from_secs),
                    None => d
                        .parse::<model::units::HumanDuration>()
                        .ok()
                        .map(|h| h.get()),
                };
                d.map(Retention::OlderThan).ok_or_else(bad)
            }
            _ => Err(bad()),
        }
    }
}

/// Removes the directories of dead runs that have nothing outstanding and fall outside `keep`.
/// A live run, or a dead one with changes not undone, is kept. Returns the directories removed.
pub fn prune(state: &Path, keep: Retention) -> Vec<String> {
    let dirs = run_dirs(state);
    let candidates: Vec<PathBuf> = match keep {
        Retention::Keep(n) => {
            let excess = dirs.len().saturating_sub(n);
            dirs.into_iter().take(excess).collect()
        }
        Retention::OlderThan(age) => dirs
            .into_iter()
            .filter(|d| {
                std::fs::symlink_metadata(d)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|e| e > age)
            })
            .collect(),
    };
    let mut removed = Vec::new();
    for dir in candidates {
        let Ok(Some(lock)) = try_lock(&dir) else {
            continue;
        };
        // The directory's own files go; a journal kept elsewhere (`--journal FILE`) is only
        // linked from it, and the link is all that is removed.
        if !unsettled(&dir) && std::fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir.display().to_string());
        }
        drop(lock);
    }
    removed
}

/// Refuses a run when the filesystem of the state directory has less than [`MIN_FREE_BYTES`]
/// free: a run that cannot write its journal cannot undo what it did. The directory is created
/// root-only, or tightened to that when it was made looser.
pub fn check_free_space(state: &Path) -> Result<(), String> {
    host::private::ensure_dir(state).map_err(|e| format!("{}: {e}", state.display()))?;
    let st = nix::sys::statvfs::statvfs(state).map_err(|e| format!("{}: {e}", state.display()))?;
    let free = st.blocks_available().saturating_mul(st.fragment_size());
    if free < MIN_FREE_BYTES {
        return Err(format!(
            "{}: only {} MiB free, a run needs at least {} MiB there for its journal and \
             evidence (free some space, or point SHAKEDOWN_STATE_DIR elsewhere)",
            state.display(),
            free >> 20,
            MIN_FREE_BYTES >> 20
        ));
    }
    Ok(())
}

/// The daemon a change lives in, if any.
fn daemon_of(change: &Change) -> Option<&str> {
    match change {
        Change::Container { daemon, .. }
        | Change::Network { daemon, .. }
        | Change::Volume { daemon, .. }
        | Change::ContainerPaused { daemon, .. }
        | Change::ContainerStopped { daemon, .. } => Some(daemon),
        _ => None,
    }
}

/// Runs under `state` that are dead and still have changes outstanding.
pub fn dead_runs_with_changes(state: &Path) -> Vec<String> {
    std::fs::read_dir(runs_dir(state))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| matches!(try_lock(&e.path()), Ok(Some(_))))
        .filter(|e| unsettled(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Undoing for a dead run: daemons reached by their recorded address, namespaces found again by
/// identity, managed daemons swept with their directories.
#[derive(Default)]
struct CleanEnv {
    clients: Mutex<HashMap<String, Option<DockerClient>>>,
}

impl UndoEnv for CleanEnv {
    async fn docker(&self, host: &str) -> Option<DockerClient> {
        if let Some(c) = self.clients.lock().ok().and_then(|m| m.get(host).cloned()) {
            return c;
        }
        let client = match DockerClient::connect(host) {
            Ok(c) if c.ping(Duration::from_secs(5)).await.is_ok() => Some(c),
            _ => None,
        };
        if let Ok(mut m) = self.clients.lock() {
            m.insert(host.to_string(), client.clone());
        }
        client
    }

    async fn netns(&self, r: &NetnsRef) -> Result<Option<NetnsHandle>, String> {
        host::netns::find_bounded(r.id, r.container_id.clone()).await
    }

    async fn start_daemon(&self, d: &DaemonRef) -> Result<String, String> {
        match d {
            DaemonRef::Managed { dir } => Ok(format!(
                "{} goes with its managed daemon's directory",
                dir.display()
            )),
            DaemonRef::System(spec) => {
                engine::daemon::start_system(spec, engine::READY_DEADLINE)
                    .await
                    .map(|(pid, child)| {
                        // It runs on after us, as the user's daemon did.
                        if let Some(c) = child {
                            std::mem::forget(c);
                        }
                        format!("started dockerd again (pid {pid})")
                    })
                    .map_err(|e| format!("{e:#}"))
            }
        }
    }

    async fn remove_managed(&self, dir: &Path, id: &str) -> Result<String, String> {
        // Written before the daemon's directory existed: the sweep of its root finds it by its
        // dead owner.
        let root = if id.is_empty() {
            dir.to_path_buf()
        } else {
            dir.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let lines = engine::managed::sweep_stale(&root)
            .await
            .map_err(|e| format!("{e:#}"))?;
        if !id.is_empty() && dir.exists() {
            return Err(format!(
                "{} is still there ({})",
                dir.display(),
                lines.join("; ")
            ));
        }
        Ok(if lines.is_empty() {
            "nothing left".into()
        } else {
            lines.join("; ")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_dir(state: &Path, id: &str, outstanding: bool) {
        let dir = runs_dir(state).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut lines = vec![format!(
            "{{\"seq\":0,\"t\":0.0,\"event\":\"run_started\",\"format\":{},\"run_id\":\"{id}\",\"version\":\"x\",\"pid\":1,\"pid_start_time\":1,\"host\":\"h\",\"started_unix\":0.0,\"target\":\"managed\",\"argv\":[]}}",
            journal::FORMAT
        )];
        if outstanding {
            lines.push("{\"seq\":1,\"t\":0.1,\"event\":\"change_made\",\"change\":0,\"scope\":\"run\",\"handle\":{\"kind\":\"netns_pin\",\"path\":\"/nonexistent\"}}".into());
        }
        std::fs::write(dir.join("journal.jsonl"), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn pruning_keeps_the_newest_live_and_unfinished_runs() {
        let state = tempfile::tempdir().unwrap();
        run_dir(state.path(), "a1", false);
        run_dir(state.path(), "a2", true);
        run_dir(state.path(), "a3", false);
        run_dir(state.path(), "a4", false);
        run_dir(state.path(), "a5", false);
        // a3 is alive: its lock is held.
        let live = try_lock(&runs_dir(state.path()).join("a3"))
            .unwrap()
            .unwrap();
        let removed = prune(state.path(), Retention::Keep(2));
        let left: Vec<String> = std::fs::read_dir(runs_dir(state.path()))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(left, vec!["a2", "a3", "a4", "a5"], "removed {removed:?}");
        drop(live);
        assert_eq!(dead_runs_with_changes(state.path()), vec!["a2".to_string()]);
    }

    #[test]
    fn retention_is_read_as_written() {
        assert_eq!("keep=3".parse(), Ok(Retention::Keep(3)));
        assert_eq!(
            "older-than=14d".parse(),
            Ok(Retention::OlderThan(Duration::from_secs(14 * 86_400)))
        );
        assert_eq!(
            "older-than=90m".parse(),
            Ok(Retention::OlderThan(Duration::from_secs(5400)))
        );
        for bad in [
            "keep",
            "keep=-1",
            "older-than=soon",
            "newest=3",
            "older-than=99999999999999999d",
        ] {
            assert!(bad.parse::<Retention>().is_err(), "{bad}");
        }
    }
}
