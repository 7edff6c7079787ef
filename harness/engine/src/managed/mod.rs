//! A harness-owned private Docker daemon (the "managed target").
//!
//! Every managed daemon lives in a directory of its own, `D = <state_root>/<id>`:
//!
//! | path            | what                                                                  |
//! |-----------------|-----------------------------------------------------------------------|
//! | `D/data`        | `--data-root`                                                         |
//! | `D/exec`        | `--exec-root` (dockerd's own containerd keeps its socket in here)     |
//! | `D/sock/docker.sock` | the API socket, alone in its directory (a container may bind-mount that directory) |
//! | `D/docker.sock` | a symlink to `sock/docker.sock`                                       |
//! | `D/docker.pid`  | dockerd's pidfile                                                     |
//! | `D/dockerd.identity` | `<pid> <start time>` of the dockerd spawned last, written before it is ready |
//! | `D/dockerd.log` | dockerd's stdout and stderr, appended across restarts                 |
//! | `D/bin`         | symlinks to the chosen engine's helper binaries, first on dockerd's PATH |
//! | `D/daemon.json` | an empty config file, so the host's `/etc/docker/daemon.json` is not read |
//! | `D/owner.pid`   | `<harness pid> <its start time>`, so [`sweep_stale`] can tell a dead owner |
//! | `D/bridge`      | the name of the bridge this daemon was given                          |
//! | `D/options.json`| the options of the latest start                                       |
//!
//! The daemon must never disturb another Docker daemon on the host, so it gets a bridge of its
//! own (`sd-<id>`, on a free `10.213.N.0/24`), iptables and masquerading are off, and its
//! containerd namespaces are `shakedown-<id>` and `shakedown-<id>-plugins`. Cleanup only ever
//! touches processes, mounts and links that can be traced back to `D` by an exact identity (a
//! recorded pid with its start time, a namespace, a container id, a path-component prefix, the
//! bridge name `sd-<id>`), never because something merely mentions `D`; see `procs`.
//!
//! Every wait in here has a deadline, and file-system or `/proc` work that could block on a
//! wedged process runs on a thread of its own behind a timeout, so a process stuck in D state can
//! make a call fail but never hang the harness, nor keep its runtime from shutting down.
//!
//! Caveat: dockerd 20.10 (and later) uses the *system* containerd instead of starting its own
//! when `/run/containerd/containerd.sock` exists. The daemon then still works (its containerd
//! namespace keeps it apart), but the engine's own containerd binary is not used.

mod bridge;
mod engine;
mod mounts;
mod options;
mod procs;
mod spawn;
mod state;
mod sweep;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::Child;

pub use engine::{EngineBinaries, ResolvedEngine};
pub use options::{user_config, DaemonOptions, UserConfig, OWNED_KEYS};
pub use sweep::sweep_stale;

use bridge::allocate_bridge;
use procs::{kill_processes, Scope};
use state::{create_daemon_dir, lock_host_bridges, lock_state_root, LOCK_DEADLINE};
use sweep::cleanup_dir;

/// Upper bound for one scan of `/proc` or `/proc/self/mountinfo`.
const SCAN_DEADLINE: Duration = Duration::from_secs(10);
/// How long a SIGKILLed process may take to disappear before we report it as stuck.
const KILL_DEADLINE: Duration = Duration::from_secs(10);

/// A private dockerd owned by the harness, with its own roots, socket and bridge.
///
/// Call [`ManagedDaemon::shutdown`] when done. Dropping it instead only sends SIGTERM to a
/// running dockerd; the directory, mounts and bridge are then left for [`sweep_stale`].
#[derive(Debug)]
pub struct ManagedDaemon {
    id: String,
    dir: PathBuf,
    bridge: String,
    subnet: String,
    engine: ResolvedEngine,
    opts: DaemonOptions,
    child: Option<Child>,
    pid: Option<u32>,
    /// dockerd's start time (clock ticks after boot), with `pid` its exact identity.
    start_time: Option<u64>,
}

