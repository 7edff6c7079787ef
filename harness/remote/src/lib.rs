//! The SSH target: scenarios run on another host by the harness itself, so every fault, check and
//! timing is the host's own and no SSH round trip is ever measured. The local side validates the
//! scenarios, copies this very binary — or the static build of the same sources given with
//! `--remote-binary` (`ci/build-static.sh`), which runs whatever the host's glibc — to the host
//! (kept there under a name carrying its sha256, so an unchanged build is copied once) with the
//! scenario files and what they reference, and the fixture image's build context made here from
//! the static programs this machine has (kept by hash too; the host needs none of them), starts
//! `shakedown run --stream` there and receives its journal line by line over the SSH session; the
//! local side writes that journal, shows progress from it, judges it and writes the reports.
//!
//! Stopping: closing the session's standard input tells the remote run to stop, undo its changes
//! and finish its journal (`--stream` treats the end of its input like SIGTERM); a lost connection
//! does the same, since sshd then closes that input. `shakedown clean --target ssh://…` runs
//! `shakedown clean` on the host.
//!
//! Every SSH operation has a deadline; the connection itself is watched with OpenSSH's keepalives.
//! The system's OpenSSH client is used, so `~/.ssh/config`, the agent, and known_hosts apply as
//! they do for `ssh` (BatchMode: an unknown host key or a password prompt fails instead of
//! waiting).

pub mod ssh;
pub mod vm;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, Context};
use model::limits::MAX_JOURNAL_LINE_BYTES;
use tokio::io::AsyncWriteExt;

use journal::Entry;

mod bundle;
pub mod host;
mod install;
mod lines;

use crate::ssh::{quote, Input};
pub use crate::ssh::{Ssh, SshTarget, REMOTE_HOME};
pub use bundle::{bundle, PLAN};
pub use host::{Access, HostSpec, Opened, Place};

/// A short command over SSH (uname, mkdir, --version).
const SHORT: Duration = Duration::from_secs(30);
/// Copying the binary or a run's files.
const COPY: Duration = Duration::from_secs(600);
/// After asking the remote run to stop: how long it may take to undo its changes.
const STOP_GRACE: Duration = Duration::from_secs(180);
/// How much of one line of the host's standard error is shown and kept.
const STDERR_LINE: usize = 4096;

/// What a remote run is given.
pub struct RemoteRun<'a> {
    /// The host.
    pub ssh: &'a Ssh,
    /// The run id (names the directory on the host).
    pub run_id: &'a str,
    /// The bundle ([`bundle`]): the resolved plan and the files it needs.
    pub bundle: Vec<u8>,
    /// The fixture image's build context made here ([`engine::fixture::host_context`]), carried to
    /// the host; `None`: the host builds it from its own static binaries.
    pub fixture: Option<Vec<u8>>,
    /// `shakedown run` options for the target passed through (`--jobs`, `--engine`, ...); the
    /// scenarios come as the bundle's resolved plan.
    pub args: Vec<String>,
    /// Where the journal is written locally as it arrives.
    pub journal: &'a Path,
    /// Cancelled when the local run is asked to stop.
    pub cancel: tokio_util::sync::CancellationToken,
    /// Told every journal entry as it arrives (the reporters the binary subscribed).
    pub listener: journal::Listener,
}

/// How a remote run ended.
#[derive(Debug)]
pub struct RemoteEnd {
    /// The remote shakedown's exit code (None: ssh or the connection failed).
    pub code: Option<i32>,
    /// What the remote side printed on stderr (last 64 KiB).
    pub stderr: String,
    /// Why the run did not end normally, if it did not.
    pub problem: Option<String>,
}

