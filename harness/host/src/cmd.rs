//! External commands with a deadline: `ip`, `tc`, `iptables`, `systemctl`. A command that outlives
//! its deadline is killed; one that must act inside a container's network namespace joins it
//! through a held namespace descriptor between fork and exec, never through a PID.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::{HostError, NetnsHandle, COMMAND_DEADLINE};

/// A command line to run on the host.
#[derive(Clone, Debug)]
pub struct Cmd {
    program: String,
    args: Vec<String>,
    deadline: Duration,
    netns: Option<NetnsHandle>,
}

/// What a finished command printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its exit status, as text.
    pub status: String,
    /// Its exit code (`None` when a signal ended it).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Finds a program on PATH or in the sbin directories a root shell without a login PATH may lack
/// (Debian puts `ip`, `tc`, `iptables` there).
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        dirs.push(PathBuf::from(extra));
    }
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

/// Whether `p` is a regular file (symlinks followed) with an execute bit set.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Cmd {
    /// `program args...` with the default deadline.
    pub fn new<S: AsRef<str>>(program: &str, args: &[S]) -> Self {
        Cmd {
            program: program.to_string(),
            args: args.iter().map(|a| a.as_ref().to_string()).collect(),
            deadline: COMMAND_DEADLINE,
            netns: None,
        }
    }

    /// Another deadline.
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    /// Run inside this network namespace.
    pub fn netns(mut self, ns: &NetnsHandle) -> Self {
        self.netns = Some(ns.clone());
        self
    }

    /// The command line, for messages.
    pub fn line(&self) -> String {
        let mut s = self.program.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        if let Some(ns) = &self.netns {
            s.push_str(&format!(" (in netns {})", ns.id()));
        }
        s
    }

    /// Runs it to completion or its deadline; a non-zero exit is not an error here.
    pub async fn output(&self) -> Result<Finished, HostError> {
        let what = self.line();
        let program = which(&self.program).ok_or_else(|| HostError::Spawn {
            what: what.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{} not found on PATH or in the sbin directories",
                    self.program
                ),
            ),
        })?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(ns) = &self.netns {
            let fd = ns.raw_fd();
            // SAFETY: between fork and exec only setns(2), an async-signal-safe system call, runs;
            // the descriptor stays open in the parent (held by `self`) until the child has exec'd.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().map_err(|source| HostError::Spawn {
            what: what.clone(),
            source,
        })?;
        match tokio::time::timeout(self.deadline, child.wait_with_output()).await {
            Err(_) => Err(HostError::Timeout {
                what,
                deadline: self.deadline,
            }),
            Ok(Err(source)) => Err(HostError::Spawn { what, source }),
            Ok(Ok(out)) => Ok(Finished {
                success: out.status.success(),
                status: out.status.to_string(),
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            }),
        }
    }

    /// Runs it; a non-zero exit is an error carrying its standard error. Returns standard output.
    pub async fn run(&self) -> Result<String, HostError> {
        let f = self.output().await?;
        if f.success {
            Ok(f.stdout)
        } else {
            Err(HostError::Failed {
                what: self.line(),
                status: f.status,
                stderr: f.stderr,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_have_deadlines_and_report_failures() {
        assert_eq!(Cmd::new("echo", &["hi"]).run().await.unwrap(), "hi\n");
        let slow = Cmd::new("sleep", &["5"]).deadline(Duration::from_millis(100));
        let t = std::time::Instant::now();
        assert!(matches!(slow.run().await, Err(HostError::Timeout { .. })));
        assert!(t.elapsed() < Duration::from_secs(2));
        let e = Cmd::new("sh", &["-c", "echo nope >&2; exit 3"])
            .run()
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("nope") && text.contains('3'), "{text}");
        assert!(matches!(
            Cmd::new("no-such-program-here", &["x"]).run().await,
            Err(HostError::Spawn { .. })
        ));
    }
}
