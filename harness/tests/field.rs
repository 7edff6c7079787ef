//! Field-report failure modes, end to end on managed daemons: exits counted by cause (`exits`), a
//! writer stalled on its full log pipe while dockerd is down (`file_progress`), a container whose
//! frozen process does not stop (`container_freeze`, `error: {deadline_exceeded: true}`), and
//! dockerd with containerd killed -9 (`daemon_kill: {containerd: true}`). Each expectation is shown
//! failing when it must, and each behaviour is checked against an oracle that is not the
//! harness's verdict: the daemon's own `docker inspect` (through bollard) and /proc.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{check_of, scenario, spawn_json, text};

/// `shakedown run FILE` in the background with its JSON report and artifacts in `dir`.
fn start(state: &Path, dir: &Path, file: &Path) -> (common::Spawned, PathBuf) {
    let (json, art) = (dir.join("r.json"), dir.join("art"));
    let run = spawn_json(state, file, &json, &["--artifacts", art.to_str().unwrap()]);
    (run, json)
}

/// The API socket of the managed daemon a run in `state` started (waits for it).
fn managed_socket(state: &Path) -> PathBuf {
    let t = Instant::now();
    loop {
        if let Some(p) = common::managed_dir(state).map(|d| d.join("docker.sock")) {
            return p;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "no managed daemon");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `docker inspect` of the run's container `name` on the daemon at `socket`, through bollard:
/// the daemon's own account, not the harness's. None while it does not exist or does not answer.
fn inspect(socket: &Path, name: &str) -> Option<bollard::models::ContainerInspectResponse> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let docker = bollard::Docker::connect_with_unix(
            socket.to_str().unwrap(),
            10,
            bollard::API_DEFAULT_VERSION,
        )
        .ok()?;
        let opts = bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(
                [(
                    "label".to_string(),
                    vec![format!("io.shakedown.container={name}")],
                )]
                .into(),
            ),
            ..Default::default()
        };
        let list =
            tokio::time::timeout(Duration::from_secs(10), docker.list_containers(Some(opts)))
                .await
                .ok()?
                .ok()?;
        let id = list.first()?.id.clone()?;
        tokio::time::timeout(
            Duration::from_secs(10),
            docker.inspect_container(
                &id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            ),
        )
        .await
        .ok()?
        .ok()
    })
}