impl ManagedDaemon {
    /// Create a fresh directory under state_root (e.g. /var/lib/shakedown/managed/<id>),
    /// allocate a bridge, start dockerd, wait for /_ping within ready_deadline.
    pub async fn start(
        state_root: &Path,
        engine: &ResolvedEngine,
        opts: &DaemonOptions,
        ready_deadline: Duration,
    ) -> Result<Self> {
        let t0 = Instant::now();
        host::private::create_dir_all(state_root)
            .with_context(|| format!("creating state root {}", state_root.display()))?;
        // Mount points in /proc/self/mountinfo are canonical paths; so must ours be, or the
        // unmount pass would miss them (e.g. when state_root sits under a symlink).
        let state_root = fs::canonicalize(state_root)
            .with_context(|| format!("resolving state root {}", state_root.display()))?;

        let (id, dir, bridge, subnet) = {
            let _lock = lock_state_root(&state_root, LOCK_DEADLINE).await?;
            // Harnesses (or tests) with different state roots still share the host's address
            // space: subnet choice also needs a host-wide lock.
            let _host_lock = lock_host_bridges().await?;
            let (id, dir) = create_daemon_dir(&state_root)?;
            match allocate_bridge(&dir, &id).await {
                Ok((bridge, subnet)) => (id, dir, bridge, subnet),
                Err(e) => {
                    let _ = fs::remove_dir_all(&dir);
                    return Err(e);
                }
            }
        };

        if Path::new("/run/containerd/containerd.sock").exists() {
            tracing::warn!(
                "/run/containerd/containerd.sock exists: dockerd will use the system containerd \
                 (in its own namespace) instead of the engine's containerd"
            );
        }
        let mut daemon = ManagedDaemon {
            id,
            dir,
            bridge,
            subnet,
            engine: engine.clone(),
            opts: opts.clone(),
            child: None,
            pid: None,
            start_time: None,
        };
        let prepared = daemon.prepare_dir();
        let started = match prepared {
            Ok(()) => daemon.spawn_and_wait(opts, ready_deadline).await,
            Err(e) => Err(e),
        };
        if let Err(e) = started {
            // Nobody else can clean up after a daemon that never got handed out.
            if let Err(ce) = daemon.teardown(Duration::from_secs(5)).await {
                tracing::warn!(error = %format!("{ce:#}"), "cleanup after failed start");
            }
            return Err(e);
        }
        tracing::info!(
            id = %daemon.id,
            dir = %daemon.dir.display(),
            bridge = %daemon.bridge,
            subnet = %daemon.subnet,
            pid = daemon.pid,
            elapsed_ms = t0.elapsed().as_millis() as u64,
            "managed dockerd ready"
        );
        Ok(daemon)
    }

    /// The API socket, `D/sock/docker.sock`.
    pub fn socket_path(&self) -> PathBuf {
        socket_in(&self.dir)
    }

