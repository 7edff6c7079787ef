//! A harness-owned private Docker daemon (the "managed target").
//!
//! Every managed daemon lives in a directory of its own, `D = <state_root>/<id>`:
//!
//! | path            | what                                                                  |
//! |-----------------|-----------------------------------------------------------------------|
//! | `D/data`        | `--data-root`                                                         |
//! | `D/exec`        | `--exec-root` (dockerd's own containerd keeps its socket in here)     |
//! | `D/docker.sock` | the API socket                                                        |
//! | `D/docker.pid`  | dockerd's pidfile                                                     |
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
//! touches processes, mounts and links that can be traced back to `D`.
//!
//! Every wait in here has a deadline, and file-system or `/proc` work that could block on a
//! wedged process runs on a blocking thread behind a timeout, so a process stuck in D state can
//! make a call fail but never hang.
//!
//! Caveat: dockerd 20.10 (and later) uses the *system* containerd instead of starting its own
//! when `/run/containerd/containerd.sock` exists. The daemon then still works (its containerd
//! namespace keeps it apart), but the engine's own containerd binary is not used.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The first two octets of the subnets given to managed bridges. Docker's default address
/// pools are 172.17-31.x and 192.168.x, so 10.213.x stays out of the way of every daemon's
/// own networks.
const SUBNET_PREFIX: &str = "10.213";
/// How long to wait for the state-root lock; holders only keep it for a few `ip` calls.
const LOCK_DEADLINE: Duration = Duration::from_secs(30);
/// Upper bound for one `ip` invocation.
const IP_DEADLINE: Duration = Duration::from_secs(10);
/// Upper bound for one scan of `/proc` or `/proc/self/mountinfo`.
const SCAN_DEADLINE: Duration = Duration::from_secs(10);
/// How long a SIGKILLed process may take to disappear before we report it as stuck.
const KILL_DEADLINE: Duration = Duration::from_secs(10);
/// How long [`sweep_stale`] lets a stale dockerd shut down gracefully before SIGKILL.
const SWEEP_GRACE: Duration = Duration::from_secs(10);
/// Upper bound for one `/_ping` attempt, so a daemon that accepts but never answers cannot
/// eat the whole ready deadline in one go.
const PING_ATTEMPT: Duration = Duration::from_secs(1);
/// Lines of `dockerd.log` quoted in start errors.
const LOG_TAIL_LINES: usize = 20;

/// Where the engine's binaries come from: a directory (e.g. an unpacked docker .deb's usr/bin
/// or a static tarball) or PATH.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineBinaries {
    /// Directory searched before PATH. For an unpacked .deb the root of the unpacked tree also
    /// works: its `usr/sbin`, `usr/bin`, `sbin` and `bin` are searched too.
    pub dir: Option<PathBuf>,
}

/// Absolute paths of the engine binaries a managed daemon runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedEngine {
    /// The daemon itself.
    pub dockerd: PathBuf,
    /// containerd, which dockerd starts itself (from PATH, hence the `D/bin` symlinks).
    pub containerd: PathBuf,
    /// The OCI runtime.
    pub runc: PathBuf,
    /// The runc v2 shim; containerd finds it on PATH or beside its own binary.
    pub containerd_shim_runc_v2: Option<PathBuf>,
    /// Other `containerd-shim*` binaries found beside containerd or the v2 shim (older engines
    /// use `containerd-shim` or `containerd-shim-runc-v1`).
    pub other_shims: Vec<PathBuf>,
    /// tini, used for `docker run --init`.
    pub docker_init: Option<PathBuf>,
    /// The userland proxy for published ports (the only port path with `--iptables=false`).
    pub docker_proxy: Option<PathBuf>,
}

