//! Starting dockerd: the directory layout, its arguments, the spawn with its identity recorded
//! first, and the wait for `/_ping` (quoting the log's tail when it fails).

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use super::procs::is_our_containerd;
use super::state::{Identity, DOCKERD_FILE};
use super::{bridge, DaemonOptions, ManagedDaemon, SCAN_DEADLINE};
use host::blocking;

/// Upper bound for one `/_ping` attempt, so a daemon that accepts but never answers cannot
/// eat the whole ready deadline in one go.
const PING_ATTEMPT: Duration = Duration::from_secs(1);
/// Lines of `dockerd.log` quoted in start errors.
const LOG_TAIL_LINES: usize = 20;

impl ManagedDaemon {
    /// dockerd reuses the containerd named in `exec/containerd/containerd.pid` if that pid is
    /// "alive", and then waits for its socket until it gives up ("timeout waiting for
    /// containerd to start"). After dockerd is killed, its containerd dies from its parent-death
    /// signal but can stay a zombie for a while (pid 1 here reaps late), which dockerd counts as
    /// alive. So: let a dying containerd finish dying, then drop the pidfile unless it names a
    /// live containerd of ours.
    pub(super) async fn clear_stale_containerd_pidfile(&self) {
        let pidfile = self.exec_root().join("containerd/containerd.pid");
        let Some(pid) = fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            return;
        };
        let ours_and_alive = || {
            let (dir, id) = (self.dir.clone(), self.id.clone());
            async move {
                blocking("looking at containerd", SCAN_DEADLINE, move || {
                    is_our_containerd(&dir, &id, pid)
                })
                .await
                .unwrap_or(false)
            }
        };
        let t0 = Instant::now();
        while ours_and_alive().await && t0.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if ours_and_alive().await {
            tracing::debug!(id = %self.id, pid, "dockerd will reuse the running containerd");
        } else {
            tracing::debug!(id = %self.id, pid, "removing stale containerd pidfile");
            let _ = fs::remove_file(&pidfile);
        }
    }

    /// Writes `D/dockerd.identity` for the dockerd just spawned. A dockerd that already exited
    /// has nothing to record; the ready loop reports its exit.
    fn record_identity(&mut self) -> Result<()> {
        let Some(ident) = self.pid.and_then(Identity::of) else {
            return Ok(());
        };
        let path = self.dir.join(DOCKERD_FILE);
        ident
            .write(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        self.start_time = Some(ident.start);
        Ok(())
    }

    /// Directory layout that does not depend on the options of one start.
    pub(super) fn prepare_dir(&self) -> Result<()> {
        for sub in ["data", "exec", "bin", "sock"] {
            host::private::create_dir_all(&self.dir.join(sub))?;
        }
        let link = self.dir.join("docker.sock");
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink("sock/docker.sock", &link)
                .with_context(|| format!("linking {}", link.display()))?;
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
        host::private::write(&self.dir.join("daemon.json"), "{}\n")?;
        Ok(())
    }

    fn command_args(&self, opts: &DaemonOptions) -> Vec<OsString> {
        let d = &self.dir;
        let mut args: Vec<OsString> = vec![
            "--config-file".into(),
            d.join("daemon.json").into(),
            "--data-root".into(),
            opts.data_root
                .clone()
                .unwrap_or_else(|| d.join("data"))
                .into(),
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
        if let Some(pool) = bridge::address_pool(&self.subnet) {
            args.push("--default-address-pool".into());
            args.push(pool.into());
        }
        if opts.live_restore {
            args.push("--live-restore".into());
        }
        if opts.debug {
            args.push("--debug".into());
        }
        args.extend(opts.extra_args.iter().map(OsString::from));
        args
    }

    pub(super) async fn spawn_and_wait(
        &mut self,
        opts: &DaemonOptions,
        ready_deadline: Duration,
    ) -> Result<()> {
        let t0 = Instant::now();
        let conflicts = opts.conflicts();
        if !conflicts.is_empty() {
            bail!(
                "daemon option(s) {} are also given as dockerd flags ({}); dockerd refuses both",
                conflicts.join(", "),
                opts.extra_args.join(" ")
            );
        }
        host::private::write(
            &self.dir.join("daemon.json"),
            serde_json::to_vec_pretty(&opts.config)?,
        )?;
        let args = self.command_args(opts);
        let json = serde_json::json!({
            "options": opts.to_json(),
            "dockerd": self.engine.dockerd,
            "args": args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
            "started_unix": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        });
        host::private::write(
            &self.dir.join("options.json"),
            serde_json::to_vec_pretty(&json)?,
        )?;

        let log_path = self.log_path();
        let mut log = host::private::options()
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
        self.start_time = None;
        self.child = Some(child);
        self.opts = opts.clone();
        // Recorded before anything can go wrong, so a sweep after a crash from here on finds
        // exactly this process (and nothing that merely mentions D).
        if let Err(e) = self.record_identity() {
            let _ = self.stop(Duration::from_secs(5)).await;
            return Err(e);
        }

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
            match docker::ping_socket(&socket, attempt).await {
                Ok(()) => {
                    tracing::debug!(
                        id = %self.id,
                        elapsed_ms = t0.elapsed().as_millis() as u64,
                        "dockerd answered /_ping"
                    );
                    return Ok(());
                }
                Err(e) => last_err = format!("{e:#}"),
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