    /// `unix://D/sock/docker.sock`, for `DOCKER_HOST` or `docker -H`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket_path().display())
    }

    /// The daemon's own directory `D`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The short id; also in the bridge name and the containerd namespace.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// dockerd's `--data-root`: `D/data`, or the directory on a filesystem the harness made that
    /// the latest start was given.
    pub fn data_root(&self) -> PathBuf {
        self.opts
            .data_root
            .clone()
            .unwrap_or_else(|| self.dir.join("data"))
    }

    /// dockerd's `--exec-root`, `D/exec`.
    pub fn exec_root(&self) -> PathBuf {
        self.dir.join("exec")
    }

    /// dockerd's stdout and stderr, `D/dockerd.log`, appended across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("dockerd.log")
    }

    /// dockerd's pid while it runs (as far as we know: a dockerd killed from outside keeps
    /// its pid here until [`ManagedDaemon::is_running`] or [`ManagedDaemon::stop`] sees the exit).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The start time of the running dockerd (field 22 of `/proc/PID/stat`, clock ticks after
    /// boot): with [`ManagedDaemon::pid`] it names the process exactly, also after pid reuse.
    pub fn pid_start_time(&self) -> Option<u64> {
        self.start_time
    }

    /// The options of the latest start.
    pub fn options(&self) -> &DaemonOptions {
        &self.opts
    }

    /// The name of the bridge given to this daemon (`--bridge`).
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The bridge's subnet, e.g. `10.213.3.0/24`; the bridge itself has `.1`.
    pub fn subnet(&self) -> &str {
        &self.subnet
    }

    /// The containerd namespace of this daemon's containers.
    pub fn containerd_namespace(&self) -> String {
        format!("shakedown-{}", self.id)
    }

    /// Whether dockerd is still running; reaps it (and forgets its pid) if it has exited,
    /// e.g. after a fault killed it.
    pub fn is_running(&mut self) -> bool {
        self.poll_exit().is_none() && self.child.is_some()
    }

    /// Graceful stop: SIGTERM to dockerd only (never its process group), wait for exit within
    /// deadline, then SIGKILL. Keeps dirs and bridge so the daemon can be started again on the
    /// same roots (needed for live-restore restarts).
    pub async fn stop(&mut self, deadline: Duration) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = self.pid.take();
        let start_time = self.start_time.take();
        let t0 = Instant::now();
        if let Ok(Some(status)) = child.try_wait() {
            tracing::info!(id = %self.id, %status, "dockerd had already exited");
            return Ok(());
        }
        if let Some(pid) = pid {
            let pid = Pid::from_raw(pid as i32);
            let _ = kill(pid, Signal::SIGTERM);
            // A daemon frozen by a fault (SIGSTOP) would otherwise sit on the SIGTERM.
            let _ = kill(pid, Signal::SIGCONT);
        }
        match tokio::time::timeout(deadline, child.wait()).await {
            Ok(status) => {
                let status = status.context("waiting for dockerd")?;
                tracing::info!(
                    id = %self.id,
                    %status,
                    elapsed_ms = t0.elapsed().as_millis() as u64,
                    "dockerd stopped"
                );
                Ok(())
            }
            Err(_) => {
                tracing::warn!(id = %self.id, ?deadline, "dockerd ignored SIGTERM, sending SIGKILL");
                let _ = child.start_kill();
                match tokio::time::timeout(KILL_DEADLINE, child.wait()).await {
                    Ok(_) => Ok(()),
                    Err(_) => {
                        // Keep the handle so a later call can still reap it.
                        self.child = Some(child);
                        self.pid = pid;
                        self.start_time = start_time;
                        bail!(
                            "dockerd (pid {pid:?}) did not exit within {:?} of SIGKILL (stuck in D state?)",
                            KILL_DEADLINE
                        )
                    }
                }
            }
        }
    }

    /// Start dockerd again on the same roots and bridge, possibly with other options; wait
    /// for /_ping.
    pub async fn start_again(
        &mut self,
        opts: &DaemonOptions,
        ready_deadline: Duration,
    ) -> Result<()> {
        if self.is_running() {
            bail!(
                "managed dockerd {} is still running (pid {:?}); stop it first",
                self.id,
                self.pid
            );
        }
        // A pidfile left by a killed dockerd names a pid that may since belong to someone
        // else, and dockerd refuses to start while that pid is alive.
        let _ = fs::remove_file(self.dir.join("docker.pid"));
        self.clear_stale_containerd_pidfile().await;
        let t0 = Instant::now();
        self.spawn_and_wait(opts, ready_deadline).await?;
        tracing::info!(
            id = %self.id,
            pid = self.pid,
            elapsed_ms = t0.elapsed().as_millis() as u64,
            "managed dockerd ready again"
        );
        Ok(())
    }

    /// Stop (if running), make sure containerd and shims started by this daemon are gone,
    /// unmount everything under the dir (deepest first; dockerd 20.10 leaves data-root
    /// bind-mounted on itself, and overlay/shm/netns mounts can remain), delete the bridge,
    /// remove the dir.
    pub async fn shutdown(mut self, deadline: Duration) -> Result<()> {
        let t0 = Instant::now();
        let result = self.teardown(deadline).await;
        tracing::info!(
            id = %self.id,
            ok = result.is_ok(),
            elapsed_ms = t0.elapsed().as_millis() as u64,
            "managed dockerd shut down"
        );
        result
    }

    async fn teardown(&mut self, deadline: Duration) -> Result<()> {
        let mut errors = Vec::new();
        // The containers are about to be deleted anyway: killing them first spares dockerd's
        // graceful stop (which waits out each container's stop timeout, 10 s for a shell as
        // PID 1) and lets it exit promptly.
        if self.is_running() {
            let mut lines = Vec::new();
            kill_processes(
                &self.dir,
                &self.id,
                Scope::Containers,
                KILL_DEADLINE,
                &mut lines,
            )
            .await;
            for line in &lines {
                tracing::debug!(id = %self.id, "{line}");
            }
        }
        if let Err(e) = self.stop(deadline).await {
            errors.push(format!("{e:#}"));
        }
        let lines = cleanup_dir(&self.dir, &self.id).await;
        for line in &lines {
            tracing::debug!(id = %self.id, "{line}");
        }
        if self.dir.exists() {
            errors.push(format!("{} could not be removed", self.dir.display()));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            bail!(
                "shutting down managed dockerd {}: {}; cleanup: {}",
                self.id,
                errors.join("; "),
                lines.join("; ")
            )
        }
    }

    fn poll_exit(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                self.pid = None;
                self.start_time = None;
                Some(status)
            }
            _ => None,
        }
    }
}

