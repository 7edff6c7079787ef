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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::journal::Entry;

pub mod host;

pub use host::{Access, HostSpec, Opened, Place};

/// Where the harness keeps its files on the host (binaries by hash, each run's files).
pub const REMOTE_HOME: &str = "/var/lib/shakedown";
/// A short command over SSH (uname, mkdir, --version).
const SHORT: Duration = Duration::from_secs(30);
/// Copying the binary or a run's files.
const COPY: Duration = Duration::from_secs(600);
/// After asking the remote run to stop: how long it may take to undo its changes.
const STOP_GRACE: Duration = Duration::from_secs(180);

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
fn quote(s: &str) -> String {
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

    fn command(&self, remote: &str) -> tokio::process::Command {
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
    async fn exec(
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

    /// The shakedown binary copied to the host: [`Ssh::binary`] if given, else this one.
    fn binary(&self) -> anyhow::Result<PathBuf> {
        match &self.binary {
            Some(b) => Ok(b.clone()),
            None => std::env::current_exe().context("finding this binary"),
        }
    }

    /// Makes sure the host can run the binary to copy ([`Ssh::binary`]) and has it; returns its path
    /// there. A binary other than this one must come from the same sources (its `--version` names
    /// them), since the journal it streams back is judged here.
    pub async fn install(&self) -> anyhow::Result<String> {
        let host = self.label();
        let arch = self
            .exec("uname -m", "uname -m", Input::None, SHORT)
            .await?;
        let arch = arch.trim();
        if arch != std::env::consts::ARCH {
            bail!(
                "{host} is {arch}, this shakedown is built for {}: build one for {arch} and run it from there",
                std::env::consts::ARCH
            );
        }
        let exe = self.binary()?;
        if self.binary.is_some() {
            let theirs = crate::host::cmd::Cmd::new(&exe.to_string_lossy(), &["--version"])
                .deadline(SHORT)
                .run()
                .await?;
            let theirs = theirs.trim();
            let ours = format!("shakedown {}", crate::VERSION);
            if theirs != ours {
                bail!(
                    "{} is {theirs:?}, this is {ours:?}: the binary copied to the host must be built \
                     from the same sources (ci/build-static.sh builds a static one)",
                    exe.display()
                );
            }
        }
        let (hash, is_static) = {
            let exe = exe.clone();
            crate::host::blocking("hashing the binary to copy", COPY, move || {
                let is_static = crate::fixture::is_static_elf(&exe)?;
                anyhow::Ok((file_sha256(&exe)?, is_static))
            })
            .await??
        };
        let path = self
            .put(
                "shakedown",
                &format!("bin/shakedown-{}", &hash[..16]),
                0o755,
                Input::File(exe),
            )
            .await?;
        let q = quote(&path);
        let version = self
            .exec("running shakedown", &format!("{q} --version"), Input::None, SHORT)
            .await
            .map_err(|e| {
                if is_static {
                    e
                } else {
                    anyhow!("{e:#}\n(the binary is dynamically linked against this machine's glibc: copy a static one with --remote-binary FILE, built by ci/build-static.sh)")
                }
            })?;
        tracing::debug!("{host}: {}", version.trim());
        Ok(path)
    }

    /// Makes sure the host has the fixture image's build context carried from here (kept by its
    /// hash, like the binary); returns its path there.
    pub async fn install_fixture(&self, context: Vec<u8>) -> anyhow::Result<String> {
        let hex = crate::fixture::image_tag(&context);
        let hash = hex.rsplit(':').next().unwrap_or("context").to_string();
        self.put(
            "the fixture's build context",
            &format!("bin/fixture-{hash}.tar"),
            0o644,
            Input::Bytes(context),
        )
        .await
    }

    /// Copies a file to `home/name` unless it is there already (names carry a content hash), through
    /// a temporary name so a cut-off copy is never taken for a whole one; returns its path.
    async fn put(&self, what: &str, name: &str, mode: u32, input: Input) -> anyhow::Result<String> {
        let path = format!("{}/{name}", self.home);
        let q = quote(&path);
        let present = self
            .exec(
                &format!("looking for {what}"),
                &format!("test -f {q} && echo present || echo missing"),
                Input::None,
                SHORT,
            )
            .await?;
        if present.trim() != "present" {
            let dir = Path::new(&path)
                .parent()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.home.clone());
            self.exec(
                &format!("copying {what}"),
                &format!(
                    "mkdir -p {dir} && cat > {q}.part && chmod {mode:o} {q}.part && mv -f {q}.part {q}",
                    dir = quote(&dir)
                ),
                input,
                COPY,
            )
            .await?;
        }
        Ok(path)
    }

    /// Whether the host answers over SSH (`true`), within a short deadline.
    pub async fn probe(&self) -> anyhow::Result<()> {
        self.exec("probing", "true", Input::None, Duration::from_secs(15))
            .await
            .map(|_| ())
    }

    /// Copies a bundle (a tar of the scenario files) into a new directory for this run.
    async fn unpack(&self, dir: &str, tar: Vec<u8>) -> anyhow::Result<()> {
        let q = quote(dir);
        self.exec(
            "copying the scenarios",
            &format!("rm -rf {q} && mkdir -p {q} && tar -x -C {q}"),
            Input::Bytes(tar),
            COPY,
        )
        .await
        .map(|_| ())
    }
}

enum Input {
    None,
    Bytes(Vec<u8>),
    File(PathBuf),
}

fn file_sha256(path: &Path) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}