impl EngineBinaries {
    /// Resolve dockerd, containerd, containerd-shim-runc-v2, runc, docker-init, docker-proxy:
    /// from `dir` first, then PATH (also /usr/sbin, /sbin). dockerd, containerd, runc are
    /// required: the error names the missing binary and where it looked.
    pub fn resolve(&self) -> Result<ResolvedEngine> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(dir) = &self.dir {
            let dir = std::path::absolute(dir)
                .with_context(|| format!("engine directory {}", dir.display()))?;
            if !dir.is_dir() {
                bail!("engine directory {} does not exist", dir.display());
            }
            for sub in ["", "usr/sbin", "usr/bin", "usr/local/bin", "sbin", "bin"] {
                dirs.push(if sub.is_empty() {
                    dir.clone()
                } else {
                    dir.join(sub)
                });
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path).filter(|p| p.is_absolute()));
        }
        // A root shell started without a login PATH may lack the sbin directories, where
        // Debian puts dockerd and runc.
        for extra in ["/usr/local/sbin", "/usr/sbin", "/sbin"] {
            dirs.push(PathBuf::from(extra));
        }
        let mut seen = HashSet::new();
        dirs.retain(|d| seen.insert(d.clone()));

        let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p));
        let need = |name: &str| {
            find(name).ok_or_else(|| {
                let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                anyhow!(
                    "engine binary `{name}` not found; looked in: {}",
                    looked.join(", ")
                )
            })
        };
        let dockerd = need("dockerd")?;
        let containerd = need("containerd")?;
        let runc = need("runc")?;
        let containerd_shim_runc_v2 = find("containerd-shim-runc-v2");
        let docker_init = find("docker-init");
        let docker_proxy = find("docker-proxy");

        let mut other_shims = Vec::new();
        let mut shim_dirs: Vec<&Path> = containerd.parent().into_iter().collect();
        if let Some(v2) = containerd_shim_runc_v2.as_deref().and_then(Path::parent) {
            shim_dirs.push(v2);
        }
        for dir in shim_dirs {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("containerd-shim")
                    && name != "containerd-shim-runc-v2"
                    && is_executable(&entry.path())
                    && !other_shims
                        .iter()
                        .any(|p: &PathBuf| p.file_name() == Some(entry.file_name().as_os_str()))
                {
                    other_shims.push(entry.path());
                }
            }
        }
        other_shims.sort();

        let engine = ResolvedEngine {
            dockerd,
            containerd,
            runc,
            containerd_shim_runc_v2,
            other_shims,
            docker_init,
            docker_proxy,
        };
        tracing::debug!(?engine, "resolved engine binaries");
        Ok(engine)
    }
}

