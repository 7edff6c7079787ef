//! The host's process table from /proc, and the one notion of a process's identity: its pid and
//! start time, which tell it apart from a later process that got the same pid. `/proc/PID/stat`
//! is parsed by `procfs`. A read of `/proc/PID/cmdline` takes the target's mmap lock and can block
//! behind a process in D state, so everything that reads command lines is async and bounded
//! ([`scan`]) or called through [`blocking`]; [`stat`] and [`Identity`] read only
//! `/proc/PID/stat`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use procfs::process::Process;
use procfs::FromRead;

use super::{blocking, HostError, SCAN_DEADLINE};
pub use model::journal::Rlimit;

/// A process as it can be told apart from a later one with the same pid: its pid and its start
/// time (field 22 of `/proc/PID/stat`, clock ticks after boot). Recorded as `<pid> <start>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks since boot.
    pub start: u64,
}

impl Identity {
    /// The identity of `pid` if it runs (a zombie does not).
    pub fn of(pid: u32) -> Option<Identity> {
        stat(pid).filter(Stat::alive).map(|s| s.identity())
    }

    /// The calling process.
    pub fn current() -> anyhow::Result<Identity> {
        Identity::of(std::process::id()).context("reading /proc/self/stat")
    }

    /// Whether a running process has exactly this pid and start time.
    pub fn is_live(&self) -> bool {
        Identity::of(self.pid) == Some(*self)
    }

    /// Reads a file written by [`Identity::write`].
    pub fn read(path: &Path) -> Option<Identity> {
        Identity::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// Parses `<pid> <start>` (a pid above 0, nothing after the start time).
    pub fn parse(s: &str) -> Option<Identity> {
        let mut it = s.split_whitespace();
        let id = Identity {
            pid: it.next()?.parse().ok()?,
            start: it.next()?.parse().ok()?,
        };
        (id.pid > 0 && it.next().is_none()).then_some(id)
    }

    /// Records it in a file as `<pid> <start>` (root-only: it lives in the state directory).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        crate::private::write(path, format!("{} {}\n", self.pid, self.start))
    }
}

/// One process as /proc shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// State letter (`R`, `S`, `D`, `T`, `Z`, ...).
    pub state: char,
    /// Start time in clock ticks since boot: with the pid, the process's identity.
    pub start_time: u64,
    /// Short command name.
    pub comm: String,
    /// Arguments, NUL-separated in /proc, joined with spaces here.
    pub cmdline: String,
}

/// The fields of `/proc/PID/stat` the harness uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// State letter.
    pub state: char,
    /// Start time in clock ticks since boot.
    pub start_time: u64,
    /// Short command name (at most 15 bytes).
    pub comm: String,
}

impl Stat {
    fn from_procfs(s: procfs::process::Stat) -> Option<Stat> {
        Some(Stat {
            pid: s.pid.try_into().ok()?,
            ppid: s.ppid.try_into().ok()?,
            state: s.state,
            start_time: s.starttime,
            comm: s.comm,
        })
    }

    /// Whether the process has not exited: neither a zombie (`Z`) nor dead (`X`).
    pub fn alive(&self) -> bool {
        self.state != 'Z' && self.state != 'X'
    }

    /// Its pid and start time.
    pub fn identity(&self) -> Identity {
        Identity {
            pid: self.pid,
            start: self.start_time,
        }
    }
}

/// Parses the text of `/proc/PID/stat` (the command name may hold spaces and parentheses).
pub fn parse_stat(stat: &str) -> Option<Stat> {
    // procfs slices around the parentheses and panics on text without "PID (" and ") " around
    // them, which is not a stat line either.
    let t = stat.trim();
    let (open, close) = (t.find('(')?, t.rfind(')')?);
    if open > close || !t[..open].ends_with(' ') || !t[close + 1..].starts_with(' ') {
        return None;
    }
    Stat::from_procfs(procfs::process::Stat::from_read(t.as_bytes()).ok()?)
}

/// Reads `/proc/PID/stat` only (never blocks on the process's memory); None when it is gone.
pub fn stat(pid: u32) -> Option<Stat> {
    stat_of(&Process::new(pid.try_into().ok()?).ok()?)
}

/// The stat of a process opened with `procfs` (whose other files are then read from the same
/// process, not from a later one with its pid).
pub fn stat_of(p: &Process) -> Option<Stat> {
    Stat::from_procfs(p.stat().ok()?)
}

