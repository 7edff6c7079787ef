//! `shakedown qualify` end to end on real managed daemons: the same engine against itself is
//! `same`, each scenario stopped when its answer is known (`--repeat auto`); a candidate whose daemon configuration makes every stop wait out the grace period is a
//! `regression` (exit 1), found again offline from the saved journals; the HTML page opens in
//! headless Chromium with its plots rendered; bad sides are refused before anything runs.
//!
//! The oracle for "slower" is Docker's own behaviour, not the comparison: with the daemon's
//! `--init`, tini forwards SIGTERM and the stop ends at once with 143; without it, bash as PID 1
//! ignores SIGTERM and the stop waits the grace period, then SIGKILL: 137.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_plots_rendered, json, pixels_near, scenario, screenshot, shakedown, text};

/// bash as PID 1 (the fixture's) with a 2 s grace period, stopped three times per run.
const GRACE: &str = r#"name: stop-grace
containers:
  app:
    command: [bash, -c, "sleep 1000; echo done"]
    stop_timeout: 2s
steps:
  - action: {start: {container: app}}
  - name: stop app
    action: {stop: {container: app}}
  - action: {start: {container: app}}
  - name: stop app again
    action: {stop: {container: app}}
"#;

/// Quick steps only: start and stop under tini, an exec.
const QUICK: &str = r#"name: quick
containers:
  web:
    command: [sleep, "1000"]
    init: true
steps:
  - action: {start: {container: web}}
  - name: exec true
    action: {exec: {container: web, command: ["true"]}}
  - name: stop web
    action: {stop: {container: web}}
    expect: {exit_code: 143}
"#;

fn qualify(
    state: &Path,
    out: &Path,
    sides: [&str; 2],
    files: &[PathBuf],
    extra: &[&str],
) -> Output {
    shakedown(state)
        .arg("qualify")
        .args(["--baseline", sides[0], "--candidate", sides[1]])
        .args(files)
        .arg("--out")
        .arg(out.join("runs"))
        .arg("--json")
        .arg(out.join("q.json"))
        .arg("--junit")
        .arg(out.join("q.xml"))
        .arg("--html")
        .arg(out.join("q.html"))
        .args(extra)
        .output()
        .unwrap()
}

fn kind<'a>(report: &'a serde_json::Value, name: &str) -> &'a str {
    report["comparison"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))["kind"]
        .as_str()
        .unwrap()
}

fn journals(dir: &Path, side: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{side}-round"))
        })
        .collect();
    v.sort();
    v
}

/// An exec whose exit code is a coin flip in every run: its verdict differs between rounds unless
/// the coin comes up the same every time.
const COIN: &str = r#"name: coin
containers:
  c:
    command: [sleep, "1000"]
    init: true
steps:
  - action: {start: {container: c}}
  - name: flip
    action: {exec: {container: c, command: [bash, -c, "exit $((RANDOM % 2))"]}}
    expect: {exit_code: 0}
"#;

