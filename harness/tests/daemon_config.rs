//! `run --daemon-config FILE`: the managed daemon starts from the user's daemon.json, without the
//! keys the harness owns (named on stderr). The oracle is the kernel's account of a container's
//! process (`/proc/PID/limits`: the file's `default-ulimits` reached it) and Docker's own refusal
//! of a key it does not know (its message, exit 2, before any scenario).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{scenario, shakedown, text};

/// The soft "Max open files" of the processes whose command line has `marker`.
fn soft_nofile_of(marker: &str) -> Vec<u64> {
    common::processes_mentioning(marker)
        .into_iter()
        .filter_map(|pid| {
            let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse().ok()
        })
        .collect()
}

/// Watches, every 50 ms until told to stop, the soft open-files limit of the processes whose
/// command line has `marker`: every reading.
fn watch_nofile(marker: &str) -> (Arc<AtomicBool>, std::thread::JoinHandle<Vec<u64>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, marker) = (stop.clone(), marker.to_string());
    let watcher = std::thread::spawn(move || {
        let mut seen = vec![];
        while !flag.load(Ordering::Relaxed) {
            seen.extend(soft_nofile_of(&marker));
            std::thread::sleep(Duration::from_millis(50));
        }
        seen
    });
    (stop, watcher)
}

#[test]
fn the_users_daemon_json_reaches_the_containers_and_owned_keys_are_left_out() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("cfgrun{}", std::process::id());
    let config = dir.path().join("daemon.json");
    std::fs::write(
        &config,
        r#"{
  "log-driver": "json-file",
  "log-opts": {"max-size": "1m", "max-file": "2"},
  "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 4096, "Soft": 1234}},
  "data-root": "/var/lib/docker",
  "hosts": ["unix:///var/run/docker.sock"]
}"#,
    )
    .unwrap();
    let file = scenario(
        dir.path(),
        "limits",
        &format!(
            "name: limits\ncontainers:\n  c: {{command: [sh, -c, \"sleep 1000; true\", {marker}]}}\nsteps:\n  - action: {{start: {{container: c}}}}\n  - action: {{sleep: {{duration: 2s}}}}\n"
        ),
    );
    let (stop, watcher) = watch_nofile(&marker);
    let json = dir.path().join("r.json");
    let out = shakedown(state.path())
        .arg("run")
        .arg("--daemon-config")
        .arg(&config)
        .arg("--json")
        .arg(&json)
        .arg(&file)
        .output()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The container's process, as the kernel sees it, has the file's limit.
    assert!(!seen.is_empty(), "the container's process was never seen");
    assert!(seen.iter().all(|s| *s == 1234), "{seen:?}");
    // The keys the harness owns are named, and the host's data-root and socket were not used.
    let said = text(&out);
    for key in ["data-root", "hosts"] {
        assert!(said.contains(&format!("{key} (")), "{key}: {said}");
    }
    // The report says what was tested: the file's settings the daemon ran with, where they came
    // from, and what was left out.
    let r = common::json(&json);
    let f = &r["targets"][0]["run"]["fingerprint"];
    assert_eq!(f["daemon_config"]["log-opts"]["max-size"], "1m", "{f}");
    assert_eq!(
        f["daemon_config"]["default-ulimits"]["nofile"]["Soft"], 1234,
        "{f}"
    );
    assert!(f["daemon_config"].get("data-root").is_none(), "{f}");
    assert!(
        f["daemon_config_source"]
            .as_str()
            .unwrap()
            .starts_with(&config.display().to_string()),
        "{f}"
    );
    let left_out = f["overridden"].to_string();
    assert!(
        left_out.contains("data-root (") && left_out.contains("hosts ("),
        "{f}"
    );
    assert_eq!(f["logging_driver"], "json-file", "{f}");
}

#[test]
fn a_key_the_daemon_rejects_stops_the_run_with_the_daemons_words() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "quick",
        "name: quick\nsteps:\n  - action: {sleep: {duration: 1ms}}\n",
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"no-such-option": 1}"#).unwrap();
    let out = shakedown(state.path())
        .arg("run")
        .arg("--daemon-config")
        .arg(&bad)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("don't match any configuration option: no-such-option"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("PASS"), "{}", text(&out));
    // Not a JSON object, or not JSON: the file and where, before anything starts.
    let state = tempfile::tempdir().unwrap();
    for (content, at) in [("[1]", "bad.json:1:1"), ("{\"a\": ", "bad.json:1:")] {
        std::fs::write(&bad, content).unwrap();
        let out = shakedown(state.path())
            .arg("run")
            .arg("--daemon-config")
            .arg(&bad)
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(at), "{at}: {}", text(&out));
        assert!(!state.path().join("managed").exists());
    }
    // A daemon the harness does not start keeps its own configuration.
    let out = shakedown(state.path())
        .args(["run", "--target", "docker", "--daemon-config"])
        .arg(&bad)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("managed daemon"), "{}", text(&out));
}

#[test]
fn a_qualify_side_starts_from_its_daemon_json() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("cfgqualify{}", std::process::id());
    let config = dir.path().join("daemon.json");
    std::fs::write(
        &config,
        r#"{"default-ulimits": {"nofile": {"Name": "nofile", "Hard": 4096, "Soft": 1234}}}"#,
    )
    .unwrap();
    let file = scenario(
        dir.path(),
        "limits",
        &format!(
            "name: limits\ncontainers:\n  c: {{command: [sh, -c, \"ulimit -n; sleep 1000; true\", {marker}]}}\nsteps:\n  - action: {{start: {{container: c}}}}\n  - name: limit\n    action: {{log: {{container: c, contains: \"1234\", since: start, within: 3s}}}}\n    expect: {{probe: up}}\n"
        ),
    );
    let (stop, watcher) = watch_nofile(&marker);
    let json = dir.path().join("q.json");
    let out = shakedown(state.path())
        .args(["qualify", "--baseline", "system", "--candidate"])
        .arg(format!("system,config={}", config.display()))
        .arg(&file)
        .args(["--repeat", "3", "--out"])
        .arg(dir.path().join("runs"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let seen: std::collections::BTreeSet<u64> = watcher.join().unwrap().into_iter().collect();
    // The kernel saw both: the candidate's containers with the file's limit, the baseline's
    // with the engine's default.
    assert!(seen.contains(&1234) && seen.len() >= 2, "{seen:?}");
    let r = common::json(&json);
    let s = &r["comparison"]["scenarios"][0];
    assert_eq!(s["kind"], "fixed", "{}\n{r:#}", text(&out));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
