//! Control of the daemon process for daemon faults: the harness's own managed dockerd, or — on the
//! `docker` target with `--allow-disruptive` — the local daemon behind the socket, found by the
//! socket's peer credentials and restarted the way it was started (its systemd unit, or its own
//! command line, environment and working directory).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::managed::{DaemonOptions, ManagedDaemon};
use journal::SystemDaemonSpec;

/// The daemon process a target controls.
pub enum Daemon {
    /// A private dockerd the harness started.
    Managed(ManagedDaemon),
    /// A daemon the harness did not start (only with `--allow-disruptive`).
    System(SystemDaemon),
}

impl Daemon {
    /// The configuration file a daemon the harness did not start reads: its `--config-file`
    /// (relative to its working directory), else `/etc/docker/daemon.json`.
    pub fn config_file(&self) -> Option<PathBuf> {
        match self {
            Daemon::Managed(_) => None,
            Daemon::System(d) => Some(
                flag_value(&d.spec.args, "--config-file")
                    .map(|f| d.spec.cwd.join(f))
                    .unwrap_or_else(|| "/etc/docker/daemon.json".into()),
            ),
        }
    }

    /// dockerd's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Daemon::Managed(d) => d.pid(),
            Daemon::System(d) => d.pid.filter(|p| host::proc::alive(*p)),
        }
    }

    /// Whether dockerd runs (reaps it when it has exited).
    pub fn is_running(&mut self) -> bool {
        match self {
            Daemon::Managed(d) => d.is_running(),
            Daemon::System(d) => d.is_running(),
        }
    }

    /// The options of its latest start.
    pub fn options(&self) -> &DaemonOptions {
        match self {
            Daemon::Managed(d) => d.options(),
            Daemon::System(d) => &d.opts,
        }
    }

    /// Its exec-root (goroutine dumps, netns files, containerd's socket).
    pub fn exec_root(&self) -> PathBuf {
        match self {
            Daemon::Managed(d) => d.exec_root(),
            Daemon::System(d) => d.exec_root.clone(),
        }
    }

    /// Its log file, when the harness knows it.
    pub fn log_path(&self) -> Option<PathBuf> {
        match self {
            Daemon::Managed(d) => Some(d.log_path()),
            Daemon::System(d) => Some(d.spec.log.clone()),
        }
    }

    /// What leak detection looks at for this daemon: its own objects only.
    pub fn scope(&self) -> host::leaks::Scope {
        match self {
            Daemon::Managed(d) => host::leaks::Scope {
                dir: Some(d.dir().to_path_buf()),
                data_root: Some(d.data_root()),
                exec_root: Some(d.exec_root()),
                bridges: vec![d.bridge().to_string()],
                namespace: Some(d.containerd_namespace()),
                ..Default::default()
            },
            Daemon::System(d) => host::leaks::Scope {
                dir: Some(d.data_root.clone()),
                data_root: Some(d.data_root.clone()),
                exec_root: Some(d.exec_root.clone()),
                bridges: vec![d.bridge.clone()],
                namespace: Some(d.namespace.clone()),
                ..Default::default()
            },
        }
    }

    /// How the ledger names this daemon for restarting it.
    pub fn daemon_ref(&self) -> journal::DaemonRef {
        match self {
            Daemon::Managed(d) => journal::DaemonRef::Managed {
                dir: d.dir().to_path_buf(),
            },
            Daemon::System(d) => journal::DaemonRef::System(d.spec.clone()),
        }
    }

    /// Whether the harness started this daemon.
    pub fn is_managed(&self) -> bool {
        matches!(self, Daemon::Managed(_))
    }

    /// Graceful stop within `deadline` (SIGTERM to dockerd only, then SIGKILL).
    pub async fn stop(&mut self, deadline: Duration) -> anyhow::Result<()> {
        match self {
            Daemon::Managed(d) => d.stop(deadline).await,
            Daemon::System(d) => d.stop(deadline).await,
        }
    }

    /// Starts it again, possibly with other options, and waits for `/_ping`.
    pub async fn start_again(
        &mut self,
        opts: &DaemonOptions,
        ready: Duration,
    ) -> anyhow::Result<()> {
        match self {
            Daemon::Managed(d) => d.start_again(opts, ready).await,
            Daemon::System(d) => d.start_again(opts, ready).await,
        }
    }
}

/// A local daemon the harness did not start.
pub struct SystemDaemon {
    pid: Option<u32>,
    spec: SystemDaemonSpec,
    opts: DaemonOptions,
    exec_root: PathBuf,
    data_root: PathBuf,
    bridge: String,
    namespace: String,
    child: Option<std::process::Child>,
}

fn flag_value(args: &[String], name: &str) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix(&format!("{name}="))
            .map(str::to_string)
            .or_else(|| (a == name).then(|| args.get(i + 1).cloned()).flatten())
    })
}

