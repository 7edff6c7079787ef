//! Reports a dashboard can trust: every command's JSON report has one shape, carries `format`,
//! and validates against the schema `shakedown schema report` publishes — checked by an
//! independent validator (python3's `jsonschema`, Draft 7), on real reports: a run on a managed
//! daemon (to a file and with `--json -` to standard output), a run on two targets of which one
//! cannot be reached (exit 3), `judge` of the saved journal, and `qualify` of saved journals.
//! `list` and `validate` speak JSON with `--format json`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{scenario, shakedown, text};

/// Validates each JSON file against the schema with python3's jsonschema (Draft 7, as the schema
/// declares); panics with the validator's message when one does not validate, and when python3
/// or jsonschema is missing (ci/install-test-deps.sh installs it): never a silent skip.
fn validate(schema: &Path, reports: &[&Path]) -> Result<(), String> {
    let script = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
v = jsonschema.Draft7Validator(schema)
bad = 0
for path in sys.argv[2:]:
    for e in v.iter_errors(json.load(open(path))):
        bad += 1
        print(f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
sys.exit(1 if bad else 0)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(schema)
        .args(reports)
        .output()
        .expect("python3 is needed to validate the reports: run ci/install-test-deps.sh");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !said.contains("No module named 'jsonschema'"),
        "python3's jsonschema is missing: run ci/install-test-deps.sh\n{said}"
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(said)
    }
}

fn json(path: &Path) -> serde_json::Value {
    common::json(path)
}

