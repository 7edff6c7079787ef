//! Who owns a daemon directory, and how directories come and go without races: several harness
//! processes (and sweepers) may share a state root, so creation and claiming happen under a lock,
//! and every directory names its owner from the moment it exists. Owners and dockerds are named by
//! pid *and* start time, because a bare pid may belong to someone else by the time it is read.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Owners and dockerds are named by [`Identity`] (pid and start time).
pub(super) use host::proc::Identity;

/// How long to wait for the state-root lock; holders only keep it for a few `ip` calls.
pub(super) const LOCK_DEADLINE: Duration = Duration::from_secs(30);
/// `D/owner.pid`: the identity of the harness that owns `D`.
pub(super) const OWNER_FILE: &str = "owner.pid";
/// `D/dockerd.identity`: the identity of the dockerd the owner spawned last.
pub(super) const DOCKERD_FILE: &str = "dockerd.identity";

/// Whether the harness recorded in `D/owner.pid` still runs.
pub(super) fn owner_alive(dir: &Path) -> bool {
    Identity::read(&dir.join(OWNER_FILE)).is_some_and(|o| o.is_live())
}

/// Serializes daemon-dir creation and bridge allocation across harness processes (and across
/// tasks of one process: each call opens its own file description).
pub(super) async fn lock_state_root(root: &Path, deadline: Duration) -> Result<Flock<File>> {
    lock_file(&root.join(".lock"), deadline).await
}

/// The host-wide lock for bridge allocation, in /run (a tmpfs shared by everything on the
/// host); None where no such directory exists, leaving only the state-root lock.
pub(super) async fn lock_host_bridges() -> Result<Option<Flock<File>>> {
    for dir in ["/run/lock", "/run", "/var/lock"] {
        if Path::new(dir).is_dir() {
            let path = Path::new(dir).join("shakedown-bridges.lock");
            return lock_file(&path, LOCK_DEADLINE).await.map(Some);
        }
    }
    Ok(None)
}

async fn lock_file(path: &Path, deadline: Duration) -> Result<Flock<File>> {
    let t0 = Instant::now();
    loop {
        let file = host::private::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        // Non-blocking attempts in a loop, because a blocking flock has no timeout.
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((_, Errno::EWOULDBLOCK)) => {}
            Err((_, e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
        if t0.elapsed() >= deadline {
            bail!("could not lock {} within {deadline:?}", path.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    // 8 hex digits: "sd-" + id stays within IFNAMSIZ (15).
    format!("{:08x}", h.finish() as u32)
}

/// Creates `D` and records its owner; must run under the state-root lock so that a sweeper
/// never sees a directory without `owner.pid` that is still being set up.
pub(super) fn create_daemon_dir(state_root: &Path) -> Result<(String, PathBuf)> {
    let me = Identity::current()?;
    for _ in 0..100 {
        let id = new_id();
        let dir = state_root.join(&id);
        match host::private::create_dir(&dir) {
            Ok(()) => {
                me.write(&dir.join(OWNER_FILE))?;
                return Ok((id, dir));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("creating {}", dir.display()));
            }
        }
    }
    bail!(
        "could not find a free daemon id under {}",
        state_root.display()
    )
}
