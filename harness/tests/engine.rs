//! End to end on a real, harness-managed dockerd: the built-in suite passes with its timings, every
//! expectation kind fails when it must, bad environments exit 2 without leaving anything, and a run
//! interrupted by Ctrl-C or SIGKILL leaves nothing behind once `clean` has run.
//!
//! These tests run the real `shakedown` binary as root; each has its own state directory.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{checks, json, scenario, shakedown, text};
use rstest::rstest;

/// A container that exits at once on SIGTERM: cheap to start and stop.
const QUICK: &str = r#"
containers:
  quick:
    command: [shakedown-fixture, trap, --signal, TERM, --exit-code, "0"]
"#;

fn assert_no_leftovers(state: &Path) {
    let managed = state.join("managed");
    let dirs: Vec<_> = std::fs::read_dir(&managed)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    assert!(dirs.is_empty(), "managed daemon dirs left: {dirs:?}");
    let mounts = common::mounts_under(state);
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
    let procs = common::processes_mentioning(&state.to_string_lossy());
    assert!(procs.is_empty(), "processes left: {procs:?}");
}

#[test]
fn builtin_suite_passes_with_timings_and_reports() {
    let state = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let (j, x) = (out_dir.path().join("r.json"), out_dir.path().join("r.xml"));
    // As the README runs it: no path, from the repository root.
    let out = shakedown(state.path())
        .current_dir(common::repo())
        .arg("run")
        .arg("--json")
        .arg(&j)
        .arg("--junit")
        .arg(&x)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("pid1-sigterm") && stdout.contains("cgroup-oom"));

    let r = json(&j);
    assert_eq!(r["summary"]["passed"], 2, "{r:#}");
    assert!(!r["run"]["fingerprint"]["engine_version"]
        .as_str()
        .unwrap()
        .is_empty());
    assert!(!r["run"]["fingerprint"]["cgroup_version"]
        .as_str()
        .unwrap()
        .is_empty());
    // Ratios within one run, never absolute thresholds: bash as PID 1 waits out the grace period,
    // tini forwards SIGTERM at once.
    let stat = |step: &str, measure: &str| -> f64 {
        r["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|v| v["stats"].as_array().unwrap())
            .find(|s| s["step"] == step && s["measure"] == measure)
            .unwrap_or_else(|| panic!("no {step}/{measure}"))["p50"]
            .as_f64()
            .unwrap()
    };
    let bash = stat("stop bash as PID 1", "duration");
    let tini = stat("stop bash under tini", "duration");
    assert!(bash > 3.0 * tini, "bash {bash}s vs tini {tini}s");
    // The daemon's own kill→die time agrees with our clock to within a second.
    let daemon = stat("stop bash as PID 1", "daemon_duration");
    assert!(
        (bash - daemon).abs() < 1.0,
        "monotonic {bash}s vs daemon {daemon}s"
    );
    assert!(stat("hog is OOM-killed", "time_to_oom") > 0.0);

    let xml = std::fs::read_to_string(&x).unwrap();
    assert!(xml.contains("<testcase name=\"pid1-sigterm\""), "{xml}");
    assert!(xml.contains("<testcase name=\"cgroup-oom\""), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert_no_leftovers(state.path());
}

#[test]
fn every_expectation_kind_can_fail_with_expected_and_observed() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "wrong",
        &format!(
            "name: wrong\n{QUICK}steps:\n  - action: {{start: {{container: quick}}}}\n    expect: {{state: running}}\n  - name: stop quick\n    action: {{stop: {{container: quick, timeout: 5s}}}}\n    expect:\n      exit_code: 1\n      state: running\n      oom_killed: true\n      duration: {{max: 1ms}}\n      events: [oom]\n      measures: {{time_to_oom: {{max: 1s}}}}\n"
        ),
    );
    let j = dir.path().join("r.json");
    let out = shakedown(state.path())
        .arg("run")
        .arg(&f)
        .arg("--json")
        .arg(&j)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("step 'stop quick': exit_code: expected 1, observed 0"),
        "{stdout}"
    );
    let r = json(&j);
    let cs = checks(&r, "wrong");
    let get = |e: &str| {
        cs.iter()
            .find(|c| c["step_label"] == "stop quick" && c["expectation"] == e)
            .unwrap_or_else(|| panic!("no check {e}"))
    };
    for (e, observed) in [
        ("exit_code", "0"),
        ("state", "exited"),
        ("oom_killed", "false"),
        ("events", "missing: oom"),
        ("measures.time_to_oom", "no measure"),
        ("duration", "s"),
    ] {
        let c = get(e);
        assert_eq!(c["outcome"], "fail", "{e}: {c}");
        assert!(
            c["observed"].as_str().unwrap().contains(observed),
            "{e}: {c}"
        );
    }
    // The first step's expectation held: one verdict mixes pass and fail.
    assert!(cs
        .iter()
        .any(|c| c["step_label"] == "start quick" && c["outcome"] == "pass"));
    assert_no_leftovers(state.path());
}

