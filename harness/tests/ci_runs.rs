//! The two-line CI steps run here as their CI would run them, against a release served from
//! loopback.
//!
//! The composite GitHub Action (`action.yml`) as a runner runs it: each `run:` step's script
//! with `bash --noprofile --norc -eo pipefail`, its `${{ inputs.* }}` and `${{ runner.temp }}`
//! filled in, `GITHUB_ACTION_PATH` the repository and `GITHUB_ENV` carried between steps (the
//! `uses:` upload step is GitHub's own and is not run here). The release it fetches is served
//! from loopback by a real HTTP server: a checked binary is installed and runs the scenarios,
//! writing the reports the upload step names; a release whose binary does not match its
//! sha256sums, or a pin that does not match, is refused and nothing is installed.
//!
//! The GitLab template's regression job as a runner runs it: its `before_script` and `script`
//! lines in one shell with `-e`, the template's variables (and the job's) in the environment.

mod common;

use common::http::Server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `${{ … }}` expressions of the action filled in: inputs (the defaults under `with`), and
/// `runner.temp`.
fn fill(text: &str, inputs: &BTreeMap<String, String>, temp: &Path) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${{") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find("}}").expect("a closed expression") + at;
        let expr = rest[at + 3..end].trim();
        out.push_str(&match expr.strip_prefix("inputs.") {
            Some(name) => inputs
                .get(name)
                .unwrap_or_else(|| panic!("action.yml uses an undeclared input {name}"))
                .clone(),
            None if expr == "runner.temp" => temp.display().to_string(),
            None => panic!("an expression this test does not know: {expr}"),
        });
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Whether a step's `if:` holds: `inputs.NAME == 'V'` or `!=`, or none.
fn holds(cond: Option<&str>, inputs: &BTreeMap<String, String>) -> bool {
    let Some(cond) = cond else { return true };
    let (name, op, value) = ["==", "!="]
        .iter()
        .find_map(|op| {
            let (l, r) = cond.split_once(op)?;
            Some((l.trim(), *op, r.trim().trim_matches('\'')))
        })
        .unwrap_or_else(|| panic!("a condition this test does not know: {cond}"));
    let v = &inputs[name.strip_prefix("inputs.").expect("inputs.NAME")];
    (v == value) == (op == "==")
}

/// Runs the action's steps with `with` over the defaults, in `work`; returns each run step's name
/// and output, stopping at the first that fails.
fn run_action(with: &[(&str, &str)], work: &Path, state: &Path) -> Vec<(String, Output)> {
    let action: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(common::repo().join("action.yml")).unwrap(),
    )
    .expect("action.yml is YAML");
    assert_eq!(action["runs"]["using"], "composite");
    let mut inputs: BTreeMap<String, String> = action["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["default"].as_str().unwrap_or("").to_string()))
        .collect();
    for (k, v) in with {
        assert!(inputs.contains_key(*k), "action.yml has no input {k}");
        inputs.insert(k.to_string(), v.to_string());
    }
    let temp = work.join("runner-temp");
    std::fs::create_dir_all(&temp).unwrap();
    let github_env = work.join("github-env");
    std::fs::write(&github_env, "").unwrap();
    let mut ran = Vec::new();
    for step in action["runs"]["steps"].as_array().unwrap() {
        let name = step["name"].as_str().unwrap_or("").to_string();
        let Some(script) = step["run"].as_str() else {
            assert!(step["uses"].is_string(), "{step}");
            continue;
        };
        if !holds(step["if"].as_str(), &inputs) {
            continue;
        }
        assert_eq!(step["shell"], "bash", "{name}");
        let mut c = Command::new("bash");
        c.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
            .arg(fill(script, &inputs, &temp))
            .current_dir(work)
            .env("GITHUB_ACTION_PATH", common::repo())
            .env("GITHUB_ENV", &github_env)
            .env("SHAKEDOWN_STATE_DIR", state)
            .env_remove("RUST_LOG");
        for line in std::fs::read_to_string(&github_env).unwrap().lines() {
            let (k, v) = line.split_once('=').unwrap();
            c.env(k, v);
        }
        if let Some(env) = step["env"].as_object() {
            for (k, v) in env {
                c.env(k, fill(v.as_str().unwrap(), &inputs, &temp));
            }
        }
        let out = c.output().unwrap();
        let failed = !out.status.success();
        ran.push((name, out));
        if failed {
            break;
        }
    }
    ran
}