impl Drop for ManagedDaemon {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            if self.poll_exit().is_none() && self.child.is_some() {
                tracing::warn!(
                    id = %self.id,
                    pid,
                    dir = %self.dir.display(),
                    "managed dockerd dropped without shutdown; sending SIGTERM, the rest is left to sweep_stale"
                );
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGCONT);
            }
        }
    }
}

/// The API socket of the managed daemon in `dir`.
pub fn socket_in(dir: &Path) -> PathBuf {
    dir.join("sock").join("docker.sock")
}

/// Whether `path` is `dir` or lies inside it, by path components: `/x/D2` is not under `/x/D`,
/// and a path with `..` in it is under nothing.
fn at_or_under(path: &Path, dir: &Path) -> bool {
    // An empty or root `dir` (a record not read yet) would contain everything: it contains nothing.
    dir.is_absolute()
        && dir.components().count() > 1
        && path.is_absolute()
        && !path
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        && path.starts_with(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_or_under_compares_path_components() {
        let d = Path::new("/x/D");
        assert!(at_or_under(Path::new("/x/D"), d));
        assert!(at_or_under(Path::new("/x/D/"), d));
        assert!(at_or_under(Path::new("/x/D/data/overlay2/abc/merged"), d));
        assert!(!at_or_under(Path::new("/x/D2"), d));
        assert!(!at_or_under(Path::new("/x/D2/data"), d));
        assert!(!at_or_under(Path::new("/x/Dx"), d));
        assert!(!at_or_under(Path::new("/x"), d));
        assert!(!at_or_under(Path::new("/x/D/../E"), d));
        assert!(!at_or_under(Path::new("x/D/data"), d));
        assert!(!at_or_under(Path::new("/x/D"), Path::new("")));
        assert!(!at_or_under(Path::new("/x/D"), Path::new("/")));
        assert!(!at_or_under(Path::new("/x/D"), Path::new("x")));
    }
}