impl SystemDaemon {
    /// Finds the process listening on a local socket and how it was started. `log` is where a
    /// daemon the harness restarts writes its output.
    pub fn discover(socket: &Path, live_restore: bool, log: PathBuf) -> anyhow::Result<Self> {
        use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
        let s = std::os::unix::net::UnixStream::connect(socket)
            .with_context(|| format!("connecting to {}", socket.display()))?;
        let pid = getsockopt(&s, PeerCredentials)?.pid() as u32;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))?;
        let exe = PathBuf::from(exe.to_string_lossy().trim_end_matches(" (deleted)"));
        let args: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))?
            .split(|b| *b == 0)
            .skip(1)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).to_string())
            .collect();
        let env = std::fs::read(format!("/proc/{pid}/environ"))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter_map(|kv| {
                let kv = String::from_utf8_lossy(kv).to_string();
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_else(|_| "/".into());
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let unit = cgroup
            .lines()
            .find_map(|l| l.rsplit('/').next().filter(|u| u.ends_with(".service")))
            .map(str::to_string)
            .filter(|_| Path::new("/run/systemd/system").exists());
        let exec_root =
            flag_value(&args, "--exec-root").unwrap_or_else(|| "/var/run/docker".into());
        let data_root =
            flag_value(&args, "--data-root").unwrap_or_else(|| "/var/lib/docker".into());
        Ok(SystemDaemon {
            pid: Some(pid),
            bridge: flag_value(&args, "--bridge")
                .or_else(|| flag_value(&args, "-b"))
                .unwrap_or_else(|| "docker0".into()),
            namespace: flag_value(&args, "--containerd-namespace").unwrap_or_else(|| "moby".into()),
            spec: SystemDaemonSpec {
                socket: socket.to_path_buf(),
                exe,
                args,
                env,
                cwd,
                unit,
                log,
            },
            opts: DaemonOptions {
                live_restore,
                ..Default::default()
            },
            exec_root: exec_root.into(),
            data_root: data_root.into(),
            child: None,
        })
    }

    fn is_running(&mut self) -> bool {
        if let Some(c) = self.child.as_mut() {
            if c.try_wait().ok().flatten().is_some() {
                self.child = None;
                self.pid = None;
                return false;
            }
        }
        self.pid.is_some_and(host::proc::alive)
    }

    async fn stop(&mut self, deadline: Duration) -> anyhow::Result<()> {
        let Some(pid) = self.pid.filter(|p| host::proc::alive(*p)) else {
            return Ok(());
        };
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM)?;
        let t = Instant::now();
        while self.is_running() {
            if t.elapsed() > deadline {
                kill(Pid::from_raw(pid as i32), Signal::SIGKILL)?;
            }
            if t.elapsed() > deadline + Duration::from_secs(10) {
                bail!("dockerd (pid {pid}) did not exit");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.pid = None;
        Ok(())
    }

    async fn start_again(&mut self, opts: &DaemonOptions, ready: Duration) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("dockerd is still running");
        }
        let mut spec = self.spec.clone();
        if opts.live_restore != self.opts.live_restore {
            if let Some(unit) = &spec.unit {
                bail!("cannot change live-restore of a daemon run by systemd ({unit})");
            }
            spec.args
                .retain(|a| a != "--live-restore" && !a.starts_with("--live-restore="));
            if opts.live_restore {
                spec.args.push("--live-restore".into());
            }
        }
        let (pid, child) = start_system(&spec, ready).await?;
        self.pid = Some(pid);
        self.child = child;
        self.opts = opts.clone();
        self.spec = spec;
        Ok(())
    }
}

/// Starts a daemon the harness did not start the way it was started — its systemd unit, or its
/// own command line, environment and working directory (then in a process group of its own, so it
/// outlives the harness as the user's daemon did) — and waits until its socket answers; returns
/// the pid behind the socket. Used by the run that stopped it and by `shakedown clean`.
pub async fn start_system(
    spec: &SystemDaemonSpec,
    ready: Duration,
) -> anyhow::Result<(u32, Option<std::process::Child>)> {
    // dockerd refuses to start while its pidfile names a process; ours is gone.
    let pidfile = flag_value(&spec.args, "--pidfile")
        .or_else(|| flag_value(&spec.args, "-p"))
        .unwrap_or_else(|| "/var/run/docker.pid".into());
    let _ = std::fs::remove_file(pidfile);
    let mut child = None;
    if let Some(unit) = &spec.unit {
        // docker.service sets TimeoutStartSec=0: never wait on systemctl for the start itself.
        host::Cmd::new("systemctl", &["start", "--no-block", unit])
            .run()
            .await
            .with_context(|| format!("systemctl start {unit}"))?;
    } else {
        use std::os::unix::process::CommandExt;
        let out = host::private::options()
            .create(true)
            .append(true)
            .open(&spec.log)?;
        let c = std::process::Command::new(&spec.exe)
            .args(&spec.args)
            .env_clear()
            .envs(
                spec.env
                    .iter()
                    .map(|(k, v)| (OsString::from(k), OsString::from(v))),
            )
            .current_dir(&spec.cwd)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", spec.exe.display()))?;
        child = Some(c);
    }
    let t = Instant::now();
    loop {
        let socket = spec.socket.clone();
        let peer = host::blocking(
            "connecting to the daemon's socket",
            Duration::from_secs(2),
            move || {
                use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
                let s = std::os::unix::net::UnixStream::connect(&socket).ok()?;
                getsockopt(&s, PeerCredentials).ok().map(|c| c.pid() as u32)
            },
        )
        .await
        .ok()
        .flatten();
        if let Some(pid) = peer {
            return Ok((pid, child));
        }
        if t.elapsed() > ready {
            return Err(anyhow!(
                "dockerd did not listen on {} within {ready:?}",
                spec.socket.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for SystemDaemon {
    fn drop(&mut self) {
        // A daemon the harness restarted keeps running after the harness ends, as the user's daemon
        // did before: it is in a process group of its own and is not waited for.
        if let Some(c) = self.child.take() {
            std::mem::forget(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_read_both_ways() {
        let args: Vec<String> = ["--exec-root", "/x", "--data-root=/y", "-b", "br0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(flag_value(&args, "--exec-root").as_deref(), Some("/x"));
        assert_eq!(flag_value(&args, "--data-root").as_deref(), Some("/y"));
        assert_eq!(flag_value(&args, "-b").as_deref(), Some("br0"));
        assert_eq!(flag_value(&args, "--pidfile"), None);
    }
}