/// Runs scenarios on the host and writes its journal locally as it arrives.
pub async fn run(r: RemoteRun<'_>) -> anyhow::Result<RemoteEnd> {
    let host = r.ssh.label();
    let exe = r.ssh.install().await?;
    let fixture = match r.fixture {
        Some(c) => Some(r.ssh.install_fixture(c).await?),
        None => None,
    };
    let dir = format!("{}/remote/{}", r.ssh.home, r.run_id);
    r.ssh.unpack(&dir, r.bundle).await?;
    let mut cmd = format!(
        "cd {} && SHAKEDOWN_STATE_DIR={} exec {} run --stream --plan {}",
        quote(&dir),
        quote(&r.ssh.home),
        quote(&exe),
        bundle::PLAN
    );
    for a in &r.args {
        cmd.push(' ');
        cmd.push_str(&quote(a));
    }
    cmd.push_str(&format!(
        " --artifacts {}",
        quote(&format!("{dir}/artifacts"))
    ));
    if let Some(f) = &fixture {
        cmd.push_str(&format!(" --fixture-context {}", quote(f)));
    }
    let mut c = r.ssh.command(&cmd);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .context("cannot run ssh (install openssh-client)")?;
    let mut stdin = child.stdin.take();
    let stdout = child.stdout.take().context("ssh stdout")?;
    let stderr = child.stderr.take().context("ssh stderr")?;
    // Root-only in the state directory, with the umask where the user named it.
    let mut file = ::host::private::create_in(&engine::default_state_dir(), r.journal)
        .map(tokio::fs::File::from_std)
        .with_context(|| format!("cannot write the journal {}", r.journal.display()))?;
    let label = host.clone();
    let err_task = tokio::spawn(async move {
        let mut stderr = tokio::io::BufReader::new(stderr);
        let mut kept = String::new();
        while let Ok(Some(l)) = lines::next(&mut stderr, STDERR_LINE).await {
            let more = if l.cut { " …" } else { "" };
            let l = String::from_utf8_lossy(&l.bytes);
            eprintln!("{label}: {l}{more}");
            kept.push_str(&l);
            kept.push('\n');
            if kept.len() > 65536 {
                let mut cut = kept.len() - 65536;
                while !kept.is_char_boundary(cut) {
                    cut += 1;
                }
                kept.drain(..cut);
            }
        }
        kept
    });
    let mut stdout = tokio::io::BufReader::new(stdout);
    let mut number = 0usize;
    let mut problem = None;
    let mut stop_asked: Option<tokio::time::Instant> = None;
    loop {
        let grace = async {
            match stop_asked {
                Some(t) => tokio::time::sleep_until(t + STOP_GRACE).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            line = lines::next(&mut stdout, MAX_JOURNAL_LINE_BYTES) => match line {
                Ok(Some(l)) if l.cut => {
                    // Not written: the journal ends before it, and what did not end is unknown.
                    problem = Some(format!(
                        "line {} of the journal from {host} is longer than {} (MAX_JOURNAL_LINE_BYTES): the host broke the journal's format; the run there was stopped and what did not finish is unknown",
                        number + 1,
                        model::limits::bytes(MAX_JOURNAL_LINE_BYTES)
                    ));
                    let _ = child.start_kill();
                    break;
                }
                Ok(Some(l)) => {
                    number += 1;
                    let mut line = l.bytes;
                    line.push(b'\n');
                    // Flushed line by line: what arrived is on disk if this side dies.
                    let written = async {
                        file.write_all(&line).await?;
                        file.flush().await
                    };
                    written.await.with_context(|| {
                        format!("cannot write the journal {}", r.journal.display())
                    })?;
                    if let Ok(e) = serde_json::from_slice::<Entry>(&line) {
                        (r.listener)(&e);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    problem = Some(format!("reading the journal from {host}: {e}"));
                    break;
                }
            },
            _ = r.cancel.cancelled(), if stop_asked.is_none() => {
                // Closing its input stops the remote run; it undoes its changes and finishes
                // its journal, which keeps arriving.
                drop(stdin.take());
                stop_asked = Some(tokio::time::Instant::now());
            }
            _ = grace => {
                problem = Some(format!(
                    "the run on {host} did not stop within {STOP_GRACE:?}: `shakedown clean --target {host}` undoes what it left"
                ));
                let _ = child.start_kill();
                break;
            }
        }
    }
    drop(stdin);
    let status = tokio::time::timeout(SHORT, child.wait()).await;
    let stderr = tokio::time::timeout(SHORT, err_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let code = match status {
        Ok(Ok(s)) => s.code(),
        _ => {
            let _ = child.start_kill();
            None
        }
    };
    if code == Some(255) && problem.is_none() {
        problem = Some(format!(
            "the connection to {host} failed or was lost: the run there stops and undoes its changes when it notices; `shakedown clean --target {host}` undoes what it left"
        ));
    }
    // The run's files on the host; its journal is under the host's state directory.
    let _ = r
        .ssh
        .exec(
            "removing the run's files",
            &format!("rm -rf {}", quote(&dir)),
            Input::None,
            SHORT,
        )
        .await;
    Ok(RemoteEnd {
        code,
        stderr,
        problem,
    })
}

/// `shakedown clean` on the host (with `--runs RETENTION` when given); returns what it printed
/// and its exit code.
pub async fn clean(ssh: &Ssh, runs: Option<&str>) -> anyhow::Result<(String, i32)> {
    let exe = ssh.install().await?;
    let host = ssh.label();
    let runs = runs
        .map(|r| format!(" --runs {}", quote(r)))
        .unwrap_or_default();
    let out = ssh
        .command(&format!(
            "SHAKEDOWN_STATE_DIR={} {} clean{runs}",
            quote(&ssh.home),
            quote(&exe)
        ))
        .stdin(Stdio::null())
        .output();
    let out = tokio::time::timeout(COPY, out)
        .await
        .map_err(|_| anyhow!("shakedown clean on {host}: no answer within {COPY:?}"))?
        .context("cannot run ssh")?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((text, out.status.code().unwrap_or(2)))
}
