//! Hang forensics: the evidence engineers otherwise collect by hand from a hung daemon, written into
//! one directory per event — daemon log tail, the goroutine dumps dockerd and containerd write on
//! SIGUSR1, every daemon thread's kernel stack, state and wait channel, the process tree of
//! dockerd/containerd/shims, the kernel log tail, and the last API answers the harness saw.
//!
//! Nothing here may hang: /proc reads of a process in D state can block, so every part runs on a
//! blocking thread under a timeout, and a part that fails records its error instead.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::proc::{self, Proc};

/// When to write forensics bundles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum ForensicsPolicy {
    /// For every scenario, at its end, and at every missed deadline or unresponsive API.
    Always,
    /// When a step misses its deadline or the API stops answering (default).
    #[default]
    OnFailure,
    /// Never.
    Never,
}

impl ForensicsPolicy {
    /// As `--forensics` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ForensicsPolicy::Always => "always",
            ForensicsPolicy::OnFailure => "on-failure",
            ForensicsPolicy::Never => "never",
        }
    }
}

/// Forensics settings for a run.
#[derive(Clone, Debug, Default)]
pub struct Forensics {
    /// When.
    pub policy: ForensicsPolicy,
    /// Where bundles go (`<dir>/<scenario>-<iteration>-<step>/`).
    pub dir: PathBuf,
}

/// How long one part of a snapshot may take.
const PART_DEADLINE: Duration = Duration::from_secs(10);

/// What to collect about one daemon.
#[derive(Clone, Debug, Default)]
pub struct DaemonInfo {
    /// dockerd's pid.
    pub dockerd_pid: Option<u32>,
    /// dockerd's exec-root, where `goroutine-stacks-*.log` appear.
    pub exec_root: Option<PathBuf>,
    /// dockerd's log file (containerd started by dockerd logs into it too).
    pub log_path: Option<PathBuf>,
    /// containerd's pid; found as dockerd's child when not given.
    pub containerd_pid: Option<u32>,
}

impl DaemonInfo {
    /// Finds containerd (dockerd's child) when it was not given; a bounded scan of /proc.
    pub async fn resolve(mut self) -> Self {
        if self.containerd_pid.is_none() {
            if let Some(d) = self.dockerd_pid {
                self.containerd_pid = proc::containerd_of(d).await.ok().flatten().map(|p| p.pid);
            }
        }
        self
    }

    fn containerd(&self) -> Option<u32> {
        self.containerd_pid
    }
}

/// A bundle directory being filled.
pub struct Bundle {
    dir: PathBuf,
    notes: Vec<String>,
    /// Root-only (in the state directory).
    private: bool,
}

/// Where to find the goroutine dumps requested by [`Bundle::request_goroutine_dumps`].
pub struct DumpRequest {
    exec_root: Option<PathBuf>,
    before: BTreeSet<PathBuf>,
    log_path: Option<PathBuf>,
    log_offset: u64,
    containerd_signalled: bool,
    containerd_pid: Option<u32>,
    requested: std::time::SystemTime,
}

/// Whether a process is stopped (state `T`): a frozen daemon.
pub fn is_stopped(pid: u32) -> bool {
    proc::stat(pid).is_some_and(|p| p.state == 'T' || p.state == 't')
}

async fn bounded<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    crate::blocking(what, PART_DEADLINE, f).await?
}

fn tail(path: &Path, lines: usize) -> anyhow::Result<String> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n") + "\n")
}

fn goroutine_files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("goroutine-stacks-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn describe(p: &Proc) -> String {
    let wchan = std::fs::read_to_string(format!("/proc/{}/wchan", p.pid)).unwrap_or_default();
    format!(
        "{:>7} {:>7} {} {:<24} {}",
        p.pid, p.ppid, p.state, wchan, p.cmdline
    )
}

/// The process tree that matters for a Docker host: dockerd, containerd, shims, and their children.
fn process_tree(dockerd: Option<u32>) -> String {
    let all = proc::all();
    let mut roots: Vec<u32> = all
        .iter()
        .filter(|p| {
            Some(p.pid) == dockerd
                || p.comm.starts_with("containerd-shim")
                || (p.comm == "containerd" && dockerd.is_some_and(|d| p.ppid == d))
        })
        .map(|p| p.pid)
        .collect();
    let mut out = String::from("    PID    PPID S WCHAN                    CMDLINE\n");
    let mut seen = BTreeSet::new();
    while let Some(pid) = roots.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Some(p) = all.iter().find(|p| p.pid == pid) {
            let _ = writeln!(out, "{}", describe(p));
        }
        roots.extend(all.iter().filter(|c| c.ppid == pid).map(|c| c.pid));
    }
    out
}

