//! Killed and terminated runs leave the host exactly as before: SIGKILL of the harness at random
//! moments of a fault-heavy scenario, each followed by `shakedown clean`, while a second run
//! goes on beside it in the same state directory and passes untouched; and SIGTERM mid-fault,
//! after which the run has undone everything and its exit code says so.
//!
//! The host is checked with an oracle of its own ([`common::host_state`]: /sys, /proc,
//! `iptables-save`, `tc`), never with the harness's detectors. The comparison is host-wide, so
//! this binary's tests run one at a time (cargo runs test binaries one after the other).

mod common;

use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{
    first_journal, json, scenario, shakedown, signal, spawn_json, text, verdict, Spawned,
};
use nix::sys::signal::Signal;

/// Held by each test: nothing else of this binary may change the host meanwhile.
static HOST: Mutex<()> = Mutex::new(());

/// A fault-heavy scenario: every kind of change the harness makes, one after the other, ending
/// with the daemon frozen.
const FAULTS: &str = r#"name: faults
requires: {disruptive: true}
containers:
  server: {command: [shakedown-fixture, serve, --port, "9000"]}
  client: {command: [sleep, "1000"]}
steps:
  - action: {start: {container: server}}
  - action: {start: {container: client}}
  - action: {leak_veth: {count: 2}}
  - action: {pin_netns: {container: client}}
  - action: {partition: {container: client, to: server, duration: 2s}}
  - action: {net_rate: {container: client, rate: 1mbit, duration: 2s}}
  - action: {net_delay: {container: client, delay: 100ms, duration: 2s}}
  - action: {net_loss: {container: client, percent: 50, duration: 2s}}
  - action: {dependency_outage: {container: server, duration: 2s}}
  - action: {daemon_freeze: {}}
  - action: {sleep: {duration: 60s}}
"#;

/// A small xorshift, seeded from the clock and printed, so a failing trial can be replayed.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::env::var("SHAKEDOWN_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("random kill moments: SHAKEDOWN_TEST_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn sigkill_at_random_moments_then_clean_leaves_the_host_as_before() {
    let _host = HOST.lock().unwrap_or_else(|p| p.into_inner());
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A run beside the killed ones, in the same state directory: it must pass untouched.
    let beside = scenario(
        dir.path(),
        "beside",
        "name: beside\ncontainers:\n  server: {command: [shakedown-fixture, serve, --port, \"9000\"]}\n  client: {command: [sleep, \"1000\"]}\nsteps:\n  - action: {start: {container: server}}\n  - action: {start: {container: client}}\n  - name: meanwhile\n    action: {sleep: {duration: 80s}}\n  - name: still reachable\n    action: {probe: {from: client, to: server, port: 9000}}\n    expect: {probe: up}\n  - name: untouched\n    action: {inspect: {container: server}}\n    expect: {state: running, unchanged: [pid, started_at]}\n  - action: {remove: {container: client}}\n  - action: {remove: {container: server}}\n  - name: nothing leaked\n    action: {check_leaks: {settle: 2s}}\n    expect: {leaks: none}\n",
    );
    let beside_dir = tempfile::tempdir().unwrap();
    let b = spawn_json(
        state.path(),
        &beside,
        &beside_dir.path().join("r.json"),
        &[],
    );
    common::wait_for_text(
        &first_journal(state.path()),
        "\"label\":\"meanwhile\"",
        Duration::from_secs(120),
    );
    let before = common::host_state();
    let faults = scenario(dir.path(), "faults", FAULTS);
    let mut rng = Rng::new();
    let started = Instant::now();
    for trial in 0..4 {
        let a = Spawned::new(
            shakedown(state.path())
                .arg("run")
                .arg(&faults)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // Anywhere from the daemon's start to the frozen daemon at the end.
        let after = Duration::from_millis(500 + rng.below(14_000));
        std::thread::sleep(after);
        signal(a.child(), Signal::SIGKILL);
        a.wait();
        let out = shakedown(state.path()).arg("clean").output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "trial {trial} (killed after {after:?}): {}",
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("is alive: left alone"),
            "clean did not see the live run: {}",
            text(&out)
        );
        common::assert_host_as(&before, Duration::from_secs(10));
        eprintln!("trial {trial}: killed after {after:?}, cleaned; host as before");
    }
    assert!(
        started.elapsed() < Duration::from_secs(75),
        "the trials outlasted the run beside them ({:?}); lengthen its sleep",
        started.elapsed()
    );
    let out = b.wait_with_output();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&beside_dir.path().join("r.json"));
    assert_eq!(verdict(&r, "beside")["outcome"], "pass", "{r}");
}

#[test]
fn sigterm_mid_fault_undoes_everything_and_says_so() {
    let _host = HOST.lock().unwrap_or_else(|p| p.into_inner());
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let before = common::host_state();
    let f = scenario(
        dir.path(),
        "held",
        "name: held\nrequires: {disruptive: true}\ncontainers:\n  server: {command: [shakedown-fixture, serve, --port, \"9000\"]}\n  client: {command: [sleep, \"1000\"]}\nsteps:\n  - action: {start: {container: server}}\n  - action: {start: {container: client}}\n  - action: {leak_veth: {}}\n  - name: partitioned for a minute\n    action: {partition: {container: client, to: server, duration: 60s}}\n",
    );
    let journal = dir.path().join("j.jsonl");
    let journal_arg = journal.to_string_lossy().into_owned();
    let child = spawn_json(
        state.path(),
        &f,
        &dir.path().join("r.json"),
        &["--journal", &journal_arg],
    );
    // The rule is journaled before it is made; give iptables a moment after that.
    common::wait_for_text(
        &journal,
        "\"kind\":\"iptables_rule\"",
        Duration::from_secs(120),
    );
    std::thread::sleep(Duration::from_millis(500));
    signal(child.child(), Signal::SIGTERM);
    let t = Instant::now();
    let out = child.wait_with_output();
    assert_eq!(out.status.code(), Some(143), "{}", text(&out));
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "took {:?} to stop",
        t.elapsed()
    );
    common::assert_host_as(&before, Duration::from_secs(10));
    // The journal says every change was undone, and how the run ended.
    let j = shakedown::journal::read(&journal).unwrap();
    assert!(shakedown::journal::outstanding(&j.entries).is_empty());
    let text_j = std::fs::read_to_string(&journal).unwrap();
    assert!(text_j.contains("\"interrupted\":\"SIGTERM\""), "{text_j}");
    assert!(text_j.contains("removed the rule"), "{text_j}");
    let r = json(&dir.path().join("r.json"));
    assert_eq!(verdict(&r, "held")["outcome"], "unknown");
}
