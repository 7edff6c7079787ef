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

/// The daemon process a target controls.
pub enum Daemon {
    /// A private dockerd the harness started.
    Managed(ManagedDaemon),
    /// A daemon the harness did not start (only with `--allow-disruptive`).
    System(SystemDaemon),
}

impl Daemon {
    /// dockerd's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Daemon::Managed(d) => d.pid(),
            Daemon::System(d) => d.pid.filter(|p| crate::proc::alive(*p)),
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
            Daemon::System(d) => d.log.clone(),
        }
    }

    /// What leak detection looks at for this daemon.
    pub fn scope(&self) -> crate::leaks::Scope {
        match self {
            Daemon::Managed(d) => crate::leaks::Scope {
                dir: Some(d.dir().to_path_buf()),
                data_root: Some(d.data_root()),
                bridge: Some(d.bridge().to_string()),
                namespace: Some(d.containerd_namespace()),
            },
            Daemon::System(d) => crate::leaks::Scope {
                dir: Some(d.data_root.clone()),
                data_root: Some(d.data_root.clone()),
                bridge: Some(d.bridge.clone()),
                namespace: Some(d.namespace.clone()),
            },
        }
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
    exe: PathBuf,
    args: Vec<String>,
    env: Vec<(OsString, OsString)>,
    cwd: PathBuf,
    socket: PathBuf,
    opts: DaemonOptions,
    unit: Option<String>,
    exec_root: PathBuf,
    data_root: PathBuf,
    bridge: String,
    namespace: String,
    log: Option<PathBuf>,
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
                    .map(|(k, v)| (OsString::from(k), OsString::from(v)))
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
            exe,
            bridge: flag_value(&args, "--bridge")
                .or_else(|| flag_value(&args, "-b"))
                .unwrap_or_else(|| "docker0".into()),
            namespace: flag_value(&args, "--containerd-namespace").unwrap_or_else(|| "moby".into()),
            args,
            env,
            cwd,
            socket: socket.to_path_buf(),
            opts: DaemonOptions {
                live_restore,
                ..Default::default()
            },
            unit,
            exec_root: exec_root.into(),
            data_root: data_root.into(),
            log: Some(log),
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
        self.pid.is_some_and(crate::proc::alive)
    }

    async fn stop(&mut self, deadline: Duration) -> anyhow::Result<()> {
        let Some(pid) = self.pid.filter(|p| crate::proc::alive(*p)) else {
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
        let mut args = self.args.clone();
        if opts.live_restore != self.opts.live_restore {
            args.retain(|a| a != "--live-restore" && !a.starts_with("--live-restore="));
            if opts.live_restore {
                args.push("--live-restore".into());
            }
            if self.unit.is_some() {
                bail!(
                    "cannot change live-restore of a daemon run by systemd ({})",
                    self.unit.as_deref().unwrap_or("")
                );
            }
        }
        // dockerd refuses to start while its pidfile names a process; ours is gone.
        let pidfile = flag_value(&args, "--pidfile")
            .or_else(|| flag_value(&args, "-p"))
            .unwrap_or_else(|| "/var/run/docker.pid".into());
        let _ = std::fs::remove_file(pidfile);
        if let Some(unit) = &self.unit {
            let ok = std::process::Command::new("systemctl")
                .args(["start", unit])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                bail!("systemctl start {unit} failed");
            }
        } else {
            use std::os::unix::process::CommandExt;
            let log = self.log.clone().unwrap_or_else(|| "/dev/null".into());
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            let child = std::process::Command::new(&self.exe)
                .args(&args)
                .env_clear()
                .envs(self.env.iter().cloned())
                .current_dir(&self.cwd)
                .stdin(std::process::Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .process_group(0)
                .spawn()
                .with_context(|| format!("starting {}", self.exe.display()))?;
            self.pid = Some(child.id());
            self.child = Some(child);
        }
        let t = Instant::now();
        loop {
            if let Ok(s) = std::os::unix::net::UnixStream::connect(&self.socket) {
                use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
                if let Ok(c) = getsockopt(&s, PeerCredentials) {
                    self.pid = Some(c.pid() as u32);
                    break;
                }
            }
            if t.elapsed() > ready {
                return Err(anyhow!(
                    "dockerd did not listen on {} within {ready:?}",
                    self.socket.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.opts = opts.clone();
        self.args = args;
        Ok(())
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