/// The files a run needs on the host: each scenario file and the image archives and build
/// contexts it names, as a tar whose paths keep their layout below their common directory.
/// Returns the tar and each scenario file's path inside it, in the order given.
pub fn bundle(scenarios: &[(PathBuf, Vec<PathBuf>)]) -> anyhow::Result<(Vec<u8>, Vec<String>)> {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .map(|p| lexical(&p))
            .with_context(|| format!("{}", p.display()))
    };
    let mut all = vec![];
    for (file, refs) in scenarios {
        all.push(abs(file)?);
        for r in refs {
            all.push(abs(r)?);
        }
    }
    let root = common_dir(&all);
    let rel = |p: &Path| -> anyhow::Result<String> {
        Ok(p.strip_prefix(&root)?.to_string_lossy().into_owned())
    };
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(true);
    let mut done = std::collections::BTreeSet::new();
    for p in &all {
        if !done.insert(p.clone()) {
            continue;
        }
        let name = rel(p)?;
        if p.is_dir() {
            tar.append_dir_all(&name, p)
        } else {
            tar.append_path_with_name(p, &name)
        }
        .with_context(|| format!("packing {}", p.display()))?;
    }
    let files = scenarios
        .iter()
        .map(|(f, _)| rel(&abs(f)?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((tar.into_inner()?, files))
}

/// An absolute path without `.` and `..` components (`/a/b/../c` → `/a/c`), so that paths given
/// as `dir/../file` pack below their real common directory.
fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The deepest directory containing every path.
fn common_dir(paths: &[PathBuf]) -> PathBuf {
    let mut root = paths
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    for p in paths {
        while !p.starts_with(&root) || p == &root {
            match root.parent() {
                Some(up) => root = up.to_path_buf(),
                None => break,
            }
        }
    }
    root
}

/// What a remote run is given.
pub struct RemoteRun<'a> {
    /// The host.
    pub ssh: &'a Ssh,
    /// The run id (names the directory on the host).
    pub run_id: &'a str,
    /// The bundle and its scenario files.
    pub bundle: (Vec<u8>, Vec<String>),
    /// The fixture image's build context made here ([`crate::fixture::host_context`]), carried to
    /// the host; `None`: the host builds it from its own static binaries.
    pub fixture: Option<Vec<u8>>,
    /// `shakedown run` options passed through (`--repeat`, `--filter`, `--jobs`, ...).
    pub args: Vec<String>,
    /// Where the journal is written locally as it arrives.
    pub journal: &'a Path,
    /// Cancelled when the local run is asked to stop.
    pub cancel: tokio_util::sync::CancellationToken,
    /// Told every journal entry as it arrives (the reporters the binary subscribed).
    pub listener: crate::journal::Listener,
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
    let (tar, files) = r.bundle;
    r.ssh.unpack(&dir, tar).await?;
    let mut cmd = format!(
        "cd {} && SHAKEDOWN_STATE_DIR={} exec {} run --stream",
        quote(&dir),
        quote(&r.ssh.home),
        quote(&exe)
    );
    for f in &files {
        cmd.push(' ');
        cmd.push_str(&quote(f));
    }
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
    if let Some(d) = r.journal.parent() {
        tokio::fs::create_dir_all(d)
            .await
            .with_context(|| format!("{}", d.display()))?;
    }
    let mut file = tokio::fs::File::create(r.journal)
        .await
        .with_context(|| format!("cannot write the journal {}", r.journal.display()))?;
    let label = host.clone();
    let err_task = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let mut kept = String::new();
        while let Ok(Some(l)) = lines.next_line().await {
            eprintln!("{label}: {l}");
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
    let mut lines = tokio::io::BufReader::new(stdout).lines();
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
            line = lines.next_line() => match line {
                Ok(Some(l)) => {
                    let mut line = l.clone().into_bytes();
                    line.push(b'\n');
                    // Flushed line by line: what arrived is on disk if this side dies.
                    let written = async {
                        file.write_all(&line).await?;
                        file.flush().await
                    };
                    written.await.with_context(|| {
                        format!("cannot write the journal {}", r.journal.display())
                    })?;
                    if let Ok(e) = serde_json::from_str::<Entry>(&l) {
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

/// `shakedown clean` on the host; returns what it printed and its exit code.
pub async fn clean(ssh: &Ssh) -> anyhow::Result<(String, i32)> {
    let exe = ssh.install().await?;
    let host = ssh.label();
    let out = ssh
        .command(&format!(
            "SHAKEDOWN_STATE_DIR={} {} clean",
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

    #[test]
    fn bundles_keep_layout_below_the_common_directory() {
        let d = tempfile::tempdir().unwrap();
        let s = d.path().join("suite");
        std::fs::create_dir_all(s.join("ctx")).unwrap();
        std::fs::write(s.join("a.yaml"), "a").unwrap();
        std::fs::write(d.path().join("app.tar"), "t").unwrap();
        std::fs::write(s.join("ctx/Dockerfile"), "FROM x").unwrap();
        let (tar, files) = bundle(&[
            (
                s.join("a.yaml"),
                vec![d.path().join("app.tar"), s.join("ctx")],
            ),
            (s.join("a.yaml"), vec![]),
        ])
        .unwrap();
        assert_eq!(files, ["suite/a.yaml", "suite/a.yaml"]);
        // `..` in a path given is resolved, not packed.
        let (_, files) = bundle(&[
            (s.join("ctx/../a.yaml"), vec![]),
            (d.path().join("app.tar"), vec![]),
        ])
        .unwrap();
        assert_eq!(files, ["suite/a.yaml", "app.tar"]);
        let mut names: Vec<String> = tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "app.tar",
                "suite/a.yaml",
                "suite/ctx/",
                "suite/ctx/Dockerfile"
            ]
        );
    }
}
