//! The OpenSSH client: how to reach a host (`ssh://…`, a Vagrant machine, a booted VM) and run a
//! command there as root with a deadline. Below both [`crate`] (runs on a host) and
//! [`crate::vm`] (a VM reached like any SSH host), so neither has to reach into the other.
//!
//! The system's OpenSSH client is used, so `~/.ssh/config`, the agent, and known_hosts apply as
//! they do for `ssh` (BatchMode: an unknown host key or a password prompt fails instead of
//! waiting); the connection itself is watched with OpenSSH's keepalives.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use tokio::io::AsyncWriteExt;

/// Where the harness keeps its files on the host (binaries by hash, each run's files).
pub const REMOTE_HOME: &str = "/var/lib/shakedown";

/// `ssh://[USER@]HOST[:PORT][?daemon=managed|docker]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget {
    /// Login user (default: ssh's own choice).
    pub user: Option<String>,
    /// Host name or address.
    pub host: String,
    /// Port (default: ssh's own choice, usually 22).
    pub port: Option<u16>,
    /// Run on the host's own daemon (`?daemon=docker`) instead of a private one it starts.
    pub existing_daemon: bool,
}

impl SshTarget {
    /// Parses an `ssh://` target.
    pub fn parse(s: &str) -> Result<SshTarget, String> {
        let rest = s
            .strip_prefix("ssh://")
            .ok_or_else(|| format!("{s:?} is not an ssh:// target"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let existing_daemon = match query {
            None | Some("daemon=managed") => false,
            Some("daemon=docker") => true,
            Some(q) => {
                return Err(format!(
                    "unknown option {q:?} in {s:?}: the only one is daemon=managed|docker"
                ))
            }
        };
        let rest = rest.trim_end_matches('/');
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
            Some(_) => return Err(format!("empty user in {s:?}")),
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, p) = v6
                .split_once(']')
                .ok_or_else(|| format!("unclosed [ in {s:?}"))?;
            (h.to_string(), p.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("bad port {p:?} in {s:?}"))
            })
            .transpose()?;
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(format!("no host in {s:?}: write ssh://[USER@]HOST[:PORT]"));
        }
        Ok(SshTarget {
            user,
            host,
            port,
            existing_daemon,
        })
    }

    /// The target as written back (for reports and messages).
    pub fn label(&self) -> String {
        let user = self
            .user
            .as_ref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let daemon = if self.existing_daemon {
            "?daemon=docker"
        } else {
            ""
        };
        format!("ssh://{user}{host}{port}{daemon}")
    }
}

/// How to reach a host: the target plus the ssh options given on the command line.
#[derive(Clone, Debug)]
pub struct Ssh {
    /// The host.
    pub target: SshTarget,
    /// `-i FILE`.
    pub identity: Option<PathBuf>,
    /// Extra `-o OPTION`s (e.g. `UserKnownHostsFile=…`).
    pub options: Vec<String>,
    /// The harness's directory on the host (default [`REMOTE_HOME`]): binaries, each run's files,
    /// and the state directory of the runs there.
    pub home: String,
    /// An ssh_config file to read (`ssh -F`), e.g. what `vagrant ssh-config` printed.
    pub config: Option<PathBuf>,
    /// How messages name the host when not by its address (`vagrant:MACHINE`).
    pub name: Option<String>,
    /// The shakedown binary to copy to the host (`--remote-binary`); `None`: this one.
    pub binary: Option<PathBuf>,
}

/// Single-quotes a word for the remote shell.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A command for the remote shell, run as root: directly when the login is root, else through
/// `sudo -n` (which fails at once instead of asking for a password).
fn as_root(cmd: &str) -> String {
    let q = quote(cmd);
    format!("if [ \"$(id -u)\" = 0 ]; then sh -c {q}; else sudo -n sh -c {q}; fi")
}

