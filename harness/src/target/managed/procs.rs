//! The processes of one daemon directory, and how they are killed.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{blocking, SCAN_DEADLINE};

#[derive(Debug, Clone)]
pub(super) struct ProcStat {
    pub(super) state: char,
    pub(super) ppid: i32,
    pub(super) start: u64,
}

pub(super) fn read_stat(pid: i32) -> Option<ProcStat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

/// Alive in the sense that matters here: exists and is not a zombie.
pub(super) fn alive(pid: i32) -> bool {
    matches!(read_stat(pid), Some(s) if s.state != 'Z' && s.state != 'X')
}

#[derive(Debug)]
pub(super) struct ProcInfo {
    pid: i32,
    stat: ProcStat,
    cmdline: Vec<String>,
    cgroup: String,
}

pub(super) fn scan_procs() -> Vec<ProcInfo> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Some(stat) = read_stat(pid) else {
            continue;
        };
        let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        out.push(ProcInfo {
            pid,
            stat,
            cmdline,
            cgroup,
        });
    }
    out
}

/// Container ids of a daemon, from the names under `D/data/containers`; their processes are
/// recognized by these ids in their cgroup paths (both the cgroupfs and systemd drivers put
/// the full id there).
pub(super) fn container_ids(dir: &Path) -> Vec<String> {
    fs::read_dir(dir.join("data/containers"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect()
}

/// The processes that belong to the daemon in `dir`: anything whose arguments name a path
/// under `dir` (dockerd, its containerd, the shims' `-address`), or whose argument is exactly
/// the daemon's containerd namespace (shims), or whose cgroup names one of its containers;
/// plus all descendants of those (docker-proxy, container processes under a shim). Never the
/// calling process or its ancestors, never pid 1.
pub(super) fn processes_of(
    dir: &Path,
    id: &str,
    procs: &[ProcInfo],
    containers_only: bool,
) -> Vec<i32> {
    let dir_str = dir.to_string_lossy().into_owned();
    let dir_prefix = format!("{dir_str}/");
    let ns = format!("shakedown-{id}");
    let ns_plugins = format!("shakedown-{id}-plugins");
    let cids = container_ids(dir);

    let mut protected: HashSet<i32> = HashSet::from([0, 1]);
    let by_pid: HashMap<i32, &ProcInfo> = procs.iter().map(|p| (p.pid, p)).collect();
    let mut cur = std::process::id() as i32;
    while protected.insert(cur) {
        match by_pid.get(&cur) {
            Some(p) => cur = p.stat.ppid,
            None => break,
        }
    }

    let names_us = |p: &ProcInfo| {
        p.cmdline.iter().any(|a| {
            a.contains(&dir_prefix)
                || a == &dir_str
                || a.ends_with(&format!("={dir_str}"))
                || a == &ns
                || a == &ns_plugins
        })
    };
    let in_container = |p: &ProcInfo| cids.iter().any(|c| p.cgroup.contains(c.as_str()));
    let mut ours: BTreeSet<i32> = if containers_only {
        // Container processes are the shims' children (and whatever sits in a container's
        // cgroup), not the shims themselves.
        let shims: HashSet<i32> = procs
            .iter()
            .filter(|p| {
                names_us(p)
                    && p.cmdline.first().is_some_and(|a0| {
                        Path::new(a0)
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("containerd-shim"))
                    })
            })
            .map(|p| p.pid)
            .collect();
        procs
            .iter()
            .filter(|p| in_container(p) || shims.contains(&p.stat.ppid))
            .map(|p| p.pid)
            .collect()
    } else {
        procs
            .iter()
            .filter(|p| names_us(p) || in_container(p))
            .map(|p| p.pid)
            .collect()
    };
    // Descendants, to a fixed point (the process list is not ordered by ancestry).
    loop {
        let before = ours.len();
        for p in procs {
            if ours.contains(&p.stat.ppid) {
                ours.insert(p.pid);
            }
        }
        if ours.len() == before {
            break;
        }
    }
    ours.into_iter()
        .filter(|pid| !protected.contains(pid))
        .filter(|pid| by_pid.get(pid).is_some_and(|p| p.stat.state != 'Z'))
        .collect()
}

/// Frozen (paused) tasks do not die from SIGKILL until thawed: thaw the cgroups of `pids`.
/// Best effort, cgroup v1 freezer and v2 alike.
pub(super) fn thaw(pids: &[i32]) {
    let mut done = HashSet::new();
    for pid in pids {
        let Ok(cg) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        for line in cg.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, ctrl, path) = match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), Some(c)) => (a, b, c),
                _ => continue,
            };
            if path == "/" || !done.insert(format!("{ctrl}:{path}")) {
                continue;
            }
            if ctrl.split(',').any(|c| c == "freezer") {
                let f = format!("/sys/fs/cgroup/freezer{path}/freezer.state");
                let _ = fs::write(f, "THAWED");
            } else if ctrl.is_empty() {
                for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                    let f = format!("{base}{path}/cgroup.freeze");
                    if Path::new(&f).exists() {
                        let _ = fs::write(f, "0");
                    }
                }
            }
        }
    }
}

/// SIGKILLs every process of the daemon in `dir` (or only its containers' processes) until
/// none is left or the deadline passes.
pub(super) async fn kill_processes(
    dir: &Path,
    id: &str,
    containers_only: bool,
    deadline: Duration,
    report: &mut Vec<String>,
) {
    let t0 = Instant::now();
    let mut killed: BTreeSet<i32> = BTreeSet::new();
    loop {
        let (d, i) = (dir.to_path_buf(), id.to_string());
        let scan = blocking("scanning /proc", SCAN_DEADLINE, move || {
            let procs = scan_procs();
            let pids = processes_of(&d, &i, &procs, containers_only);
            let described: Vec<(i32, String)> = pids
                .iter()
                .map(|pid| {
                    let p = procs.iter().find(|p| p.pid == *pid);
                    let cmd = p
                        .and_then(|p| p.cmdline.first().cloned())
                        .unwrap_or_default();
                    (*pid, cmd)
                })
                .collect();
            thaw(&pids);
            described
        })
        .await;
        let targets = match scan {
            Ok(t) => t,
            Err(e) => {
                report.push(format!("could not scan processes: {e:#}"));
                return;
            }
        };
        if targets.is_empty() {
            return;
        }
        if t0.elapsed() >= deadline {
            let left: Vec<String> = targets
                .iter()
                .map(|(pid, cmd)| format!("{pid} ({cmd})"))
                .collect();
            report.push(format!(
                "processes still alive after SIGKILL: {}",
                left.join(", ")
            ));
            return;
        }
        for (pid, cmd) in &targets {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            if killed.insert(*pid) {
                report.push(format!("killed pid {pid} ({cmd})"));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