/// The pids in /proc now.
pub fn pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir(Path::new("/proc")) else {
        return vec![];
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// Reads /proc/<pid>/stat and cmdline (blocking: call through [`scan`] or [`blocking`]).
pub fn read(pid: u32) -> Option<Proc> {
    let s = stat(pid)?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    Some(Proc {
        pid,
        ppid: s.ppid,
        state: s.state,
        start_time: s.start_time,
        comm: s.comm,
        cmdline,
    })
}

/// The file name of `argv[0]` in a command line.
pub fn program(args: &[String]) -> &str {
    args.first()
        .map(|a| a.rsplit('/').next().unwrap_or(a))
        .unwrap_or("")
}

/// The value of the last `-name VALUE`, `--name VALUE`, `-name=VALUE` or `--name=VALUE` in a
/// command line (the last one wins, as with Go's flag parsing).
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let mut found = None;
    let mut args = args.iter().skip(1);
    while let Some(a) = args.next() {
        let Some(bare) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
            continue;
        };
        if bare == name {
            if let Some(v) = args.next() {
                found = Some(v.as_str());
            }
        } else if let Some(v) = bare.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            found = Some(v);
        }
    }
    found
}

/// Every process on the host. Blocking (reads every command line): call it through
/// [`blocking`], or use [`scan`].
pub fn all() -> Vec<Proc> {
    pids().into_iter().filter_map(read).collect()
}

/// Every process on the host, read off the async workers within `SCAN_DEADLINE`.
pub async fn scan() -> Result<Vec<Proc>, HostError> {
    blocking("scanning /proc", SCAN_DEADLINE, all).await
}

/// The containerd process a dockerd started (its live child named `containerd`).
pub async fn containerd_of(dockerd: u32) -> Result<Option<Proc>, HostError> {
    Ok(scan()
        .await?
        .into_iter()
        .find(|p| p.ppid == dockerd && p.comm == "containerd" && p.state != 'Z'))
}

/// The containerd shim serving a container: a live `containerd-shim*` with the container's full
/// id as one of its arguments.
pub async fn shim_of(container_id: &str) -> Result<Option<Proc>, HostError> {
    let id = container_id.to_string();
    Ok(scan().await?.into_iter().find(|p| {
        p.comm.starts_with("containerd-shim")
            && p.state != 'Z'
            && p.cmdline.split(' ').any(|a| a == id)
    }))
}

/// Live shim processes serving a containerd namespace (`-namespace NS` on their command line).
pub fn shims_in(procs: &[Proc], namespace: &str) -> Vec<Proc> {
    procs
        .iter()
        .filter(|p| {
            p.comm.starts_with("containerd-shim")
                && p.state != 'Z'
                && p.cmdline
                    .split(' ')
                    .collect::<Vec<_>>()
                    .windows(2)
                    .any(|w| matches!(w[0], "-namespace" | "--namespace") && w[1] == namespace)
        })
        .cloned()
        .collect()
}

/// Whether a process exists and is not a zombie (stat only).
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|s| s.alive())
}