/// Polls `f` every 100 ms until it gives a value or `deadline` passes.
fn poll<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let t = Instant::now();
    while t.elapsed() < deadline {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Pids of processes whose command line contains `marker`.
fn pids_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

/// The state letter of /proc/PID/stat (after the command name).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// The process with `marker` in its command line when the kernel has it frozen: state `D` in a
/// v1 freezer cgroup that says FROZEN; with that cgroup's path.
fn frozen_process(marker: &str) -> Option<(u32, String)> {
    let pid = pids_with(marker).into_iter().next()?;
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = cgroup
        .lines()
        .find_map(|l| l.split_once(":freezer:").map(|(_, p)| p.to_string()))?;
    let freezer =
        std::fs::read_to_string(format!("/sys/fs/cgroup/freezer{path}/freezer.state")).ok()?;
    (freezer.trim() == "FROZEN" && proc_state(pid) == Some('D')).then_some((pid, path))
}

fn wchan(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

/// The kernel's wait channel of PID when it is blocked in the `write` system call on a pipe
/// (`/proc/PID/syscall` names the call): a shell reading its own command substitution
/// (`anon_pipe_read`, or `pipe_wait` on older kernels) is not a stalled writer.
fn blocked_writing_pipe(pid: u32) -> Option<String> {
    #[cfg(target_arch = "x86_64")]
    const WRITE: &str = "1";
    #[cfg(target_arch = "aarch64")]
    const WRITE: &str = "64";
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    let w = wchan(pid);
    (syscall.split_whitespace().next() == Some(WRITE) && w.contains("pipe")).then_some(w)
}

/// A unique marker for this test's processes.
fn marker(what: &str) -> String {
    format!("{what}{}{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        % 100_000
}

#[test]
fn exits_are_counted_by_cause_as_the_daemon_says_and_wrong_counts_fail() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "exits",
        r#"name: exits
containers:
  hog:
    command: [shakedown-fixture, alloc, --rate, 256MiB/s, --total, 512MiB]
    memory: 32MiB
    memory_swap: 32MiB
    restart: on-failure
  crasher:
    command: [sh, -c, "sleep 0.2; exit 3"]
    restart: on-failure
steps:
  - action: {start: {container: hog}}
  - action: {start: {container: crasher}}
  - action: {sleep: {duration: 3s}}
  - name: hog right
    action: {inspect: {container: hog}}
    expect: {exits: {oom_killed: {min: 2}, failed: 0, killed: 0}}
  - name: hog wrong
    action: {inspect: {container: hog}}
    expect: {exits: {oom_killed: 0}}
  - name: crasher wrong
    action: {inspect: {container: crasher}}
    expect: {exits: {failed: 0, oom_killed: {min: 1}}}
  - name: oracle window
    action: {sleep: {duration: 6s}}
"#,
    );
    let (run, json) = start(state.path(), dir.path(), &file);
    let socket = managed_socket(state.path());
    // The daemon's own account while the run still holds the containers: hog exited
    // OOM-killed after restarts, crasher exited 3 after restarts and never OOM-killed.
    // Waiting out its restart delay (`Restarting`), a container shows how its last run ended.
    let exited = |i: &bollard::models::ContainerInspectResponse| {
        let s = i.state.as_ref()?;
        (i.restart_count.unwrap_or(0) >= 2 && s.restarting == Some(true))
            .then(|| (s.oom_killed.unwrap_or(false), s.exit_code.unwrap_or(-1)))
    };
    let mut hog = None;
    let mut crasher = None;
    let mut most_restarts = 0;
    let t = Instant::now();
    // Until the run's daemon goes away: the last count the daemon gave, and one exit of each.
    while t.elapsed() < Duration::from_secs(60) {
        let Some(h) = inspect(&socket, "hog") else {
            if hog.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        most_restarts = most_restarts.max(h.restart_count.unwrap_or(0));
        if hog.is_none() {
            hog = exited(&h).map(|e| (h.clone(), e));
        }
        if crasher.is_none() {
            crasher = inspect(&socket, "crasher").and_then(|c| exited(&c).map(|e| (c, e)));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run.wait_with_output();
    let r = common::json(&json);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (hog, hog_exit) = hog.expect("hog was not seen exited after two restarts");
    assert_eq!(hog_exit, (true, 137), "{:?}", hog.state);
    let (crasher, crasher_exit) = crasher.expect("crasher was not seen exited after two restarts");
    assert_eq!(crasher_exit, (false, 3), "{:?}", crasher.state);
    let right = check_of(&r, "exits", "hog right", "exits");
    assert_eq!(right["outcome"], "pass", "{right}");
    // The count agrees with the daemon's: each OOM kill before the check was followed by a
    // restart, which the daemon counted by the run's end.
    let counted: u32 = right["observed"]
        .as_str()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("oom_killed ")
        .parse()
        .unwrap();
    assert!(
        counted >= 2 && i64::from(counted) <= most_restarts + 1,
        "counted {counted}, RestartCount {most_restarts}"
    );
    for (step, needle) in [
        ("hog wrong", "oom_killed "),
        ("crasher wrong", "oom_killed 0"),
    ] {
        let c = check_of(&r, "exits", step, "exits");
        assert_eq!(c["outcome"], "fail", "{c}");
        assert!(c["observed"].as_str().unwrap().contains(needle), "{c}");
    }
    let c = check_of(&r, "exits", "crasher wrong", "exits");
    assert!(!c["observed"].as_str().unwrap().contains("failed 0"), "{c}");
}

#[test]
fn a_writer_stalls_on_its_full_log_pipe_while_dockerd_is_down_and_a_trickle_does_not() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let flood = marker("flood");
    let yaml = format!(
        r#"name: stall
requires: {{live_restore: true, disruptive: true}}
containers:
  flood:
    command: [sh, -c, "line=$(head -c 1000 /dev/zero | tr '\\0' x); i=0; while true; do i=$((i+1)); echo \"$i $line\"; echo $i > /tmp/count; usleep 5000; done", {flood}]
  trickle:
    command: [sh, -c, "i=0; while true; do i=$((i+1)); echo $i; echo $i > /tmp/count; usleep 200000; done"]
steps:
  - action: {{start: {{container: flood}}}}
  - action: {{start: {{container: trickle}}}}
  - action: {{file_progress: {{container: flood, path: /tmp/count}}}}
    expect: {{probe: up}}
  - action: {{file_progress: {{container: trickle, path: /tmp/count}}}}
    expect: {{probe: up}}
  - action: {{daemon_kill: {{restart: false}}}}
  - action: {{sleep: {{duration: 3s}}}}
  - name: flood stalled
    action: {{file_progress: {{container: flood, path: /tmp/count, within: 3s}}}}
    expect: {{probe: down}}
  - name: trickle stalled
    action: {{file_progress: {{container: trickle, path: /tmp/count, within: 3s}}}}
    expect: {{probe: down}}
  - action: {{daemon_restart: {{}}}}
  - name: flood resumed
    action: {{file_progress: {{container: flood, path: /tmp/count, within: 10s}}}}
    expect: {{probe: up}}
"#
    );
    let file = scenario(dir.path(), "stall", &yaml);
    let (run, json) = start(state.path(), dir.path(), &file);
    // The kernel's account: the flood's shell blocked writing to its stdout pipe.
    let blocked = poll(Duration::from_secs(60), || {
        pids_with(&flood).into_iter().find_map(blocked_writing_pipe)
    });
    let out = run.wait_with_output();
    let r = common::json(&json);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let w = blocked.expect("the flood never blocked on a pipe");
    assert!(w.contains("pipe_write") || w.contains("pipe_wait"), "{w}");
    for (step, outcome) in [
        ("flood stalled", "pass"),
        ("flood resumed", "pass"),
        // A container writing little never fills the pipes: it is not stalled, and the check says so.
        ("trickle stalled", "fail"),
    ] {
        let c = check_of(&r, "stall", step, "probe");
        assert_eq!(c["outcome"], outcome, "{step}: {c}");
    }
}

#[test]
fn a_frozen_container_does_not_stop_within_the_deadline_and_is_cleaned_up() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (own, nested) = (marker("own"), marker("nested"));
    let yaml = format!(
        r#"name: frozen
containers:
  own:
    command: [sh, -c, "sleep 1000; : {own}"]
  stuck:
    command: [sh, -c, "sleep 1000; : {nested}"]
steps:
  - action: {{start: {{container: own}}}}
  - action: {{container_freeze: {{container: own}}}}
  - name: own does not hang
    action: {{stop: {{container: own, timeout: 1s}}}}
    deadline: 20s
    expect: {{error: {{deadline_exceeded: true}}}}
  - action: {{start: {{container: stuck}}}}
  - action: {{container_freeze: {{container: stuck, nested: true}}}}
  - name: stuck hangs
    action: {{stop: {{container: stuck, timeout: 1s}}}}
    deadline: 6s
    expect: {{error: {{deadline_exceeded: true}}}}
  - action: {{sleep: {{duration: 2s}}}}
"#
    );
    let file = scenario(dir.path(), "frozen", &yaml);
    let json = dir.path().join("r.json");
    let t = Instant::now();
    let art = dir.path().join("art");
    let run = spawn_json(
        state.path(),
        &file,
        &json,
        &["--artifacts", art.to_str().unwrap()],
    );
    // The kernel's account while the stop hangs: the process is frozen (state D in the
    // refrigerator) in a freezer cgroup that says FROZEN, and it survived SIGKILL.
    let frozen = poll(Duration::from_secs(60), || frozen_process(&nested));
    let out = run.wait_with_output();
    let elapsed = t.elapsed();
    let r = common::json(&json);
    let (pid, path) = frozen.expect("the stuck container was never seen frozen");
    assert!(path.contains("/shakedown-"), "{path}");
    // The harness never hung: the whole run, forensics and cleanup included, is bounded.
    assert!(elapsed < Duration::from_secs(150), "{elapsed:?}");
    // runc thaws a container's own frozen cgroup before its SIGKILL: that stop completes, and
    // the expected hang is a failure there.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let own_check = check_of(&r, "frozen", "own does not hang", "error");
    assert_eq!(own_check["outcome"], "fail", "{own_check}");
    assert!(own_check["observed"].as_str().unwrap().contains("finished"));
    let stuck = check_of(&r, "frozen", "stuck hangs", "error");
    assert_eq!(stuck["outcome"], "pass", "{stuck}");
    // Cleaned up: the process is gone, and so is the harness's nested cgroup.
    assert!(
        proc_state(pid).is_none() || pids_with(&nested).is_empty(),
        "pid {pid} still runs"
    );
    assert!(
        !Path::new(&format!("/sys/fs/cgroup/freezer{path}")).exists(),
        "{path} left behind"
    );
}

#[test]
fn dockerd_and_containerd_killed_together_keep_every_container() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "stale",
        r#"name: stale
requires: {live_restore: true, disruptive: true}
containers:
  a:
    command: [sleep, "1000"]
  b:
    command: [sh, -c, "exit 7"]
steps:
  - action: {start: {container: a}}
  - action: {start: {container: b}}
  - action: {wait: {container: b}}
  - name: before
    action: {sleep: {duration: 4s}}
  - name: kill both
    action: {daemon_kill: {containerd: true, down_for: 1s}}
    expect:
      measures:
        containers_after: {max: 1}
        containers_before: {min: 2, max: 2}
  - name: after
    action: {sleep: {duration: 6s}}
"#,
    );
    let (run, json) = start(state.path(), dir.path(), &file);
    let socket = managed_socket(state.path());
    let pid_of = |i: &bollard::models::ContainerInspectResponse| {
        i.state.as_ref().and_then(|s| s.pid).filter(|p| *p > 0)
    };
    let before = poll(Duration::from_secs(30), || {
        inspect(&socket, "a").as_ref().and_then(pid_of)
    })
    .expect("a never ran");
    let dockerd_dir = socket.parent().unwrap().to_string_lossy().to_string();
    let containerd_before = poll(Duration::from_secs(10), || {
        pids_with(&dockerd_dir).into_iter().find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "containerd")
        })
    })
    .expect("no containerd");
    // After the kill: a new containerd, the same container process, b still exited with 7.
    let after = poll(Duration::from_secs(60), || {
        let i = inspect(&socket, "b")?;
        (i.state.as_ref()?.exit_code == Some(7)).then_some(())?;
        let c = pids_with(&dockerd_dir).into_iter().find(|p| {
            *p != containerd_before
                && std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "containerd")
        })?;
        Some((inspect(&socket, "a").as_ref().and_then(pid_of)?, c))
    });
    let out = run.wait_with_output();
    let r = common::json(&json);
    let (pid_after, _) = after.expect("the daemon did not account for a and b after the kill");
    assert_eq!(before, pid_after, "a's process changed");
    assert!(
        proc_state(containerd_before).is_none(),
        "the old containerd lives"
    );
    // Two containers before and after, as the daemon listed them: `max: 1` must fail.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let c = check_of(&r, "stale", "kill both", "measures.containers_after");
    assert_eq!(c["outcome"], "fail", "{c}");
    let c = check_of(&r, "stale", "kill both", "measures.containers_before");
    assert_eq!(c["outcome"], "pass", "{c}");
}

