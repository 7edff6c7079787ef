//! The scenario format without a daemon: every built-in scenario validates; bad input is an error
//! naming file:line:col with exit code 2; the schema and completions are produced.

mod common;

use std::path::{Path, PathBuf};

use rstest::rstest;
use shakedown::error::Error;
use shakedown::scenario::load_str;

#[rstest]
fn builtin_scenarios_validate(#[files("../scenarios/*.yaml")] path: PathBuf) {
    shakedown::scenario::load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn problem(yaml: &str) -> String {
    match load_str(yaml, Path::new("bad.yaml")) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(Error::Input(p)) => p.join("\n"),
        Err(e) => panic!("wrong error kind: {e}"),
    }
}

const OK_STEP: &str = "  - action: {sleep: {duration: 1s}}\n";

#[rstest]
#[case::malformed(
    "name: x\nsteps:\n  - action: {sleep: {duration: 1s}\n",
    "bad.yaml:3:13:",
    "unclosed"
)]
#[case::unknown_key(
    "name: x\nsteps:\n  - action: {sleep: {duration: 1s}}\n    bogus: 1\n",
    "bad.yaml:4:5:",
    "unknown field `bogus`"
)]
#[case::unknown_top_key("name: x\nsetps: []\n", "bad.yaml:2:1:", "unknown field `setps`")]
#[case::wrong_type(
    "name: x\nrepeat: lots\nsteps:\n  - action: {sleep: {duration: 1s}}\n",
    "bad.yaml:2:9:",
    "u32"
)]
#[case::bad_duration(
    "name: x\nsteps:\n  - action: {sleep: {duration: 5 parsecs}}\n",
    "bad.yaml:3:32:",
    "invalid duration"
)]
#[case::bad_size("name: x\ncontainers: {a: {memory: 64 mebibytes}}\nsteps:\n  - action: {start: {container: a}}\n", "bad.yaml:2:26:", "invalid size")]
#[case::unknown_action(
    "name: x\nsteps:\n  - action: {explode: {container: b}}\n",
    "bad.yaml:3:14:",
    "unknown variant `explode`"
)]
#[case::unknown_container(
    "name: x\ncontainers: {a: {}}\nsteps:\n  - action: {stop: {container: b}}\n",
    "bad.yaml:4:32:",
    "not in `containers`"
)]
#[case::unknown_expectation("name: x\ncontainers: {a: {}}\nsteps:\n  - action: {start: {container: a}}\n    expect: {exit: 0}\n", "bad.yaml:5:14:", "unknown field `exit`")]
fn bad_input_names_line_and_column(#[case] yaml: &str, #[case] at: &str, #[case] what: &str) {
    let p = problem(yaml);
    assert!(p.starts_with(at), "expected {at} in:\n{p}");
    assert!(p.contains(what), "expected {what:?} in:\n{p}");
}

#[rstest]
#[case::no_steps("name: x\nsteps: []\n", "at least one step")]
#[case::bad_name(
    "name: 'has space'\nsteps:\n  - action: {sleep: {duration: 1s}}\n",
    "name"
)]
#[case::inverted_bounds("name: x\ncontainers: {a: {}}\nsteps:\n  - action: {stop: {container: a}}\n    expect: {duration: {min: 5s, max: 1s}}\n", "min (5s) is above max (1s)")]
#[case::bad_signal("name: x\ncontainers: {a: {stop_signal: SIGNOPE}}\nsteps:\n  - action: {start: {container: a}}\n", "unknown stop_signal")]
#[case::bad_event("name: x\ncontainers: {a: {}}\nsteps:\n  - action: {start: {container: a}}\n    expect: {events: [boom]}\n", "unknown docker event")]
#[case::swap_below_memory("name: x\ncontainers: {a: {memory: 64MiB, memory_swap: 32MiB}}\nsteps:\n  - action: {start: {container: a}}\n", "memory_swap")]
#[case::kernel_log_unknown_container("name: x\ncontainers: {a: {}}\nsteps:\n  - action: {start: {container: a}}\n    expect: {kernel_log: {present: [oom_kill], container: b}}\n", "kernel_log refers to container")]
#[case::fractional_stop_timeout(
    "name: x\ncontainers: {a: {}}\nsteps:\n  - action: {stop: {container: a, timeout: 1.5s}}\n",
    "whole seconds"
)]
fn semantic_problems_are_reported(#[case] yaml: &str, #[case] what: &str) {
    let p = problem(yaml);
    assert!(p.starts_with("bad.yaml"), "{p}");
    assert!(p.contains(what), "expected {what:?} in:\n{p}");
}

#[test]
fn a_good_scenario_parses_with_defaults() {
    let s = load_str(
        &format!("name: ok\nsteps:\n{OK_STEP}"),
        Path::new("ok.yaml"),
    )
    .unwrap();
    assert_eq!(s.name, "ok");
    assert_eq!(s.steps.len(), 1);
    assert!(!s.requires.disruptive);
}

#[test]
fn validate_exits_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let f = common::scenario(
        dir.path(),
        "broken",
        "name: broken\nsteps:\n  - action: {sleep: {duration: 1s}}\n    bogus: 1\n",
    );
    let out = common::shakedown(dir.path())
        .arg("validate")
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:4:5:", f.display())),
        "{}",
        common::text(&out)
    );
}

#[test]
fn validate_accepts_the_builtin_suite() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::shakedown(dir.path())
        .arg("validate")
        .arg(common::builtin())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
}

#[test]
fn missing_path_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::shakedown(dir.path())
        .args(["validate", "/nonexistent/scenario.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/scenario.yaml"));
}

#[test]
fn schema_is_draft07_and_describes_steps() {
    let v: serde_json::Value = serde_json::from_str(&shakedown::cli::schema()).unwrap();
    assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
    let text = v.to_string();
    for word in [
        "stop_signal",
        "oom_killed",
        "memory_swap",
        "deadline",
        "repeat",
    ] {
        assert!(text.contains(word), "schema lacks {word}");
    }
}

#[test]
fn completions_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::shakedown(dir.path())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("shakedown"));
}
