//! Reading the host's process table from /proc: a process's identity (pid and start time), its
//! state, the daemon's children, the shim of a container. A read of `/proc/PID/cmdline` takes the
//! target's mmap lock and can block behind a process in D state, so everything that reads
//! command lines is async and bounded ([`scan`]); [`stat`] reads only `/proc/PID/stat`.

use std::path::Path;
use std::time::Duration;

use super::{blocking, HostError, SCAN_DEADLINE};

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
    /// Parent process id.
    pub ppid: u32,
    /// State letter.
    pub state: char,
    /// Start time in clock ticks since boot.
    pub start_time: u64,
    /// Short command name.
    pub comm: String,
}

/// Parses the text of `/proc/PID/stat`.
pub fn parse_stat(stat: &str) -> Option<Stat> {
    // comm may contain spaces and parentheses: it ends at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let f: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        // starttime is field 22 of stat; state (field 3) is the first after comm.
        start_time: f.get(19)?.parse().ok()?,
        comm,
    })
}

/// Reads `/proc/PID/stat` only (never blocks on the process's memory); None when it is gone.
pub fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
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

/// Every process on the host. Blocking (reads every command line): call it through
/// [`blocking`], or use [`scan`].
pub fn all() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir(Path::new("/proc")) else {
        return vec![];
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read)
        .collect()
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
    stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
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
    fn stat_with_odd_command_names() {
        let s = parse_stat(
            "42 (a) b (c)) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10",
        )
        .unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!((s.state, s.ppid, s.start_time), ('S', 7, 98765));
        assert!(parse_stat("garbage").is_none());
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
}