#[test]
fn repeat_reports_statistics() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "rep",
        &format!("name: rep\n{QUICK}steps:\n  - action: {{start: {{container: quick}}}}\n  - action: {{stop: {{container: quick}}}}\n    expect: {{exit_code: 0}}\n"),
    );
    let j = dir.path().join("r.json");
    let out = shakedown(state.path())
        .args(["run", "--repeat", "3", "--json"])
        .arg(&j)
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&j);
    let stats = r["verdicts"][0]["stats"].as_array().unwrap();
    let d = stats
        .iter()
        .find(|s| s["step"] == "stop quick" && s["measure"] == "duration")
        .unwrap();
    assert_eq!(d["count"], 3);
    assert!(d["min"].as_f64() <= d["p50"].as_f64() && d["p50"].as_f64() <= d["max"].as_f64());
    assert_eq!(
        r["run"]["scenarios"][0]["iterations"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(checks(&r, "rep").len(), 3);
}

#[rstest]
#[case::missing_image("image: no-such-image:42", "no-such-image:42")]
fn bad_environment_exits_2_and_creates_nothing(#[case] image_line: &str, #[case] named: &str) {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "img",
        &format!("name: img\ncontainers:\n  c:\n    {image_line}\nsteps:\n  - action: {{start: {{container: c}}}}\n"),
    );
    let out = shakedown(state.path()).arg("run").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(named) && err.contains("img.yaml"), "{err}");
    assert_no_leftovers(state.path());
}

/// Starts `shakedown run` on a scenario that keeps a container running for a minute, and waits until
/// that container exists on the managed daemon.
#[allow(clippy::zombie_processes)] // the callers wait for it
fn start_long_run(state: &Path, dir: &Path) -> std::process::Child {
    let f = scenario(
        dir,
        "long",
        "name: long\ncontainers:\n  sleeper:\n    command: [sleep, \"600\"]\nsteps:\n  - action: {start: {container: sleeper}}\n  - action: {sleep: {duration: 60s}}\n",
    );
    let mut child = shakedown(state)
        .arg("run")
        .arg(&f)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no container appeared within 120 s");
        }
        let running = std::fs::read_dir(state.join("managed"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|d| {
                let sock = d.path().join("docker.sock");
                sock.exists()
                    && std::process::Command::new("docker")
                        .arg("-H")
                        .arg(format!("unix://{}", sock.display()))
                        .args([
                            "ps",
                            "-q",
                            "--filter",
                            "label=io.shakedown.container=sleeper",
                        ])
                        .output()
                        .map(|o| !o.stdout.is_empty())
                        .unwrap_or(false)
            });
        if running {
            return child;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn ctrl_c_cleans_up_and_exits_130() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_long_run(state.path(), dir.path());
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_no_leftovers(state.path());
}

#[test]
fn clean_sweeps_what_a_sigkilled_run_left() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_long_run(state.path(), dir.path());
    child.kill().unwrap();
    child.wait().unwrap();
    // The premise: the killed run left its daemon behind.
    assert!(!common::processes_mentioning(&state.path().to_string_lossy()).is_empty());
    let out = shakedown(state.path())
        .arg("clean")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_leftovers(state.path());
}