impl Ssh {
    /// The host as messages name it.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.target.label())
    }

    pub(crate) fn command(&self, remote: &str) -> tokio::process::Command {
        self.ssh(Some(remote))
    }

    /// `ssh` to the host: with a command (run as root, no terminal), or without one (a login
    /// shell on a terminal).
    fn ssh(&self, remote: Option<&str>) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("ssh");
        if let Some(f) = &self.config {
            c.arg("-F").arg(f);
        }
        for o in [
            "BatchMode=yes",
            "ConnectTimeout=10",
            "ServerAliveInterval=5",
            "ServerAliveCountMax=3",
            "LogLevel=ERROR",
        ] {
            c.arg("-o").arg(o);
        }
        if let Some(p) = self.target.port {
            c.arg("-p").arg(p.to_string());
        }
        if let Some(i) = &self.identity {
            c.arg("-i").arg(i);
        }
        for o in &self.options {
            c.arg("-o").arg(o);
        }
        let dest = match &self.target.user {
            Some(u) => format!("{u}@{}", self.target.host),
            None => self.target.host.clone(),
        };
        match remote {
            Some(r) => c.arg("-T").arg("--").arg(dest).arg(as_root(r)),
            None => c.arg("-t").arg("--").arg(dest),
        };
        c.kill_on_drop(true);
        c
    }

    /// A session on the host with this terminal: a login shell (`-t`) without a command, else
    /// the command. Interactive, so bounded by the user and by ssh's keepalives (a dead host ends
    /// it within 15 s), not by a deadline. Returns ssh's exit code.
    pub async fn interactive(&self, command: &[String]) -> anyhow::Result<i32> {
        let command = command.join(" ");
        let mut c = self.ssh(Some(command.as_str()).filter(|c| !c.is_empty()));
        let status = c
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .await
            .context("cannot run ssh (install openssh-client)")?;
        Ok(status.code().unwrap_or(255))
    }

    /// Runs a shell command on the host with `input` on its standard input; fails on a non-zero
    /// exit, naming the host and what the command printed.
    pub(crate) async fn exec(
        &self,
        what: &str,
        remote: &str,
        input: Input,
        deadline: Duration,
    ) -> anyhow::Result<String> {
        let host = self.label();
        let mut c = self.command(remote);
        c.stdin(match input {
            Input::None => Stdio::null(),
            _ => Stdio::piped(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let work = async {
            let mut child = c
                .spawn()
                .context("cannot run ssh (install openssh-client)")?;
            let mut stdin = child.stdin.take();
            let feed = async {
                match (input, stdin.as_mut()) {
                    (Input::Bytes(b), Some(w)) => w.write_all(&b).await?,
                    (Input::File(p), Some(w)) => {
                        let mut f = tokio::fs::File::open(&p).await?;
                        tokio::io::copy(&mut f, w).await?;
                    }
                    _ => {}
                }
                drop(stdin);
                Ok::<_, std::io::Error>(())
            };
            let (fed, out) = tokio::join!(feed, child.wait_with_output());
            let out = out?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
                let code = out.status.code().unwrap_or(-1);
                if code == 255 {
                    bail!("{what} on {host}: ssh failed: {err}");
                }
                bail!("{what} on {host} failed (exit {code}): {err}");
            }
            fed.with_context(|| format!("{what} on {host}: sending its input"))?;
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        tokio::time::timeout(deadline, work)
            .await
            .map_err(|_| anyhow!("{what} on {host}: no answer within {deadline:?}"))?
    }

    /// Whether the host answers over SSH (`true`), within a short deadline.
    pub async fn probe(&self) -> anyhow::Result<()> {
        self.exec("probing", "true", Input::None, Duration::from_secs(15))
            .await
            .map(|_| ())
    }
}

/// What a command over SSH reads on its standard input.
pub(crate) enum Input {
    None,
    Bytes(Vec<u8>),
    File(PathBuf),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        let t = SshTarget::parse("ssh://root@10.0.0.5:2222").unwrap();
        assert_eq!(
            t,
            SshTarget {
                user: Some("root".into()),
                host: "10.0.0.5".into(),
                port: Some(2222),
                existing_daemon: false
            }
        );
        assert_eq!(t.label(), "ssh://root@10.0.0.5:2222");
        let t = SshTarget::parse("ssh://build-01?daemon=docker").unwrap();
        assert_eq!((t.user, t.port, t.existing_daemon), (None, None, true));
        let t = SshTarget::parse("ssh://ops@[::1]:22").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.label(), "ssh://ops@[::1]:22");
        for bad in [
            "ssh://",
            "ssh://root@",
            "ssh://@h",
            "ssh://h:0",
            "ssh://h:x",
            "ssh://h?daemon=x",
            "h",
        ] {
            assert!(SshTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