impl ResolvedEngine {
    /// The helper binaries dockerd and containerd look up on PATH, as (name, path).
    fn helpers(&self) -> Vec<(String, PathBuf)> {
        let mut out = vec![
            ("containerd".to_string(), self.containerd.clone()),
            ("runc".to_string(), self.runc.clone()),
        ];
        let optional = [
            ("containerd-shim-runc-v2", &self.containerd_shim_runc_v2),
            ("docker-init", &self.docker_init),
            ("docker-proxy", &self.docker_proxy),
        ];
        for (name, path) in optional {
            if let Some(path) = path {
                out.push((name.to_string(), path.clone()));
            }
        }
        for shim in &self.other_shims {
            if let Some(name) = shim.file_name() {
                out.push((name.to_string_lossy().into_owned(), shim.clone()));
            }
        }
        out
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Daemon options a scenario can require.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaemonOptions {
    /// `--live-restore`: containers keep running while dockerd is down.
    pub live_restore: bool,
    /// `--debug`: verbose daemon log.
    pub debug: bool,
    /// Further dockerd arguments, appended last so they can override ours where dockerd lets
    /// a later flag win.
    pub extra_args: Vec<String>,
}

impl DaemonOptions {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "live_restore": self.live_restore,
            "debug": self.debug,
            "extra_args": self.extra_args,
        })
    }
}

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
        fs::create_dir_all(state_root)
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

    /// The API socket, `D/docker.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// `unix://D/docker.sock`, for `DOCKER_HOST` or `docker -H`.
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

    /// dockerd's `--data-root`, `D/data`.
    pub fn data_root(&self) -> PathBuf {
        self.dir.join("data")
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
            kill_processes(&self.dir, &self.id, true, KILL_DEADLINE, &mut lines).await;
            for line in &lines {
                tracing::debug!(id = %self.id, "{line}");
            }
        }
        if let Err(e) = self.stop(deadline).await {
            errors.push(format!("{e:#}"));
        }
        let lines = cleanup_dir(&self.dir, &self.id, Some(&self.bridge)).await;
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

    /// dockerd reuses the containerd named in `exec/containerd/containerd.pid` if that pid is
    /// "alive", and then waits for its socket until it gives up ("timeout waiting for
    /// containerd to start"). After dockerd is killed, its containerd dies from its parent-death
    /// signal but can stay a zombie for a while (pid 1 here reaps late), which dockerd counts as
    /// alive. So: let a dying containerd finish dying, then drop the pidfile unless it names a
    /// live containerd of ours.
    async fn clear_stale_containerd_pidfile(&self) {
        let pidfile = self.exec_root().join("containerd/containerd.pid");
        let Some(pid) = fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            return;
        };
        let dir_prefix = format!("{}/", self.dir.display());
        let ours_and_alive = || {
            alive(pid)
                && fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| String::from_utf8_lossy(&b).contains(&dir_prefix))
                    .unwrap_or(false)
        };
        let t0 = Instant::now();
        while ours_and_alive() && t0.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if ours_and_alive() {
            tracing::debug!(id = %self.id, pid, "dockerd will reuse the running containerd");
        } else {
            tracing::debug!(id = %self.id, pid, "removing stale containerd pidfile");
            let _ = fs::remove_file(&pidfile);
        }
    }

    fn poll_exit(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                self.pid = None;
                Some(status)
            }
            _ => None,
        }
    }

    /// Directory layout that does not depend on the options of one start.
    fn prepare_dir(&self) -> Result<()> {
        for sub in ["data", "exec", "bin"] {
            fs::create_dir_all(self.dir.join(sub))?;
        }
        let bin = self.dir.join("bin");
        for (name, target) in self.engine.helpers() {
            let link = bin.join(&name);
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(&target, &link)
                .with_context(|| format!("linking {} -> {}", link.display(), target.display()))?;
        }
        // An explicit, empty config file keeps the host's /etc/docker/daemon.json (which may
        // set data-root, bridge, hosts...) from clashing with our flags.
        fs::write(self.dir.join("daemon.json"), "{}\n")?;
        Ok(())
    }

    fn command_args(&self, opts: &DaemonOptions) -> Vec<OsString> {
        let d = &self.dir;
        let mut args: Vec<OsString> = vec![
            "--config-file".into(),
            d.join("daemon.json").into(),
            "--data-root".into(),
            d.join("data").into(),
            "--exec-root".into(),
            d.join("exec").into(),
            "-H".into(),
            self.docker_host().into(),
            "--pidfile".into(),
            d.join("docker.pid").into(),
            "--containerd-namespace".into(),
            format!("shakedown-{}", self.id).into(),
            "--containerd-plugins-namespace".into(),
            format!("shakedown-{}-plugins", self.id).into(),
            "--bridge".into(),
            self.bridge.clone().into(),
            "--iptables=false".into(),
            "--ip-masq=false".into(),
        ];
        if opts.live_restore {
            args.push("--live-restore".into());
        }
        if opts.debug {
            args.push("--debug".into());
        }
        args.extend(opts.extra_args.iter().map(OsString::from));
        args
    }

    async fn spawn_and_wait(
        &mut self,
        opts: &DaemonOptions,
        ready_deadline: Duration,
    ) -> Result<()> {
        let t0 = Instant::now();
        let args = self.command_args(opts);
        let json = serde_json::json!({
            "options": opts.to_json(),
            "dockerd": self.engine.dockerd,
            "args": args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
            "started_unix": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        });
        fs::write(
            self.dir.join("options.json"),
            serde_json::to_vec_pretty(&json)?,
        )?;

        let log_path = self.log_path();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        // Each start leaves a marker, so the log tail of a failed restart is clearly that
        // restart's.
        let log_start = log.seek(SeekFrom::End(0)).unwrap_or(0);
        writeln!(
            log,
            "=== shakedown: starting {} {} ===",
            self.engine.dockerd.display(),
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        )?;
        let stderr = log.try_clone()?;

        let orig_path = std::env::var_os("PATH").unwrap_or_else(|| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });
        let mut path_dirs = vec![self.dir.join("bin")];
        path_dirs.extend(std::env::split_paths(&orig_path));
        let path = std::env::join_paths(path_dirs).context("building dockerd's PATH")?;

        let mut cmd = Command::new(&self.engine.dockerd);
        cmd.args(&args)
            .env("PATH", path)
            // A DOCKER_HOST of the harness's environment means nothing to this daemon.
            .env_remove("DOCKER_HOST")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .current_dir(&self.dir)
            // Own process group: a Ctrl-C in the harness's terminal must not reach the daemon;
            // the harness stops it itself after cleaning up its containers.
            .process_group(0)
            .kill_on_drop(false);
        let child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", self.engine.dockerd.display()))?;
        self.pid = child.id();
        self.child = Some(child);
        self.opts = opts.clone();

        let deadline = t0 + ready_deadline;
        let socket = self.socket_path();
        let mut last_err = String::from("no attempt made");
        loop {
            if let Some(status) = self.poll_exit() {
                bail!(
                    "managed dockerd {} exited during startup ({status}); last lines of {}:\n{}",
                    self.id,
                    log_path.display(),
                    log_tail(&log_path, log_start, LOG_TAIL_LINES)
                );
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let attempt = PING_ATTEMPT.min(deadline - now);
            match tokio::time::timeout(attempt, ping(&socket)).await {
                Ok(Ok(())) => {
                    tracing::debug!(
                        id = %self.id,
                        elapsed_ms = t0.elapsed().as_millis() as u64,
                        "dockerd answered /_ping"
                    );
                    return Ok(());
                }
                Ok(Err(e)) => last_err = format!("{e:#}"),
                Err(_) => last_err = format!("no answer within {attempt:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Leave no half-started daemon behind; the caller decides about the directory.
        let _ = self.stop(Duration::from_secs(5)).await;
        bail!(
            "managed dockerd {} did not answer /_ping on {} within {ready_deadline:?} (last: {last_err}); last lines of {}:\n{}",
            self.id,
            socket.display(),
            log_path.display(),
            log_tail(&log_path, log_start, LOG_TAIL_LINES)
        )
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

/// One GET /_ping over the unix socket; Ok only for a 200 answer.
async fn ping(socket: &Path) -> Result<()> {
    let mut stream = tokio::net::UnixStream::connect(socket)
        .await
        .with_context(|| format!("connecting to {}", socket.display()))?;
    stream
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .await?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await?;
    let head = String::from_utf8_lossy(&buf);
    let status_line = head.lines().next().unwrap_or("");
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        bail!("/_ping answered {status_line:?}")
    }
}

/// The last `n` lines of the log written since byte `from`.
fn log_tail(path: &Path, from: u64, n: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return "(no log)".into();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    // Debug logs can be large: the tail is always in the last 64 KiB.
    let start = from.max(len.saturating_sub(64 * 1024));
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_end(&mut buf).is_err() {
        return "(log unreadable)".into();
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Serializes daemon-dir creation and bridge allocation across harness processes (and across
/// tasks of one process: each call opens its own file description).
async fn lock_state_root(root: &Path, deadline: Duration) -> Result<Flock<File>> {
    lock_file(&root.join(".lock"), deadline).await
}

/// The host-wide lock for bridge allocation, in /run (a tmpfs shared by everything on the
/// host); None where no such directory exists, leaving only the state-root lock.
async fn lock_host_bridges() -> Result<Option<Flock<File>>> {
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
        let file = OpenOptions::new()
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
fn create_daemon_dir(state_root: &Path) -> Result<(String, PathBuf)> {
    for _ in 0..100 {
        let id = new_id();
        let dir = state_root.join(&id);
        match fs::create_dir(&dir) {
            Ok(()) => {
                let (pid, start) = own_identity()?;
                fs::write(dir.join("owner.pid"), format!("{pid} {start}\n"))?;
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

fn own_identity() -> Result<(u32, u64)> {
    let pid = std::process::id();
    let stat = read_stat(pid as i32).context("reading own /proc/self/stat")?;
    Ok((pid, stat.start))
}

/// Picks a free `10.213.N.0/24`, creates the bridge with `.1` and brings it up. Runs under the
/// state-root lock, so the address of a bridge just created is visible to the next allocator.
async fn allocate_bridge(dir: &Path, id: &str) -> Result<(String, String)> {
    let name = format!("sd-{id}");
    let used = used_ipv4_prefixes().await?;
    let n = (0u32..=255)
        .find(|n| {
            let net = (10u32 << 24) | (213 << 16) | (n << 8);
            !used.iter().any(|&(addr, len)| overlaps(net, 24, addr, len))
        })
        .ok_or_else(|| anyhow!("no free {SUBNET_PREFIX}.N.0/24 subnet left for a bridge"))?;
    // Recorded before the link exists, so a crash in between still leaves a trace for the
    // sweeper.
    fs::write(dir.join("bridge"), format!("{name}\n"))?;
    let cidr = format!("{SUBNET_PREFIX}.{n}.1/24");
    let result = async {
        ip(&["link", "add", &name, "type", "bridge"]).await?;
        ip(&["addr", "add", &cidr, "dev", &name]).await?;
        ip(&["link", "set", &name, "up"]).await
    }
    .await;
    if let Err(e) = result {
        let _ = ip(&["link", "del", &name]).await;
        return Err(e).context(format!("creating bridge {name}"));
    }
    tracing::debug!(bridge = %name, %cidr, "created bridge");
    Ok((name, format!("{SUBNET_PREFIX}.{n}.0/24")))
}

fn overlaps(a: u32, alen: u32, b: u32, blen: u32) -> bool {
    let len = alen.min(blen);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a & mask == b & mask
}

/// Every IPv4 prefix in use on the host: interface addresses and routes of all tables
/// (default routes aside, which overlap everything by definition).
async fn used_ipv4_prefixes() -> Result<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    let addrs: serde_json::Value = serde_json::from_str(&ip(&["-4", "-j", "addr", "show"]).await?)
        .context("parsing `ip -j addr`")?;
    for link in addrs.as_array().into_iter().flatten() {
        for a in link["addr_info"].as_array().into_iter().flatten() {
            if let (Some(local), Some(len)) = (a["local"].as_str(), a["prefixlen"].as_u64()) {
                if let Ok(addr) = local.parse::<std::net::Ipv4Addr>() {
                    out.push((u32::from(addr), len.min(32) as u32));
                }
            }
        }
    }
    let routes: serde_json::Value =
        serde_json::from_str(&ip(&["-4", "-j", "route", "show", "table", "all"]).await?)
            .context("parsing `ip -j route`")?;
    for r in routes.as_array().into_iter().flatten() {
        let Some(dst) = r["dst"].as_str() else {
            continue;
        };
        if dst == "default" {
            continue;
        }
        let (addr, len) = match dst.split_once('/') {
            Some((a, l)) => (a, l.parse::<u32>().unwrap_or(32)),
            None => (dst, 32),
        };
        if let Ok(addr) = addr.parse::<std::net::Ipv4Addr>() {
            out.push((u32::from(addr), len.min(32)));
        }
    }
    Ok(out)
}

/// Runs `ip ARGS` with a deadline; the error carries ip's stderr.
async fn ip(args: &[&str]) -> Result<String> {
    let bin = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("ip");
    let out = tokio::time::timeout(
        IP_DEADLINE,
        Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow!("`ip {}` took longer than {IP_DEADLINE:?}", args.join(" ")))?
    .with_context(|| format!("running `ip {}`", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn link_exists(name: &str) -> bool {
    ip(&["link", "show", "dev", name]).await.is_ok()
}

/// Runs blocking work (reads of /proc, unmounts, recursive deletes) on a blocking thread with
/// a deadline: a wedged process can make such a call block in the kernel, and then we would
/// rather leak a thread than hang.
async fn blocking<T: Send + 'static>(
    what: &str,
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    match tokio::time::timeout(deadline, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(anyhow!("{what}: {e}")),
        Err(_) => Err(anyhow!("{what}: no result within {deadline:?}")),
    }
}

#[derive(Debug, Clone)]
struct ProcStat {
    state: char,
    ppid: i32,
    start: u64,
}

fn read_stat(pid: i32) -> Option<ProcStat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

/// Alive in the sense that matters here: exists and is not a zombie.
fn alive(pid: i32) -> bool {
    matches!(read_stat(pid), Some(s) if s.state != 'Z' && s.state != 'X')
}

#[derive(Debug)]
struct ProcInfo {
    pid: i32,
    stat: ProcStat,
    cmdline: Vec<String>,
    cgroup: String,
}

fn scan_procs() -> Vec<ProcInfo> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Some(stat) = read_stat(pid) else {
            continue;
        };
        let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        out.push(ProcInfo {
            pid,
            stat,
            cmdline,
            cgroup,
        });
    }
    out
}

/// Container ids of a daemon, from the names under `D/data/containers`; their processes are
/// recognized by these ids in their cgroup paths (both the cgroupfs and systemd drivers put
/// the full id there).
fn container_ids(dir: &Path) -> Vec<String> {
    fs::read_dir(dir.join("data/containers"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect()
}

/// The processes that belong to the daemon in `dir`: anything whose arguments name a path
/// under `dir` (dockerd, its containerd, the shims' `-address`), or whose argument is exactly
/// the daemon's containerd namespace (shims), or whose cgroup names one of its containers;
/// plus all descendants of those (docker-proxy, container processes under a shim). Never the
/// calling process or its ancestors, never pid 1.
fn processes_of(dir: &Path, id: &str, procs: &[ProcInfo], containers_only: bool) -> Vec<i32> {
    let dir_str = dir.to_string_lossy().into_owned();
    let dir_prefix = format!("{dir_str}/");
    let ns = format!("shakedown-{id}");
    let ns_plugins = format!("shakedown-{id}-plugins");
    let cids = container_ids(dir);

    let mut protected: HashSet<i32> = HashSet::from([0, 1]);
    let by_pid: HashMap<i32, &ProcInfo> = procs.iter().map(|p| (p.pid, p)).collect();
    let mut cur = std::process::id() as i32;
    while protected.insert(cur) {
        match by_pid.get(&cur) {
            Some(p) => cur = p.stat.ppid,
            None => break,
        }
    }

    let names_us = |p: &ProcInfo| {
        p.cmdline.iter().any(|a| {
            a.contains(&dir_prefix)
                || a == &dir_str
                || a.ends_with(&format!("={dir_str}"))
                || a == &ns
                || a == &ns_plugins
        })
    };
    let in_container = |p: &ProcInfo| cids.iter().any(|c| p.cgroup.contains(c.as_str()));
    let mut ours: BTreeSet<i32> = if containers_only {
        // Container processes are the shims' children (and whatever sits in a container's
        // cgroup), not the shims themselves.
        let shims: HashSet<i32> = procs
            .iter()
            .filter(|p| {
                names_us(p)
                    && p.cmdline.first().is_some_and(|a0| {
                        Path::new(a0)
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("containerd-shim"))
                    })
            })
            .map(|p| p.pid)
            .collect();
        procs
            .iter()
            .filter(|p| in_container(p) || shims.contains(&p.stat.ppid))
            .map(|p| p.pid)
            .collect()
    } else {
        procs
            .iter()
            .filter(|p| names_us(p) || in_container(p))
            .map(|p| p.pid)
            .collect()
    };
    // Descendants, to a fixed point (the process list is not ordered by ancestry).
    loop {
        let before = ours.len();
        for p in procs {
            if ours.contains(&p.stat.ppid) {
                ours.insert(p.pid);
            }
        }
        if ours.len() == before {
            break;
        }
    }
    ours.into_iter()
        .filter(|pid| !protected.contains(pid))
        .filter(|pid| by_pid.get(pid).is_some_and(|p| p.stat.state != 'Z'))
        .collect()
}

/// Frozen (paused) tasks do not die from SIGKILL until thawed: thaw the cgroups of `pids`.
/// Best effort, cgroup v1 freezer and v2 alike.
fn thaw(pids: &[i32]) {
    let mut done = HashSet::new();
    for pid in pids {
        let Ok(cg) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        for line in cg.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, ctrl, path) = match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), Some(c)) => (a, b, c),
                _ => continue,
            };
            if path == "/" || !done.insert(format!("{ctrl}:{path}")) {
                continue;
            }
            if ctrl.split(',').any(|c| c == "freezer") {
                let f = format!("/sys/fs/cgroup/freezer{path}/freezer.state");
                let _ = fs::write(f, "THAWED");
            } else if ctrl.is_empty() {
                for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                    let f = format!("{base}{path}/cgroup.freeze");
                    if Path::new(&f).exists() {
                        let _ = fs::write(f, "0");
                    }
                }
            }
        }
    }
}

/// SIGKILLs every process of the daemon in `dir` (or only its containers' processes) until
/// none is left or the deadline passes.
async fn kill_processes(
    dir: &Path,
    id: &str,
    containers_only: bool,
    deadline: Duration,
    report: &mut Vec<String>,
) {
    let t0 = Instant::now();
    let mut killed: BTreeSet<i32> = BTreeSet::new();
    loop {
        let (d, i) = (dir.to_path_buf(), id.to_string());
        let scan = blocking("scanning /proc", SCAN_DEADLINE, move || {
            let procs = scan_procs();
            let pids = processes_of(&d, &i, &procs, containers_only);
            let described: Vec<(i32, String)> = pids
                .iter()
                .map(|pid| {
                    let p = procs.iter().find(|p| p.pid == *pid);
                    let cmd = p
                        .and_then(|p| p.cmdline.first().cloned())
                        .unwrap_or_default();
                    (*pid, cmd)
                })
                .collect();
            thaw(&pids);
            described
        })
        .await;
        let targets = match scan {
            Ok(t) => t,
            Err(e) => {
                report.push(format!("could not scan processes: {e:#}"));
                return;
            }
        };
        if targets.is_empty() {
            return;
        }
        if t0.elapsed() >= deadline {
            let left: Vec<String> = targets
                .iter()
                .map(|(pid, cmd)| format!("{pid} ({cmd})"))
                .collect();
            report.push(format!(
                "processes still alive after SIGKILL: {}",
                left.join(", ")
            ));
            return;
        }
        for (pid, cmd) in &targets {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            if killed.insert(*pid) {
                report.push(format!("killed pid {pid} ({cmd})"));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Mount points at or under `dir`, from /proc/self/mountinfo, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|mp| PathBuf::from(unescape_mountinfo(mp)))
        .filter(|mp| mp.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lazily unmounts everything under `dir`, deepest first, until nothing is left (a detach can
/// uncover a mount underneath, e.g. the data-root bound on itself twice).
async fn unmount_all(dir: &Path, report: &mut Vec<String>) {
    let d = dir.to_path_buf();
    let res = blocking("unmounting", SCAN_DEADLINE, move || {
        let mut lines = Vec::new();
        for _ in 0..20 {
            let mounts = mounts_under(&d);
            if mounts.is_empty() {
                return lines;
            }
            for mp in mounts {
                match umount2(&mp, MntFlags::MNT_DETACH) {
                    Ok(()) => lines.push(format!("unmounted {}", mp.display())),
                    Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
                    Err(e) => lines.push(format!("could not unmount {}: {e}", mp.display())),
                }
            }
        }
        let left = mounts_under(&d);
        if !left.is_empty() {
            lines.push(format!("mounts left under {}: {left:?}", d.display()));
        }
        lines
    })
    .await;
    match res {
        Ok(lines) => report.extend(lines),
        Err(e) => report.push(format!("{e:#}")),
    }
}

/// Everything after the dockerd is stopped: leftover processes, mounts, bridge, directory.
/// Returns one line per thing done or failed.
async fn cleanup_dir(dir: &Path, id: &str, bridge: Option<&str>) -> Vec<String> {
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
fn read_owner(dir: &Path) -> Option<(i32, u64)> {
    let s = fs::read_to_string(dir.join("owner.pid")).ok()?;
    let mut it = s.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn owner_alive(dir: &Path) -> bool {
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
async fn stop_stale_dockerd(dir: &Path, report: &mut Vec<String>) {
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