/// A release of this build as `ci/build-deb.sh` lays it out (the binary, its sha256sums) under
/// `dir/vVERSION/`; returns the version and the binary's path there.
fn release(dir: &Path) -> (String, PathBuf) {
    let out = Command::new(env!("CARGO_BIN_EXE_shakedown"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let rel = dir.join(format!("v{version}"));
    std::fs::create_dir_all(&rel).unwrap();
    let name = format!("shakedown-{version}-amd64-linux-static");
    std::fs::copy(env!("CARGO_BIN_EXE_shakedown"), rel.join(&name)).unwrap();
    let out = Command::new("sha256sum")
        .arg(&name)
        .current_dir(&rel)
        .output()
        .unwrap();
    std::fs::write(rel.join("sha256sums"), out.stdout).unwrap();
    (version, rel.join(name))
}

fn text(ran: &[(String, Output)]) -> String {
    ran.iter()
        .map(|(n, o)| format!("## {n}\n{}", common::text(o)))
        .collect()
}

#[test]
fn the_action_installs_a_checked_release_runs_and_writes_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let releases = dir.path().join("releases");
    let (version, _) = release(&releases);
    let server = Server::serve(&releases);
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    common::scenario(
        &work,
        "quick",
        "name: quick\nsteps:\n  - action: {sleep: {duration: 100ms}}\n",
    );
    let state = dir.path().join("state");
    let ran = run_action(
        &[
            ("version", &version),
            ("release-url", &server.url),
            ("scenarios", "quick.yaml"),
        ],
        &work,
        &state,
    );
    let all = text(&ran);
    let names: Vec<&str> = ran.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "shakedown (released, checked by sha256)",
            "engine and fixture dependencies",
            "run"
        ],
        "{all}"
    );
    assert!(ran.iter().all(|(_, o)| o.status.success()), "{all}");
    let installed = work.join("runner-temp/shakedown/shakedown");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_shakedown")).unwrap()
    );
    // The reports the upload step names, from this run.
    let report = common::json(&work.join("shakedown.json"));
    assert_eq!(report["targets"][0]["verdicts"][0]["name"], "quick");
    assert_eq!(
        report["targets"][0]["verdicts"][0]["outcome"], "pass",
        "{report}"
    );
    let junit = std::fs::read_to_string(work.join("shakedown.xml")).unwrap();
    assert!(junit.contains("<testsuites"), "{junit}");
    assert!(work.join("shakedown.html").is_file());

    // The step fails as the run does: a failing scenario fails it.
    common::failing_scenario(&work, "broken");
    let ran = run_action(
        &[
            ("version", &version),
            ("release-url", &server.url),
            ("scenarios", "broken.yaml"),
        ],
        &work,
        &state,
    );
    let (last, out) = ran.last().unwrap();
    assert_eq!(last, "run", "{}", text(&ran));
    assert_eq!(out.status.code(), Some(1), "{}", text(&ran));
}

#[test]
fn a_release_that_does_not_match_its_checksums_or_the_pin_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let releases = dir.path().join("releases");
    let (version, bin) = release(&releases);
    let server = Server::serve(&releases);
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let state = dir.path().join("state");
    let installed = work.join("runner-temp/shakedown/shakedown");

    // A pin that is not the binary's sum.
    let ran = run_action(
        &[
            ("version", &version),
            ("release-url", &server.url),
            ("sha256", &"0".repeat(64)),
        ],
        &work,
        &state,
    );
    assert_eq!(ran.len(), 1, "{}", text(&ran));
    assert!(!ran[0].1.status.success());
    assert!(
        text(&ran).contains("SHAKEDOWN_SHA256 pins"),
        "{}",
        text(&ran)
    );
    assert!(!installed.exists());

    // A binary changed after its sums were written (a truncated download looks the same).
    let mut bytes = std::fs::read(&bin).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&bin, bytes).unwrap();
    let ran = run_action(
        &[("version", &version), ("release-url", &server.url)],
        &work,
        &state,
    );
    assert_eq!(ran.len(), 1, "{}", text(&ran));
    assert!(!ran[0].1.status.success());
    assert!(
        text(&ran).contains("the release's sha256sums say"),
        "{}",
        text(&ran)
    );
    assert!(!installed.exists());

    // A version that is not there.
    let ran = run_action(
        &[("version", "9.9.9"), ("release-url", &server.url)],
        &work,
        &state,
    );
    assert!(!ran[0].1.status.success());
    assert!(text(&ran).contains("cannot fetch"), "{}", text(&ran));
    assert!(!installed.exists());
}

#[test]
fn the_gitlab_regression_job_fetches_the_release_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let releases = dir.path().join("releases");
    let (version, _) = release(&releases);
    let server = Server::serve(&releases);
    // The checkout: the template's scripts where the template expects them.
    let work = dir.path().join("checkout");
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::symlink(common::repo().join("ci"), work.join("ci")).unwrap();
    common::scenario(
        &work,
        "quick",
        "name: quick\nsteps:\n  - action: {sleep: {duration: 100ms}}\n",
    );
    let template: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(common::repo().join("ci/gitlab/shakedown.gitlab-ci.yml")).unwrap(),
    )
    .expect("the GitLab template is YAML");
    let job = &template["shakedown:regression"];
    assert_eq!(job["extends"], ".shakedown");
    let lines: Vec<&str> = template[".shakedown"]["before_script"]
        .as_array()
        .unwrap()
        .iter()
        .chain(job["script"].as_array().unwrap())
        .map(|l| l.as_str().unwrap())
        .collect();
    let bin = dir.path().join("bin/shakedown");
    let mut c = Command::new("bash");
    c.args(["-e", "-c"])
        .arg(lines.join("\n"))
        .current_dir(&work);
    for (k, v) in template["variables"].as_object().unwrap() {
        c.env(k, v.as_str().unwrap());
    }
    let out = c
        .env("SHAKEDOWN_VERSION", &version)
        .env("SHAKEDOWN_RELEASE_URL", &server.url)
        .env("SHAKEDOWN_BIN", &bin)
        .env("SHAKEDOWN_SCENARIOS", "quick.yaml")
        .env("SHAKEDOWN_STATE_DIR", dir.path().join("state"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_shakedown")).unwrap()
    );
    // The files the job's artifacts and JUnit report name.
    for f in template[".shakedown"]["artifacts"]["paths"]
        .as_array()
        .unwrap()
    {
        assert!(work.join(f.as_str().unwrap()).is_file(), "{f}");
    }
    let report = common::json(&work.join("shakedown.json"));
    assert_eq!(report["targets"][0]["verdicts"][0]["name"], "quick");
    assert_eq!(
        report["targets"][0]["verdicts"][0]["outcome"], "pass",
        "{report}"
    );
}