#[test]
fn clean_thaws_and_removes_what_a_run_killed_while_frozen_left() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let nested = marker("killedfrozen");
    let yaml = format!(
        r#"name: killedfrozen
containers:
  stuck:
    command: [sh, -c, "sleep 1000; : {nested}"]
steps:
  - action: {{start: {{container: stuck}}}}
  - action: {{container_freeze: {{container: stuck, nested: true}}}}
  - action: {{sleep: {{duration: 120s}}}}
"#
    );
    let file = scenario(dir.path(), "killedfrozen", &yaml);
    let mut child = common::spawn_run(state.path(), &file);
    let frozen = poll(Duration::from_secs(60), || frozen_process(&nested));
    // Killed mid-fault: nothing of the run undoes its changes.
    child.kill().unwrap();
    child.wait().unwrap();
    let (pid, path) = frozen.expect("the container was never seen frozen");
    assert!(path.contains("/shakedown-"), "{path}");
    assert_eq!(proc_state(pid), Some('D'), "still frozen after the kill");
    let out = common::shakedown(state.path())
        .arg("clean")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The journal's handle thawed it and removed the nested cgroup; the managed daemon and its
    // container went with it.
    assert!(
        !Path::new(&format!("/sys/fs/cgroup/freezer{path}")).exists(),
        "{path} left behind: {}",
        text(&out)
    );
    assert!(proc_state(pid).is_none(), "pid {pid} still runs");
}