/// Waits until `pid` has the state letter `want` or `deadline` passes; returns the last state
/// seen (`?` when the process is gone).
pub async fn wait_state(pid: u32, want: char, deadline: Duration) -> char {
    let t = tokio::time::Instant::now();
    loop {
        let state = stat(pid).map(|s| s.state).unwrap_or('?');
        if state == want || t.elapsed() >= deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A process's limit of open files (soft, hard), and how many it holds open, read together.
pub fn open_files(pid: u32) -> std::io::Result<(u64, u64, u64)> {
    let (soft, hard) = prlimit(pid, Rlimit::Nofile, None)?;
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
    Ok((soft, hard, open))
}

/// Sets the limit of open files of the process `pid` started at `start_time` (its identity,
/// checked first, so that a recycled pid is never touched); returns the limit it had.
pub fn set_open_files(
    pid: u32,
    start_time: u64,
    soft: u64,
    hard: u64,
) -> Result<(u64, u64), String> {
    set_limit(pid, start_time, Rlimit::Nofile, soft, hard)
}

/// A process's limit (soft, hard) of `resource`.
pub fn limit(pid: u32, resource: Rlimit) -> std::io::Result<(u64, u64)> {
    prlimit(pid, resource, None)
}

/// Sets the limit of `resource` of the process `pid` started at `start_time` (its identity,
/// checked first, so that a recycled pid is never touched); returns the limit it had.
pub fn set_limit(
    pid: u32,
    start_time: u64,
    resource: Rlimit,
    soft: u64,
    hard: u64,
) -> Result<(u64, u64), String> {
    match stat(pid) {
        Some(s) if s.start_time == start_time && s.state != 'Z' => {}
        _ => return Err(format!("pid {pid} is gone (or is another process now)")),
    }
    prlimit(pid, resource, Some((soft, hard)))
        .map_err(|e| format!("prlimit(pid {pid}, {}): {e}", resource.name()))
}

/// `prlimit(2)` on `resource`: sets `new` when given; returns the limit before.
fn prlimit(pid: u32, resource: Rlimit, new: Option<(u64, u64)>) -> std::io::Result<(u64, u64)> {
    let new = new.map(|(soft, hard)| libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    });
    let mut old = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let new_ptr = new
        .as_ref()
        .map_or(std::ptr::null(), |n| n as *const libc::rlimit64);
    let which = match resource {
        Rlimit::Nofile => libc::RLIMIT_NOFILE,
        Rlimit::Nproc => libc::RLIMIT_NPROC,
    };
    // SAFETY: both pointers are valid for the call (or null for `new`), as prlimit64 requires.
    let r = unsafe {
        libc::prlimit64(
            pid as libc::pid_t,
            which,
            new_ptr,
            &mut old as *mut libc::rlimit64,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((old.rlim_cur, old.rlim_max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself() {
        let me = read(std::process::id()).unwrap();
        assert_eq!(me.pid, std::process::id());
        assert!(me.state == 'R' || me.state == 'S');
        assert!(me.start_time > 0);
        assert!(alive(me.pid));
        assert!(!alive(u32::MAX - 1));
        assert!(all().iter().any(|p| p.pid == me.pid));
    }

    #[test]
    fn identity_round_trip_and_liveness() {
        let me = Identity::current().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("id");
        me.write(&f).unwrap();
        assert_eq!(Identity::read(&f), Some(me));
        assert!(me.is_live());
        // Same pid, another start time: a recycled pid is not us.
        let other = Identity {
            start: me.start + 1,
            ..me
        };
        assert!(!other.is_live());
        assert_eq!(Identity::parse("12 34 56"), None);
        assert_eq!(Identity::parse("0 34"), None);
        assert_eq!(Identity::parse("12"), None);
        assert_eq!(stat(me.pid).map(|s| s.identity()), Some(me));
    }

    #[test]
    fn stat_with_odd_command_names() {
        // A whole line, as every kernel since 2.6 writes it (procfs wants fields 1 to 37).
        let s = parse_stat(
            "42 (a) b (c)) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 \
             18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0",
        )
        .unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!((s.state, s.ppid, s.start_time), ('S', 7, 98765));
        assert!(parse_stat("garbage").is_none());
        for cut in ["(a) S 1", "1 (a)", "1 ) S (", "1é(a) S", "1 (a)é S"] {
            assert!(parse_stat(cut).is_none(), "{cut}");
        }
    }

    #[test]
    fn flags_are_read_exactly() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = args(&[
            "x",
            "-id",
            "shakedown-a",
            "--namespace=b",
            "-namespace",
            "c",
        ]);
        assert_eq!(flag(&p, "namespace"), Some("c"));
        assert_eq!(flag(&p, "id"), Some("shakedown-a"));
        assert_eq!(flag(&p, "names"), None);
        let p = args(&["x", "--namespacex", "c", "-namespace"]);
        assert_eq!(flag(&p, "namespace"), None);
        assert_eq!(
            program(&args(&["/usr/bin/containerd", "--config"])),
            "containerd"
        );
        assert_eq!(program(&[]), "");
    }

    #[test]
    fn shims_are_selected_by_their_namespace_argument() {
        let shim = |pid, ns: &str| Proc {
            pid,
            ppid: 1,
            state: 'S',
            start_time: 1,
            comm: "containerd-shim".into(),
            cmdline: format!(
                "/usr/bin/containerd-shim-runc-v2 -namespace {ns} -id abc -address /x"
            ),
        };
        let procs = vec![
            shim(10, "shakedown-aa"),
            shim(11, "shakedown-bb"),
            Proc {
                comm: "sleep".into(),
                cmdline: "sleep shakedown-aa".into(),
                ..shim(12, "x")
            },
        ];
        let found: Vec<u32> = shims_in(&procs, "shakedown-aa")
            .iter()
            .map(|p| p.pid)
            .collect();
        assert_eq!(found, vec![10]);
    }

    #[test]
    fn limits_are_set_on_the_process_they_name_only() {
        let me = std::process::id();
        let start = stat(me).unwrap().start_time;
        let (soft, hard, open) = open_files(me).unwrap();
        assert!(open > 2 && soft >= open, "{soft} {hard} {open}");
        // The kernel's own account (/proc/PID/limits) sees what was set, and the old value back.
        let limits = || std::fs::read_to_string(format!("/proc/{me}/limits")).unwrap();
        assert_eq!(set_open_files(me, start, soft - 1, hard), Ok((soft, hard)));
        assert!(limits().lines().any(|l| l.starts_with("Max open files")
            && l.split_whitespace().nth(3) == Some(&(soft - 1).to_string())));
        assert_eq!(set_open_files(me, start, soft, hard), Ok((soft - 1, hard)));
        // The process limit the same way, read back from the kernel.
        let (psoft, phard) = limit(me, Rlimit::Nproc).unwrap();
        let low = psoft.min(100_000) - 1;
        assert_eq!(
            set_limit(me, start, Rlimit::Nproc, low, phard),
            Ok((psoft, phard))
        );
        assert!(limits().lines().any(|l| l.starts_with("Max processes")
            && l.split_whitespace().nth(2) == Some(&low.to_string())));
        assert_eq!(
            set_limit(me, start, Rlimit::Nproc, psoft, phard),
            Ok((low, phard))
        );
        // Another start time is another process: refused, nothing set.
        assert!(set_open_files(me, start + 1, 1, hard).is_err());
        assert_eq!(open_files(me).unwrap().0, soft);
    }
}