#[test]
fn every_report_validates_against_the_published_schema() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = d.join("report.schema.json");
    let out = shakedown(state.path())
        .args(["schema", "report"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::write(&schema, &out.stdout).unwrap();
    // The scenario schema is still the default.
    let scen = shakedown(state.path()).arg("schema").output().unwrap();
    let scen_too = shakedown(state.path())
        .args(["schema", "scenario"])
        .output()
        .unwrap();
    assert_eq!(scen.stdout, scen_too.stdout);
    assert!(String::from_utf8_lossy(&scen.stdout).contains("\"steps\""));

    let quick = scenario(
        d,
        "quick",
        "name: quick\nsteps:\n  - action: {sleep: {duration: 10ms}}\n    expect: {measures: {duration: {max: 30s}}}\n",
    );
    let wrong = common::failing_scenario(d, "wrong");

    // A run on one target: to a file, and the journal kept.
    let run = d.join("run.json");
    let journal = d.join("run.jsonl");
    let out = shakedown(state.path())
        .args(["run", "--forensics", "never", "--json"])
        .arg(&run)
        .arg("--journal")
        .arg(&journal)
        .args([&quick, &wrong])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = json(&run);
    assert_eq!(r["format"], 1, "{r:#}");
    assert_eq!(r["command"], "run");
    assert_eq!(r["succeeded"], false);
    let targets = r["targets"].as_array().unwrap();
    assert_eq!(
        targets.len(),
        1,
        "a run on one target is a list of one: {r:#}"
    );
    assert_eq!(targets[0]["verdicts"][0]["outcome"], "pass");
    assert_eq!(targets[0]["verdicts"][1]["outcome"], "fail");
    assert_eq!(r["summary"]["passed"], 1);
    assert_eq!(r["summary"]["failed"], 1);

    // `--json -`: standard output is the report, and nothing else.
    let out = shakedown(state.path())
        .args([
            "run",
            "--forensics",
            "never",
            "--progress",
            "none",
            "--json",
            "-",
        ])
        .arg(&quick)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", text(&out)));
    assert_eq!(stdout["targets"][0]["verdicts"][0]["outcome"], "pass");
    let stdout_file = d.join("stdout.json");
    std::fs::write(&stdout_file, &out.stdout).unwrap();

    // `judge` of the saved journal: the same shape, the same verdicts.
    let judged = d.join("judge.json");
    let out = shakedown(state.path())
        .arg("judge")
        .arg(&journal)
        .arg("--json")
        .arg(&judged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let j = json(&judged);
    assert_eq!(j["command"], "judge");
    assert_eq!(j["targets"][0]["verdicts"], r["targets"][0]["verdicts"]);

    // Two targets, one of which cannot be reached: a section each, exit 3.
    let multi = d.join("multi.json");
    let out = shakedown(state.path())
        .args(["run", "--forensics", "never", "--target", "managed"])
        .args(["--target", "ssh://root@127.0.0.1:1"])
        .args(["--ssh-option", "ConnectTimeout=5", "--json"])
        .arg(&multi)
        .arg(&quick)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let m = json(&multi);
    assert_eq!(m["targets"].as_array().unwrap().len(), 2, "{m:#}");
    assert_eq!(m["targets_failed"], 1);
    assert_eq!(m["targets"][0]["verdicts"][0]["outcome"], "pass");
    assert!(m["targets"][1]["error"].is_string(), "{m:#}");

    // `qualify` of saved journals.
    let q = d.join("qualify.json");
    let side = format!("journal={}", journal.display());
    let out = shakedown(state.path())
        .args([
            "qualify",
            "--baseline",
            &side,
            "--candidate",
            &side,
            "--json",
        ])
        .arg(&q)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let qr = json(&q);
    assert_eq!(qr["format"], 1);
    assert_eq!(qr["command"], "qualify");
    assert_eq!(qr["targets"][0]["name"], "baseline");
    assert_eq!(qr["targets"][1]["name"], "candidate");
    assert_eq!(
        qr["comparison"]["scenarios"].as_array().unwrap().len(),
        2,
        "{qr:#}"
    );

    // What `--repeat auto` adds to a scenario: the rounds it took and why it stopped (the runs
    // are in harness/tests/qualify.rs); a reason the schema does not list fails it.
    let mut sequential = qr.clone();
    sequential["comparison"]["scenarios"][0]["stop"] =
        serde_json::json!({"rounds": 3, "reason": "decided"});
    sequential["comparison"]["scenarios"][1]["stop"] =
        serde_json::json!({"rounds": 10, "reason": "max-rounds"});
    let auto = d.join("auto.json");
    std::fs::write(&auto, sequential.to_string()).unwrap();
    sequential["comparison"]["scenarios"][1]["stop"]["reason"] = "tired".into();
    let bad_stop = d.join("bad-stop.json");
    std::fs::write(&bad_stop, sequential.to_string()).unwrap();
    assert!(
        validate(&schema, &[&bad_stop]).is_err(),
        "a bad stop reason validated"
    );

    let all = [run.as_path(), &stdout_file, &judged, &multi, &q, &auto];
    validate(&schema, &all).unwrap_or_else(|e| panic!("{e}"));

    // The schema is not vacuous: a report with a wrong outcome or without `format` fails it.
    let mut broken = r.clone();
    broken["targets"][0]["verdicts"][0]["outcome"] = "maybe".into();
    let bad = d.join("bad.json");
    std::fs::write(&bad, broken.to_string()).unwrap();
    let mut unversioned = r.clone();
    unversioned.as_object_mut().unwrap().remove("format");
    let bad2 = d.join("bad2.json");
    std::fs::write(&bad2, unversioned.to_string()).unwrap();
    for b in [&bad, &bad2] {
        assert!(
            validate(&schema, &[b]).is_err(),
            "{} validated",
            b.display()
        );
    }
}

#[test]
fn list_and_validate_speak_json() {
    let state = tempfile::tempdir().unwrap();
    let builtin = common::builtin();
    let out = shakedown(state.path())
        .args(["list", "--format", "json"])
        .arg(&builtin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let l: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(l["format"], 1);
    let mut listed: Vec<String> = l["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    // The oracle: each file's top-level `name:` line, read here without the harness.
    let mut names: Vec<String> = std::fs::read_dir(&builtin)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .filter_map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("name: ").map(|n| n.trim().to_string()))
        })
        .collect();
    names.sort();
    assert_eq!(listed, names);

    let out = shakedown(state.path())
        .args(["validate", "--format", "json"])
        .arg(builtin.join("pid1-sigterm.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scenarios"][0]["name"], "pid1-sigterm", "{v:#}");
    // Bad input: exit 2, the error on stderr, nothing on stdout.
    let out = shakedown(state.path())
        .args(["validate", "--format", "json", "/nonexistent.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
}
