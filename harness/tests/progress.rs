//! Logs that speak: with stderr to a file (a CI log, not a terminal) a run prints a line per
//! scenario as it finishes — verdict, time, name — and a heartbeat naming the running step while
//! a long step runs; a scenario that kills and restarts the daemon on purpose puts no warnings
//! into a normal run's log (they are `-v` output). The lines are timed against the journal's
//! `scenario_finished` events, read from the journal file as the run writes it.

mod common;

use std::io::BufRead;
use std::time::{Duration, Instant};

use common::{builtin, scenario, shakedown, text};

/// Polls `file` until `done` says stop; returns each line with when it was first seen.
fn lines_seen(file: &std::path::Path, seen: &mut Vec<(String, Instant)>) {
    let Ok(f) = std::fs::File::open(file) else {
        return;
    };
    let lines: Vec<String> = std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .collect();
    // Only whole lines: the last one may still be being written.
    for l in lines.into_iter().skip(seen.len()) {
        seen.push((l, Instant::now()));
    }
}

/// The built-in log-fifo-stall (it kills dockerd and restarts it while observing its writer),
/// with a second's wait after the writer starts: the built-in's first `file_progress` can read
/// /tmp/count before the writer has written it and fail at once on a loaded machine (a race of
/// the scenario, not of what is tested here).
fn daemon_restart_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(builtin().join("log-fifo-stall.yaml")).unwrap();
    let start = "  - action: {start: {container: writer}}\n";
    assert!(text.contains(start), "log-fifo-stall.yaml changed");
    let text = text.replacen(
        start,
        &format!("{start}  - action: {{sleep: {{duration: 1s}}}}\n"),
        1,
    );
    let p = dir.join("log-fifo-stall.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_run_logged_to_a_file_prints_a_line_per_scenario_as_it_finishes() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Long enough for a heartbeat: the other scenarios' lines end within ~15 s, and the
    // heartbeat comes after 30 s without a line.
    let slow = scenario(
        d,
        "slow",
        "name: slow\nsteps:\n  - name: long wait\n    action: {sleep: {duration: 48s}}\n",
    );
    let wrong = common::failing_scenario(d, "wrong");
    let journal = d.join("run.jsonl");
    let log = d.join("stderr.log");
    let started = Instant::now();
    let mut child = shakedown(state.path())
        .args(["run", "-j", "3", "--forensics", "never", "--journal"])
        .arg(&journal)
        .arg("--json")
        .arg(d.join("report.json"))
        .arg(daemon_restart_scenario(d))
        .args([&wrong, &slow])
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (mut said, mut ends) = (vec![], vec![]);
    let status = loop {
        lines_seen(&log, &mut said);
        lines_seen(&journal, &mut ends);
        if let Some(s) = child.try_wait().unwrap() {
            lines_seen(&log, &mut said);
            lines_seen(&journal, &mut ends);
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the run hangs"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    let log_text: String = said.iter().map(|(l, _)| format!("{l}\n")).collect();
    assert_eq!(status.code(), Some(1), "{}\n{log_text}", text(&out));

    // The journal's scenario ends, in order, with when this test saw them.
    let plan: Vec<String> = ends
        .iter()
        .find_map(|(l, _)| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["event"] == "plan").then(|| {
                v["scenarios"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["scenario"]["name"].as_str().unwrap().to_string())
                    .collect()
            })
        })
        .expect("the journal has a plan");
    let finished: Vec<(String, Instant)> = ends
        .iter()
        .filter_map(|(l, at)| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["event"] == "scenario_finished")
                .then(|| (plan[v["scenario"].as_u64().unwrap() as usize].clone(), *at))
        })
        .collect();
    assert_eq!(finished.len(), 3, "{log_text}");

    // A line per scenario, in the order the journal ended them, each seen within a few seconds
    // of its end (polling both files every 100 ms) — the fast ones long before the slow one ends.
    let expected = [
        ("log-fifo-stall", "PASS"),
        ("wrong", "FAIL"),
        ("slow", "PASS"),
    ];
    let mut lines = vec![];
    for (name, at_end) in &finished {
        let (line, seen) = said
            .iter()
            .find(|(l, _)| l.split_whitespace().last() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("no line for {name}:\n{log_text}"));
        let verdict = expected.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(
            line.starts_with(verdict),
            "{name}: {line}\n{:#}",
            common::json_or_null(&d.join("report.json"))["targets"][0]["verdicts"]
        );
        assert!(line.contains('s') && line.contains('['), "no time: {line}");
        let late = seen.saturating_duration_since(*at_end);
        assert!(
            late < Duration::from_secs(3),
            "{name}: seen {late:?} after its end:\n{log_text}"
        );
        lines.push(*seen);
    }
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{log_text}");
    let slow_end = finished.iter().find(|(n, _)| n == "slow").unwrap().1;
    for (name, at) in finished.iter().filter(|(n, _)| n != "slow") {
        assert!(
            slow_end.duration_since(*at) > Duration::from_secs(10),
            "{name} did not end well before slow: {log_text}"
        );
    }

    // The heartbeat names the running step while `slow` waits, and not more often than every 30 s.
    let beats: Vec<&(String, Instant)> = said
        .iter()
        .filter(|(l, _)| l.contains("running:"))
        .collect();
    assert!(
        beats.iter().any(|(l, _)| l.contains("slow: long wait")),
        "no heartbeat naming the step:\n{log_text}"
    );
    for w in said.windows(2) {
        if w[1].0.contains("running:") {
            assert!(
                w[1].1.duration_since(w[0].1) >= Duration::from_secs(29),
                "heartbeat too soon:\n{log_text}"
            );
        }
    }

    // log-fifo-stall kills and restarts the daemon while observing its writer: no warning of it
    // reaches a normal run's log.
    assert!(
        !log_text.contains("WARN") && !log_text.contains("Connection refused"),
        "{log_text}"
    );
    // It is in the journal instead, with the scenario it happened in.
    let at = plan.iter().position(|n| n == "log-fifo-stall").unwrap();
    let warnings: Vec<serde_json::Value> = ends
        .iter()
        .filter_map(|(l, _)| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "warning")
        .collect();
    assert!(
        warnings.iter().any(|w| w["scenario"] == at
            && w["message"]
                .as_str()
                .unwrap()
                .starts_with("observing writer")),
        "{warnings:?}"
    );
}

/// The warnings the normal run keeps out of its log exist: `-v` shows them.
#[test]
fn the_daemon_restart_warnings_are_verbose_output() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = shakedown(state.path())
        .args(["run", "-v", "--forensics", "never", "--progress", "none"])
        .arg(daemon_restart_scenario(dir.path()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .any(|l| l.contains("WARN") && l.contains("observing writer")),
        "{err}"
    );
    // `--progress none`: no scenario lines either.
    assert!(!err.lines().any(|l| l.starts_with("PASS")), "{err}");
}
