//! dockerd out of file descriptors, on a managed daemon: `daemon_limits` lowers the live dockerd's
//! open-files limit and sets it back. The oracle is the kernel's own account, read by this test
//! from `/proc/<dockerd>/limits` while the run goes (the soft limit falls to a few descriptors
//! above what dockerd holds, then returns to exactly what it was), and dockerd's own log, which
//! says "too many open files" (opening the container's log, or accepting a connection). With room
//! to spare the same start is not refused, and the scenario fails: the check is not vacuous.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{check_of, run_json, scenario, text};

/// The soft limit `limit` ("Max open files", "Max processes") of every `comm` process started
/// under `state`, by pid.
fn soft_limits(state: &Path, comm: &str, limit: &str) -> Vec<(u32, u64)> {
    common::processes_mentioning(&state.display().to_string())
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .filter_map(|pid| {
            let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
            let line = limits.lines().find_map(|l| l.strip_prefix(limit))?;
            let soft = line.split_whitespace().next()?.parse().ok()?;
            Some((pid, soft))
        })
        .collect()
}

/// The soft "Max open files" of every dockerd started under `state`, by pid.
fn dockerd_limits(state: &Path) -> Vec<(u32, u64)> {
    soft_limits(state, "dockerd", "Max open files")
}

#[test]
fn dockerd_out_of_descriptors_refuses_a_start_and_recovers_when_the_limit_is_back() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = common::repo().join("scenarios/daemon-fd-exhaustion.yaml");
    // What the kernel says, every 10 ms, while the run goes.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, state) = (stop.clone(), state.path().to_path_buf());
        std::thread::spawn(move || {
            let (mut seen, mut emfile): (Vec<u64>, bool) = (vec![], false);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                for (_, soft) in dockerd_limits(&state) {
                    if seen.last() != Some(&soft) {
                        seen.push(soft);
                    }
                }
                n += 1;
                if !emfile && n % 10 == 0 {
                    emfile = dockerd_logs_say(&state, "too many open files");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (seen, emfile)
        })
    };
    let (out, report) = run_json(state.path(), dir.path(), &[&file], &[]);
    stop.store(true, Ordering::Relaxed);
    let (seen, emfile) = watcher.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The limit fell to a few descriptors, then came back to what it was.
    assert!(seen.len() >= 3, "limits seen: {seen:?}");
    let (first, low, last) = (seen[0], *seen.iter().min().unwrap(), *seen.last().unwrap());
    assert!(low < 200 && low < first, "limits seen: {seen:?}");
    assert_eq!(last, first, "limits seen: {seen:?}");
    assert!(emfile, "no dockerd log said \"too many open files\"");
    let refused = check_of(&report, "daemon-fd-exhaustion", "start refused", "error");
    assert_eq!(refused["outcome"], "pass", "{refused}");
}

/// Whether a managed dockerd's log under `state` says `needle`.
fn dockerd_logs_say(state: &Path, needle: &str) -> bool {
    std::fs::read_dir(state.join("managed"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|d| {
            std::fs::read_to_string(d.path().join("dockerd.log")).is_ok_and(|l| l.contains(needle))
        })
}

#[test]
fn with_descriptors_to_spare_the_start_is_not_refused() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text_of =
        std::fs::read_to_string(common::repo().join("scenarios/daemon-fd-exhaustion.yaml"))
            .unwrap()
            .replace("free_fds: 2", "free_fds: 500");
    let file = scenario(dir.path(), "spare", &text_of);
    let (out, report) = run_json(state.path(), dir.path(), &[&file], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let refused = check_of(&report, "daemon-fd-exhaustion", "start refused", "error");
    assert_eq!(refused["outcome"], "fail", "{refused}");
}

/// containerd's process limit lowered to one: a container it starts then (its shim inherits the
/// limit) runs as a user other than root, and its shell cannot fork — the container's own words,
/// "can't fork: Resource temporarily unavailable" (EAGAIN). Once the limit is back a container
/// started then forks. The kernel's account (`/proc/<containerd>/limits`) is read by this test
/// while the run goes: the soft "Max processes" falls to 1 and returns to what it was.
const NPROC: &str = r#"
name: daemon-nproc
requires: {disruptive: true}
containers:
  worker: {command: [sleep, "1000"], user: "54321"}
  later: {command: [sleep, "1000"], user: "54321"}
steps:
  - name: nproc lowered
    action: {daemon_limits: {process: containerd, nproc: NPROC}}
  - action: {start: {container: worker}}
  - name: fork refused
    action: {exec: {container: worker, command: "sleep 0 & wait; echo forked"}}
    expect: {output: "can't fork: Resource temporarily unavailable"}
  - action: {daemon_limits: {restore: true}}
  - action: {start: {container: later}}
  - name: fork works again
    action: {exec: {container: later, command: "sleep 0 & wait; echo forked"}}
    expect: {exit_code: 0, output: forked}
"#;

#[test]
fn containerd_out_of_processes_refuses_a_fork_and_recovers_when_the_limit_is_back() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "nproc", &NPROC.replace("NPROC", "1"));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, state) = (stop.clone(), state.path().to_path_buf());
        std::thread::spawn(move || {
            let mut seen: Vec<u64> = vec![];
            while !stop.load(Ordering::Relaxed) {
                for (_, soft) in soft_limits(&state, "containerd", "Max processes") {
                    if seen.last() != Some(&soft) {
                        seen.push(soft);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            seen
        })
    };
    let (out, report) = run_json(state.path(), dir.path(), &[&file], &[]);
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(seen.len() >= 3, "limits seen: {seen:?}");
    assert!(seen.contains(&1), "limits seen: {seen:?}");
    assert_eq!(seen.first(), seen.last(), "limits seen: {seen:?}");
    let refused = check_of(&report, "daemon-nproc", "fork refused", "output");
    assert_eq!(refused["outcome"], "pass", "{refused}");
}

#[test]
fn with_processes_to_spare_the_fork_is_not_refused() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "nproc", &NPROC.replace("NPROC", "1000"));
    let (out, report) = run_json(state.path(), dir.path(), &[&file], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let refused = check_of(&report, "daemon-nproc", "fork refused", "output");
    assert_eq!(refused["outcome"], "fail", "{refused}");
}