/// Every thread of a process: name, state, wait channel, kernel stack.
fn threads(pid: u32) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .with_context(|| format!("process {pid} is gone"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    for tid in tids {
        let base = format!("/proc/{pid}/task/{tid}");
        let status = std::fs::read_to_string(format!("{base}/status")).unwrap_or_default();
        let field = |k: &str| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .map(|l| l[k.len()..].trim().to_string())
                .unwrap_or_default()
        };
        let wchan = std::fs::read_to_string(format!("{base}/wchan")).unwrap_or_default();
        let stack = std::fs::read_to_string(format!("{base}/stack"))
            .unwrap_or_else(|e| format!("(stack unreadable: {e})\n"));
        let _ = writeln!(
            out,
            "--- tid {tid} name {} state {} wchan {wchan}\n{stack}",
            field("Name:"),
            field("State:")
        );
    }
    Ok(out)
}

async fn kernel_log() -> anyhow::Result<String> {
    let out = match crate::Cmd::new("dmesg", &["--ctime"]).run().await {
        Ok(o) => o,
        Err(_) => crate::Cmd::new("dmesg", &[] as &[&str]).run().await?,
    };
    let all: Vec<&str> = out.lines().collect();
    Ok(all[all.len().saturating_sub(300)..].join("\n") + "\n")
}

impl Bundle {
    /// Creates `<root>/<name>/` (with `-2`, `-3`, ... when it exists) and writes `reason.txt`.
    /// Under the state directory (a remote run's artifacts) the bundle is root-only; elsewhere
    /// (`--artifacts DIR`, `./shakedown-artifacts`) it follows the umask.
    pub fn create(root: &Path, name: &str, reason: &str) -> anyhow::Result<Bundle> {
        let private = crate::private::is_under(root, &crate::private::state_dir());
        match private {
            true => crate::private::create_dir_all(root),
            false => std::fs::create_dir_all(root),
        }
        .with_context(|| format!("creating {}", root.display()))?;
        let mut dir = root.join(name);
        let mut n = 2;
        while dir.exists() {
            dir = root.join(format!("{name}-{n}"));
            n += 1;
        }
        match private {
            true => crate::private::create_dir(&dir),
            false => std::fs::create_dir(&dir),
        }
        .with_context(|| format!("creating {}", dir.display()))?;
        let b = Bundle {
            dir,
            notes: vec![],
            private,
        };
        b.put("reason.txt", format!("{reason}\n"))?;
        Ok(b)
    }

    /// Writes one file of the bundle (root-only when the bundle is).
    fn put(&self, file: &str, contents: impl AsRef<[u8]>) -> std::io::Result<PathBuf> {
        let dest = self.dir.join(file);
        match self.private {
            true => crate::private::write(&dest, contents)?,
            false => std::fs::write(&dest, contents)?,
        }
        Ok(dest)
    }

