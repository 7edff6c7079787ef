//! `run --jobs N`: scenarios run side by side, each on a managed daemon of its own; an exclusive
//! one runs alone, the ones after it wait for it; reports keep the plan's order whatever order the
//! scenarios finish in; and exclusivity is inferred from checks that read the whole host.

mod common;

use std::path::Path;

use common::{run_json, scenario, text};
use shakedown::scenario::load_str;

fn window(report: &serde_json::Value, name: &str) -> (f64, f64) {
    let s = report["targets"][0]["run"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"));
    let start = s["started"].as_f64().unwrap();
    (start, start + s["elapsed"].as_f64().unwrap())
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

#[test]
fn scenarios_run_side_by_side_and_exclusive_ones_alone_in_plan_order() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = |name: &str, extra: &str, secs: u32| {
        format!("name: {name}\n{extra}containers:\n  c: {{command: [sleep, \"100\"]}}\nsteps:\n  - action: {{start: {{container: c}}}}\n  - action: {{sleep: {{duration: {secs}s}}}}\n")
    };
    // Plan order is the files' order: the slow one first, so the others finish before it.
    let files = [
        scenario(dir.path(), "1-slow", &body("slow", "", 4)),
        scenario(dir.path(), "2-quick", &body("quick", "", 1)),
        scenario(
            dir.path(),
            "3-alone",
            &body("alone", "requires: {exclusive: true}\n", 1),
        ),
        scenario(dir.path(), "4-after", &body("after", "", 1)),
    ];
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (out, r) = run_json(state.path(), dir.path(), &paths, &["--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let names: Vec<&str> = r["targets"][0]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["slow", "quick", "alone", "after"]);
    let (slow, quick, alone, after) = (
        window(&r, "slow"),
        window(&r, "quick"),
        window(&r, "alone"),
        window(&r, "after"),
    );
    assert!(
        overlap(slow, quick),
        "slow {slow:?} and quick {quick:?} did not run side by side"
    );
    for (name, w) in [("slow", slow), ("quick", quick), ("after", after)] {
        assert!(
            !overlap(alone, w),
            "the exclusive scenario {alone:?} overlapped {name} {w:?}"
        );
    }
    assert!(
        after.0 >= alone.1,
        "after {after:?} started before the exclusive one ended {alone:?}"
    );
    // Two daemons were started, one per job.
    let ready = r["targets"][0]["run"]["setup"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s[0] == "target ready")
        .count();
    assert_eq!(ready, 2, "{}", r["targets"][0]["run"]["setup"]);
}

#[test]
fn checks_of_the_whole_host_make_a_scenario_exclusive() {
    let plan = |yaml: &str| shakedown::scenario::PlannedScenario {
        file: "x.yaml".into(),
        scenario: load_str(yaml, Path::new("x.yaml")).unwrap(),
        repeat: 1,
    };
    let quiet = plan("name: q\nsteps:\n  - action: {check_leaks: {}}\n    expect: {leaks: none}\n");
    assert_eq!(quiet.exclusive(), None);
    let host = plan("name: h\nsteps:\n  - action: {check_leaks: {scope: host}}\n");
    assert!(host.exclusive().unwrap().contains("whole host"));
    let kernel = plan("name: k\nsteps:\n  - action: {sleep: {duration: 1s}}\n    expect: {kernel_log: {absent: [hung_task]}}\n");
    assert!(kernel.exclusive().unwrap().contains("kernel-log"));
    let own = plan("name: o\ncontainers:\n  c: {}\nsteps:\n  - action: {sleep: {duration: 1s}}\n    expect: {kernel_log: {absent: [oom_kill], container: c}}\n");
    assert_eq!(own.exclusive(), None);
    let said =
        plan("name: s\nrequires: {exclusive: true}\nsteps:\n  - action: {sleep: {duration: 1s}}\n");
    assert!(said.exclusive().is_some());
}