/// Every journal entry of a file, parsed.
fn entries(journal: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The scenarios a journal's plan names, in its order.
fn planned(journal: &Path) -> Vec<String> {
    let plan = entries(journal)
        .into_iter()
        .find(|e| e["event"] == "plan")
        .unwrap();
    plan["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// `--repeat auto`, the same engine against itself: every scenario runs 3 rounds on
/// each side, then only the undecided ones again, up to `--max-repeat`. The oracle is the journals,
/// read here: each side's round k names in its plan exactly the scenarios the report says took k
/// rounds or more; the coin's exit codes in the journals say whether its verdict could have been
/// decided; the sides never ran at once, in ABBA order.
#[test]
fn the_same_engine_against_itself_stops_each_scenario_when_decided() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = [
        scenario(dir.path(), "quick", QUICK),
        scenario(dir.path(), "grace", GRACE),
        scenario(dir.path(), "coin", COIN),
    ];
    let out = qualify(
        state.path(),
        dir.path(),
        ["system", "system"],
        &files,
        &[
            "--repeat",
            "auto",
            "--max-repeat",
            "4",
            "-j",
            "2",
            "--forensics",
            "never",
        ],
    );
    let r = json(&dir.path().join("q.json"));
    assert_eq!(kind(&r, "quick"), "same", "{r:#}");
    assert_eq!(kind(&r, "stop-grace"), "same", "{r:#}");
    let scenarios = r["comparison"]["scenarios"].as_array().unwrap();
    // Exit 1 only for the coin, when its sides differ.
    let fails = scenarios
        .iter()
        .any(|s| !["same", "better", "fixed"].contains(&s["kind"].as_str().unwrap()));
    assert_eq!(out.status.code(), Some(fails as i32), "{}", text(&out));

    let (base, cand) = (
        journals(dir.path(), "baseline"),
        journals(dir.path(), "candidate"),
    );
    assert_eq!(base.len(), cand.len());
    assert!((3..=4).contains(&base.len()), "{base:?}");
    for s in scenarios {
        let name = s["name"].as_str().unwrap();
        let stop = &s["stop"];
        let rounds = stop["rounds"].as_u64().unwrap_or_else(|| panic!("{s:#}")) as usize;
        for (side, js) in [("baseline", &base), ("candidate", &cand)] {
            // In the first `rounds` journals of the side and in none after.
            let ran: Vec<bool> = js
                .iter()
                .map(|j| planned(j).contains(&name.to_string()))
                .collect();
            assert_eq!(
                ran.iter().filter(|r| **r).count(),
                rounds,
                "{name} {side}: {ran:?}"
            );
            assert!(ran[..rounds].iter().all(|r| *r), "{name} {side}: {ran:?}");
            assert_eq!(s[side]["rounds"], rounds, "{s:#}");
        }
        match stop["reason"].as_str().unwrap() {
            "decided" => assert_eq!(rounds, 3, "{s:#}"),
            "max-rounds" => assert_eq!(rounds, 4, "{s:#}"),
            other => panic!("{name}: stopped for {other}"),
        }
        if name == "coin" {
            // Decided only when the coin came up the same in every round on each side.
            let flips: Vec<String> = base[..rounds]
                .iter()
                .chain(&cand[..rounds])
                .flat_map(|j| {
                    // Its facts, by its index in that journal's plan.
                    let at = planned(j).iter().position(|n| n == "coin").unwrap();
                    entries(j).into_iter().filter(move |e| {
                        e["event"] == "fact"
                            && e["name"] == "exec_exit_code"
                            && e["at"]["scenario"] == at
                    })
                })
                .map(|e| e["value"].to_string())
                .collect();
            assert_eq!(flips.len(), 2 * rounds, "{flips:?}");
            let (b, c) = flips.split_at(rounds);
            let steady = |v: &[String]| v.iter().all(|f| *f == v[0]);
            assert_eq!(
                stop["reason"] == "decided",
                steady(b) && steady(c),
                "{flips:?} {s:#}"
            );
        }
    }
    // The sides never ran at once, in ABBA order: a run's journal was last written before the
    // other side's run of the round started.
    let started = |j: &Path| entries(j)[0]["started_unix"].as_f64().unwrap();
    let finished = |j: &Path| {
        let m = std::fs::metadata(j).unwrap().modified().unwrap();
        m.duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    for (k, (b, c)) in base.iter().zip(&cand).enumerate() {
        let (first, second) = if k % 2 == 0 { (b, c) } else { (c, b) };
        assert!(finished(first) <= started(second) + 0.01, "round {}", k + 1);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("rounds, decided") || stdout.contains("rounds, max rounds"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(dir.path().join("q.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 6, "{junit}");
    let page = std::fs::read_to_string(dir.path().join("q.html")).unwrap();
    assert!(page.contains("3 rounds, decided") || page.contains("4 rounds, max rounds"));
}

#[test]
fn a_candidate_that_waits_out_the_grace_period_is_a_regression() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = [scenario(dir.path(), "grace", GRACE)];
    let out = qualify(
        state.path(),
        dir.path(),
        ["system,daemon.init=true", "system"],
        &files,
        &["--repeat", "3"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = json(&dir.path().join("q.json"));
    assert_eq!(kind(&r, "stop-grace"), "regression", "{r:#}");

    // Docker says why: the baseline's stops ended by SIGTERM through tini, the candidate's by
    // SIGKILL after the grace period.
    let exits = |side: &str| -> Vec<String> {
        journals(dir.path(), side)
            .iter()
            .flat_map(|j| {
                let t = std::fs::read_to_string(j).unwrap();
                t.lines()
                    .filter(|l| l.contains("\"event\":\"observation\""))
                    .filter_map(|l| l.split("\"exit_code\":").nth(1))
                    .map(|s| s.split([',', '}']).next().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (b, c) = (exits("baseline"), exits("candidate"));
    assert_eq!(journals(dir.path(), "baseline").len(), 3);
    assert!(
        b.contains(&"143".to_string()) && !b.contains(&"137".to_string()),
        "{b:?}"
    );
    assert!(
        c.contains(&"137".to_string()) && !c.contains(&"143".to_string()),
        "{c:?}"
    );

    let s = &r["comparison"]["scenarios"][0];
    let stop = s["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["step"] == "stop app" && m["measure"] == "duration")
        .unwrap_or_else(|| panic!("no stop duration: {s:#}"));
    assert_eq!(stop["change"], "worse", "{stop:#}");
    assert!(
        stop["candidate_median"].as_f64().unwrap() >= 1.9,
        "{stop:#}"
    );
    assert!(stop["interval"][0].as_f64().unwrap() > 1.25, "{stop:#}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("regression") && stdout.contains("does not qualify"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(dir.path().join("q.xml")).unwrap();
    assert_eq!(junit.matches("<failure").count(), 1, "{junit}");

    // The page: verdicts and both sides' distributions, every plot rendered in a real browser.
    let page = dir.path().join("q.html");
    let (dom, plots) = assert_plots_rendered(&page);
    let measured = s["measures"].as_array().unwrap().len();
    assert_eq!(plots, measured, "a plot per timing");
    assert!(dom.contains("regression") && dom.contains("stop app"));
    assert!(
        dom.contains("class=\"badge pass\">pass<"),
        "both sides' verdicts shown"
    );
    let (w, h, rgba) = screenshot(&page, &dir.path().join("q.png"), 2400);
    assert_eq!((w, h), (1200, 2400));
    // The median bars are drawn in each side's colour (the legend's swatches are translucent).
    assert!(
        pixels_near(&rgba, [0x1f, 0x77, 0xb4], 8) >= 40,
        "no baseline marks"
    );
    assert!(
        pixels_near(&rgba, [0xff, 0x7f, 0x0e], 8) >= 40,
        "no candidate marks"
    );

    // The same comparison offline, from the saved journals alone.
    let side = |name: &str| {
        journals(dir.path(), name)
            .iter()
            .map(|j| format!("journal={}", j.display()))
            .collect::<Vec<_>>()
            .join(",")
    };
    let again = dir.path().join("again");
    std::fs::create_dir_all(&again).unwrap();
    let (bs, cs) = (side("baseline"), side("candidate"));
    let out2 = qualify(state.path(), &again, [&bs, &cs], &[], &[]);
    assert_eq!(out2.status.code(), Some(1), "{}", text(&out2));
    let r2 = json(&again.join("q.json"));
    assert_eq!(r2["comparison"]["scenarios"], r["comparison"]["scenarios"]);
}

#[test]
fn bad_sides_are_refused_before_anything_runs() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = [scenario(dir.path(), "quick", QUICK)];
    for (sides, says) in [
        (["vm:b12", "system"], "no VM image b12"),
        (
            ["ssh://h,engine-dir=/x", "system"],
            "a host runs its own engine",
        ),
        (["engine=28.5.2,system", "system"], "give one engine"),
        (["system", "bogus"], "\"bogus\" is not"),
        (
            ["system", "journal=/nonexistent.jsonl,daemon.init=true"],
            "do not apply",
        ),
        (
            ["journal=/nonexistent.jsonl", "system"],
            "/nonexistent.jsonl",
        ),
        (
            ["system", "system,runc=/nonexistent/runc"],
            "neither a file nor an engine",
        ),
    ] {
        let out = qualify(state.path(), dir.path(), sides, &files, &[]);
        // A VM image that is not there is a target that cannot be used (3); the rest is bad
        // input (2).
        let code = if sides[0].starts_with("vm:") { 3 } else { 2 };
        assert_eq!(out.status.code(), Some(code), "{sides:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{sides:?}: {}",
            text(&out)
        );
        assert!(
            !state.path().join("runs").exists(),
            "{sides:?} ran something"
        );
        assert!(!dir.path().join("runs").exists(), "{sides:?} ran something");
    }
    let bad = dir.path().join("thresholds.yaml");
    std::fs::write(&bad, "threshold: 25%\nfloor: [oops\n").unwrap();
    let out = qualify(
        state.path(),
        dir.path(),
        ["system", "system"],
        &files,
        &["--thresholds", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("thresholds.yaml:2:"),
        "{}",
        text(&out)
    );
    assert!(!state.path().join("runs").exists());
}

/// A side on a host reached over SSH (a real sshd on loopback) runs there with its daemon
/// settings, and is compared like a side here: the same regression as above, found with the
/// baseline's rounds run through SSH. Docker's exit codes in each side's journal are the oracle.
#[test]
fn a_side_on_an_ssh_host_runs_there_with_its_daemon_settings() {
    let sshd = common::sshd::Sshd::start();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = [scenario(dir.path(), "grace", GRACE)];
    let host = format!("ssh://root@127.0.0.1:{}", sshd.port);
    let out = qualify(
        state.path(),
        dir.path(),
        [&format!("{host},daemon.init=true"), "system"],
        &files,
        &[
            "--repeat",
            "3",
            "-i",
            sshd.key.to_str().unwrap(),
            "--ssh-option",
            &format!("UserKnownHostsFile={}", sshd.known_hosts.display()),
            "--remote-dir",
            dir.path().join("remote").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = json(&dir.path().join("q.json"));
    assert_eq!(kind(&r, "stop-grace"), "regression", "{r:#}");
    let baseline = journals(dir.path(), "baseline");
    assert_eq!(baseline.len(), 3);
    for j in &baseline {
        let t = std::fs::read_to_string(j).unwrap();
        let first = t.lines().next().unwrap();
        assert!(
            first.contains(&format!("\"target\":\"{host} managed")),
            "{first}"
        );
        assert!(t.contains("\"exit_code\":143") && !t.contains("\"exit_code\":137"));
    }
    for j in journals(dir.path(), "candidate") {
        let t = std::fs::read_to_string(j).unwrap();
        assert!(t.contains("\"exit_code\":137") && !t.contains("\"exit_code\":143"));
    }
    // The runs happened there: each left its journal in the remote directory's state.
    let there = std::fs::read_dir(dir.path().join("remote/runs"))
        .unwrap()
        .count();
    assert_eq!(there, 3);
}

/// A side that swaps one component: `runc=FILE` runs the candidate's containers through that runc
/// (a wrapper that logs each call and runs the machine's runc), the baseline's through its own.
/// The wrapper's log is the oracle: calls during the candidate's rounds only.
#[test]
fn a_side_swaps_runc_and_only_that_side_uses_it() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runc-calls.log");
    let real = ["/usr/sbin/runc", "/usr/bin/runc", "/sbin/runc"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("runc: ci/install-deps.sh installs the engine");
    let wrapper = dir.path().join("runc-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {real} \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let files = [scenario(dir.path(), "quick", QUICK)];
    let candidate = format!("system,runc={}", wrapper.display());
    let out = qualify(
        state.path(),
        dir.path(),
        ["system", &candidate],
        &files,
        &["--repeat", "1"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    // runc is called with the managed daemon's runtime root, named by the daemon's id
    // (`…/runtime-runc/shakedown-<id>`): only the candidate's daemon's.
    let candidate_runs = journals(dir.path(), "candidate");
    assert!(!calls.is_empty(), "the swapped runc was never called");
    assert!(
        calls
            .lines()
            .any(|l| l.contains("create") || l.contains("run")),
        "{calls}"
    );
    let roots = |side: &str| -> Vec<String> {
        journals(dir.path(), side)
            .iter()
            .flat_map(|j| entries(j))
            // The id is known once the daemon is made: in the change's later handle.
            .filter(|e| e["handle"]["kind"] == "managed_daemon")
            .filter_map(|e| e["handle"]["id"].as_str().map(String::from))
            .filter(|id| !id.is_empty())
            .map(|id| format!("shakedown-{id}"))
            .collect()
    };
    let (baseline, candidate) = (roots("baseline"), roots("candidate"));
    assert!(!baseline.is_empty() && !candidate.is_empty() && !candidate_runs.is_empty());
    assert!(
        candidate.iter().any(|r| calls.contains(r.as_str())),
        "no call names the candidate's daemon {candidate:?}:\n{calls}"
    );
    for root in &baseline {
        assert!(
            !calls.contains(root.as_str()),
            "the baseline's daemon {root} used the swapped runc:\n{calls}"
        );
    }
}