    /// The bundle's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&mut self, file: &str, result: anyhow::Result<String>) {
        let text = match result {
            Ok(t) => {
                self.notes.push(format!("{file}: collected"));
                t
            }
            Err(e) => {
                self.notes.push(format!("{file}: failed: {e:#}"));
                format!("(not collected: {e:#})\n")
            }
        };
        if let Err(e) = self.put(file, text) {
            self.notes.push(format!("{file}: cannot write: {e}"));
        }
    }

    /// Everything that needs no cooperation from the daemon: process tree, per-thread kernel stacks
    /// of dockerd and containerd, the daemon log tail, the kernel log tail.
    pub async fn snapshot(&mut self, info: &DaemonInfo) -> anyhow::Result<()> {
        let dockerd = info.dockerd_pid;
        self.write(
            "processes.txt",
            bounded("process tree", move || Ok(process_tree(dockerd))).await,
        );
        for (file, pid) in [
            ("threads-dockerd.txt", dockerd),
            ("threads-containerd.txt", info.containerd()),
        ] {
            let r = match pid {
                Some(pid) => bounded(file, move || threads(pid)).await,
                None => Err(anyhow::anyhow!("process not found")),
            };
            self.write(file, r);
        }
        if let Some(log) = info.log_path.clone() {
            let r = bounded("daemon log", move || tail(&log, 500)).await;
            self.write("dockerd.log.tail", r);
        }
        self.write("kernel.log.tail", kernel_log().await);
        Ok(())
    }

    /// Writes the last successful API answers the harness saw (label, body).
    pub fn write_api_answers(&mut self, answers: &[(String, String)]) -> anyhow::Result<()> {
        let mut text = String::new();
        for (label, body) in answers {
            let _ = writeln!(text, "=== {label}\n{body}\n");
        }
        self.write("api-last-answers.txt", Ok(text));
        Ok(())
    }

    /// Sends SIGUSR1 to dockerd and containerd (each writes its goroutine stacks; a stopped process
    /// does so once it runs again) and remembers where to look for the dumps.
    pub fn request_goroutine_dumps(&mut self, info: &DaemonInfo) -> anyhow::Result<DumpRequest> {
        let before = info
            .exec_root
            .as_deref()
            .map(goroutine_files)
            .unwrap_or_default();
        let log_offset = info
            .log_path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .unwrap_or(0);
        // SIGUSR1 kills most programs: send it only to a process that still is what we think.
        let mut notes = vec![];
        let mut signal = |pid: u32, name: &str| -> bool {
            let is_it = proc::stat(pid).is_some_and(|p| p.comm.starts_with(name));
            let sent = is_it && kill(Pid::from_raw(pid as i32), Signal::SIGUSR1).is_ok();
            if !sent {
                notes.push(format!(
                    "no SIGUSR1 sent to {name}: pid {pid} is not {name}"
                ));
            }
            sent
        };
        let dockerd_signalled = info.dockerd_pid.filter(|pid| signal(*pid, "dockerd"));
        let containerd = info.containerd().filter(|pid| signal(*pid, "containerd"));
        self.notes.append(&mut notes);
        if let Some(pid) = dockerd_signalled {
            if is_stopped(pid) {
                self.notes.push(format!(
                    "dockerd (pid {pid}) is stopped: its goroutine dump is written once it runs again"
                ));
            }
        }
        Ok(DumpRequest {
            exec_root: info.exec_root.clone(),
            before,
            log_path: info.log_path.clone(),
            log_offset,
            containerd_signalled: containerd.is_some(),
            containerd_pid: containerd,
            requested: std::time::SystemTime::now(),
        })
    }

    /// Waits up to `deadline` for the requested dumps and copies them into the bundle
    /// (`goroutines-dockerd.log`, `goroutines-containerd.log`). A dump that does not appear is noted,
    /// not an error.
    pub async fn collect_goroutine_dumps(
        &mut self,
        req: &DumpRequest,
        deadline: Duration,
    ) -> anyhow::Result<Vec<PathBuf>> {
        let start = tokio::time::Instant::now();
        let mut written = Vec::new();
        let mut dockerd_done = req.exec_root.is_none();
        let mut containerd_done = !req.containerd_signalled || req.log_path.is_none();
        while !(dockerd_done && containerd_done) && start.elapsed() < deadline {
            if !dockerd_done {
                if let Some(dir) = &req.exec_root {
                    if let Some(new) = goroutine_files(dir).difference(&req.before).next() {
                        // The daemon writes the file in one go; give it a moment to finish.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let copied =
                            std::fs::read(new).and_then(|b| self.put("goroutines-dockerd.log", b));
                        if let Ok(dest) = copied {
                            written.push(dest);
                            self.notes
                                .push(format!("goroutines-dockerd.log: from {}", new.display()));
                        }
                        dockerd_done = true;
                    }
                }
            }
            if !containerd_done {
                // containerd 1.6 also writes the dump to $TMPDIR/containerd.<pid>.stacks.log.
                if let Some(pid) = req.containerd_pid {
                    let file = std::env::temp_dir().join(format!("containerd.{pid}.stacks.log"));
                    let fresh = std::fs::metadata(&file)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t >= req.requested);
                    if fresh {
                        let copied = std::fs::read(&file)
                            .and_then(|b| self.put("goroutines-containerd.log", b));
                        if let Ok(dest) = copied {
                            written.push(dest);
                            containerd_done = true;
                        }
                    }
                }
            }
            if !containerd_done {
                if let Some(log) = &req.log_path {
                    let new_part = std::fs::read(log)
                        .map(|b| {
                            String::from_utf8_lossy(&b[(req.log_offset as usize).min(b.len())..])
                                .to_string()
                        })
                        .unwrap_or_default();
                    if let Some(i) = new_part.find("=== BEGIN goroutine stack dump ===") {
                        if let Some(j) = new_part[i..].find("=== END goroutine stack dump ===") {
                            written.push(
                                self.put("goroutines-containerd.log", &new_part[i..i + j + 32])?,
                            );
                            containerd_done = true;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !dockerd_done {
            self.notes.push(format!(
                "goroutines-dockerd.log: no new goroutine-stacks-*.log within {deadline:?}"
            ));
        }
        if !containerd_done {
            self.notes.push(format!(
                "goroutines-containerd.log: no goroutine stack dump in the log within {deadline:?}"
            ));
        }
        Ok(written)
    }

    /// Writes `notes.txt` (what was collected, what failed and why) and returns the directory.
    pub fn finish(self) -> anyhow::Result<PathBuf> {
        self.put("notes.txt", self.notes.join("\n") + "\n")?;
        Ok(self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn snapshot_of_this_process_and_unique_dirs() {
        let root = std::env::temp_dir().join(format!("sd-forensics-{}", std::process::id()));
        let info = DaemonInfo {
            dockerd_pid: Some(std::process::id()),
            ..Default::default()
        };
        let mut b = Bundle::create(&root, "x", "test").unwrap();
        b.snapshot(&info).await.unwrap();
        let dir = b.finish().unwrap();
        let threads = std::fs::read_to_string(dir.join("threads-dockerd.txt")).unwrap();
        assert!(threads.contains("--- tid"), "{threads}");
        assert!(std::fs::read_to_string(dir.join("processes.txt"))
            .unwrap()
            .contains(&std::process::id().to_string()));
        let second = Bundle::create(&root, "x", "again").unwrap();
        assert!(second.dir().ends_with("x-2"));
        assert!(!is_stopped(std::process::id()));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
