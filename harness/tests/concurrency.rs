//! Steps that overlap, end to end on managed daemons: a `log` watch in the background sees what a
//! container prints while a `stop` runs (and `log` matches from the container's start or from the
//! step); a probe runs while the daemon is frozen by a background fault; a background step's
//! deadline and expectations are judged under its own name and never block the steps after it;
//! a background step never joined is awaited at the end of the iteration, and Ctrl-C ends it;
//! `shakedown judge` gives the same verdicts from the interleaved journal; bad `join`s are refused
//! with their location. The oracles are the container's own clock, the daemon's event times and
//! dockerd's state in /proc, not the harness's verdicts alone.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_judge_reproduces, json, run_json, scenario, shakedown, text, verdict};

/// The record's steps of scenario `name`'s first iteration.
fn steps<'a>(r: &'a serde_json::Value, name: &str) -> &'a Vec<serde_json::Value> {
    iteration(r, name)["steps"].as_array().unwrap()
}

fn iteration<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let s = r["targets"][0]["run"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no record of {name}"));
    &s["iterations"][0]
}

fn step<'a>(r: &'a serde_json::Value, name: &str, label: &str) -> &'a serde_json::Value {
    steps(r, name)
        .iter()
        .find(|s| s["label"] == label)
        .unwrap_or_else(|| panic!("no step {label} in {name}"))
}

fn secs(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

/// Unix time of a run-clock offset.
fn unix(r: &serde_json::Value, t: &serde_json::Value) -> f64 {
    secs(&r["targets"][0]["run"]["started_unix"]) + secs(t)
}

/// Steps are recorded in scenario order, whatever order they ended in.
fn assert_in_order(r: &serde_json::Value, name: &str) {
    let idx: Vec<u64> = steps(r, name)
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    let sorted: Vec<u64> = (0..idx.len() as u64).collect();
    assert_eq!(idx, sorted, "steps of {name} out of order");
}

#[test]
fn a_background_log_watch_sees_what_the_container_printed_during_the_stop() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The container prints its own clock: "ready" at once, "draining" only once SIGTERM came.
    let file = scenario(
        dir.path(),
        "drain",
        r#"name: drain
containers:
  app:
    command: [bash, -c, "trap 'echo draining $EPOCHREALTIME; sleep 1; echo drained; exit 0' TERM; echo ready $EPOCHREALTIME; while true; do sleep 0.1; done"]
steps:
  - action: {start: {container: app}}
  - action: {sleep: {duration: 1s}}
  - name: ready-since-start
    action: {log: {container: app, contains: ready, since: start, within: 10s}}
    expect: {probe: up}
  - name: ready-since-step
    action: {log: {container: app, contains: ready, within: 1s}}
    expect: {probe: down}
  - name: watch
    background: true
    action: {log: {container: app, contains: draining, within: 30s}}
    expect: {probe: up}
  - action: {sleep: {duration: 500ms}}
  - name: stop
    action: {stop: {container: app, timeout: 10s}}
    expect: {exit_code: 0}
  - action: {join: {step: watch}}
  - name: late
    background: true
    action: {log: {container: app, contains: drained, since: start, within: 10s}}
    expect: {probe: up}
  - action: {join: {step: late}}
"#,
    );
    let (out, r) = run_json(state.path(), dir.path(), &[file.as_path()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(verdict(&r, "drain")["outcome"], "pass", "{r:#}");
    assert_in_order(&r, "drain");
    let it = iteration(&r, "drain");
    // The container's own output and clock, and the daemon's event times.
    let stdout = it["outputs"][0]["stdout"].as_str().unwrap();
    let printed = |word: &str| -> f64 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{word} ")))
            .unwrap_or_else(|| panic!("no {word} line in {stdout:?}"))
            .parse()
            .unwrap()
    };
    let (ready, draining) = (printed("ready"), printed("draining"));
    let event = |action: &str| -> f64 {
        it["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} event"))["time_nano"]
            .as_f64()
            .unwrap()
            / 1e9
    };
    let (kill, die) = (event("kill"), event("die"));
    // "ready" was printed before the step that found it from the container's start began.
    let since_start = step(&r, "drain", "ready-since-start");
    assert!(
        ready < unix(&r, &since_start["started"]),
        "{ready} {since_start}"
    );
    assert_eq!(since_start["facts"]["progress"], "yes");
    assert_eq!(
        step(&r, "drain", "ready-since-step")["facts"]["progress"],
        "hung"
    );
    // The watch started before the stop signal, "draining" came after it, and the watch saw it
    // while the stop was still going (before the container died).
    let watch = step(&r, "drain", "watch");
    assert_eq!(watch["facts"]["progress"], "yes", "{watch}");
    assert!(unix(&r, &watch["started"]) < kill, "{watch} kill {kill}");
    assert!(draining >= kill - 0.05, "draining {draining} kill {kill}");
    let stop = step(&r, "drain", "stop");
    assert!(
        secs(&watch["finished"]) > secs(&stop["started"]),
        "{watch} {stop}"
    );
    assert!(unix(&r, &watch["finished"]) < die, "{watch} die {die}");
    // The line printed after the stop ended counts for a watch from the start.
    assert_eq!(step(&r, "drain", "late")["facts"]["progress"], "yes");
    // The journal marks the background steps.
    let journal = std::fs::read_to_string(dir.path().join("j.jsonl")).unwrap();
    let marked: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("\"event\":\"step_started\"") && l.contains("\"background\":true"))
        .collect();
    assert_eq!(marked.len(), 2, "{marked:?}");
    assert_judge_reproduces(state.path(), dir.path(), &out, &r);
}

#[test]
fn a_probe_runs_while_a_background_fault_freezes_the_daemon() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "freeze",
        r#"name: freeze-probe
requires: {disruptive: true}
steps:
  - name: freeze
    background: true
    action: {daemon_freeze: {duration: 4s, api_deadline: 500ms}}
  - action: {sleep: {duration: 1s}}
  - name: during
    action: {probe_api: {deadline: 1s}}
    expect: {api: unresponsive}
  - action: {join: {step: freeze}}
  - name: after
    action: {probe_api: {}}
    expect: {api: responsive}
"#,
    );
    // The oracle: dockerd's state as /proc shows it, sampled while the run goes.
    let needle = state.path().to_string_lossy().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut stopped = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for pid in common::processes_mentioning(&needle) {
                    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                        continue;
                    };
                    let Some(close) = stat.rfind(')') else {
                        continue;
                    };
                    let comm = &stat[stat.find('(').unwrap() + 1..close];
                    let st = stat[close + 1..].split_whitespace().next().unwrap_or("");
                    if comm == "dockerd" && st == "T" {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_secs_f64();
                        stopped.push(now);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            stopped
        })
    };
    let (out, r) = run_json(state.path(), dir.path(), &[file.as_path()], &[]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let stopped = sampler.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_in_order(&r, "freeze-probe");
    let during = step(&r, "freeze-probe", "during");
    assert_eq!(during["facts"]["api"], "unresponsive", "{during}");
    // dockerd was stopped, by /proc, both before and after the probe ran: the probe ran within
    // the fault, which the background step held.
    let (from, until) = (unix(&r, &during["started"]), unix(&r, &during["finished"]));
    assert!(
        stopped.iter().any(|t| *t <= from) && stopped.iter().any(|t| *t >= until),
        "dockerd stopped at {:?}..{:?}, probe {from}..{until}",
        stopped.first(),
        stopped.last()
    );
    let freeze = step(&r, "freeze-probe", "freeze");
    assert!(
        secs(&freeze["finished"]) > secs(&during["finished"]),
        "{freeze}"
    );
    assert_eq!(
        step(&r, "freeze-probe", "after")["facts"]["api"],
        "responsive"
    );
    assert_judge_reproduces(state.path(), dir.path(), &out, &r);
}

#[test]
fn a_probe_sees_a_background_partition_and_a_cut_off_fault_is_undone_when_its_step_ends() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let containers = r#"containers:
  server:
    command: [shakedown-fixture, serve, --port, "9000"]
  client:
    command: [sleep, "600"]
"#;
    // Real TCP connects from the client's namespace, during the background fault and after it.
    let probe = scenario(
        dir.path(),
        "probe",
        &format!(
            r#"name: bg-partition
{containers}steps:
  - action: {{start: {{container: server}}}}
  - action: {{start: {{container: client}}}}
  - name: before
    action: {{probe: {{from: client, to: server, port: 9000, timeout: 1s}}}}
    expect: {{probe: up}}
  - name: cut
    background: true
    action: {{partition: {{container: client, to: server, port: 9000, direction: egress, duration: 4s}}}}
  - action: {{sleep: {{duration: 1s}}}}
  - name: during
    action: {{probe: {{from: client, to: server, port: 9000, timeout: 1s}}}}
    expect: {{probe: down}}
  - action: {{join: {{step: cut}}}}
  - name: after
    action: {{probe: {{from: client, to: server, port: 9000, timeout: 1s}}}}
    expect: {{probe: up}}
"#
        ),
    );
    // A background fault cut off by its deadline is undone when its own step ends, while the
    // step in the foreground still runs — not at the end of that step or of the iteration.
    let cutoff = scenario(
        dir.path(),
        "cutoff",
        &format!(
            r#"name: bg-cutoff
{containers}steps:
  - action: {{start: {{container: server}}}}
  - action: {{start: {{container: client}}}}
  - name: cut
    background: true
    deadline: 2s
    action: {{partition: {{container: client, to: server, port: 9000, direction: egress, duration: 60s}}}}
  - name: hold
    action: {{sleep: {{duration: 6s}}}}
"#
        ),
    );
    let (out, r) = run_json(state.path(), dir.path(), &[&probe, &cutoff], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(verdict(&r, "bg-partition")["outcome"], "pass", "{r:#}");
    let cut = step(&r, "bg-partition", "cut");
    let during = step(&r, "bg-partition", "during");
    assert!(
        secs(&cut["finished"]) > secs(&during["finished"]),
        "{cut} {during}"
    );
    let v = verdict(&r, "bg-cutoff");
    assert_eq!(v["outcome"], "fail");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("step 'cut' exceeded its deadline of 2s"),
        "{v:#}"
    );
    // The rule's undo, by the journal's clock: after the cut step ended, before `hold` did.
    let journal = std::fs::read_to_string(dir.path().join("j.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let scenario_index = r["targets"][0]["run"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["name"] == "bg-cutoff")
        .unwrap();
    let rule = entries
        .iter()
        .find(|e| {
            e["event"] == "change_made"
                && e["handle"]["kind"] == "iptables_rule"
                && e["scope"]["step"]["scenario"] == scenario_index
        })
        .unwrap_or_else(|| panic!("no rule made: {journal}"));
    let undone = entries
        .iter()
        .find(|e| e["event"] == "change_undone" && e["change"] == rule["change"])
        .expect("the rule was never undone");
    assert_eq!(undone["ok"], true, "{undone}");
    let (cut, hold) = (step(&r, "bg-cutoff", "cut"), step(&r, "bg-cutoff", "hold"));
    let t = secs(&undone["t"]);
    assert!(
        t >= secs(&cut["finished"]) && t < secs(&hold["finished"]),
        "undone at {t}: {cut} {hold}"
    );
    assert_eq!(rule["scope"]["step"]["step"], 2, "{rule}");
}

#[test]
fn background_failures_are_judged_under_their_own_name_and_never_block() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = "containers:\n  app:\n    command: [bash, -c, \"trap 'exit 7' TERM; while true; do sleep 0.1; done\"]\n";
    // A background step that misses its deadline: the steps running meanwhile finish, the later
    // ones are skipped, and its 60s `within` holds nobody.
    let slow = scenario(
        dir.path(),
        "slow",
        &format!(
            r#"name: bg-deadline
{app}steps:
  - action: {{start: {{container: app}}}}
  - name: slow
    background: true
    deadline: 1s
    action: {{log: {{container: app, contains: never-printed, within: 60s}}}}
  - name: long
    action: {{sleep: {{duration: 3s}}}}
  - name: after
    action: {{inspect: {{container: app}}}}
"#
        ),
    );
    // A background step whose expectation fails, never joined, and one still running when the
    // last step ends: both awaited and judged.
    let expect = scenario(
        dir.path(),
        "expect",
        &format!(
            r#"name: bg-expect
{app}steps:
  - action: {{start: {{container: app}}}}
  - name: waiter
    background: true
    action: {{wait: {{container: app}}}}
    expect: {{exit_code: 3}}
  - action: {{sleep: {{duration: 500ms}}}}
  - name: stop
    action: {{stop: {{container: app}}}}
    expect: {{exit_code: 7}}
  - name: tail
    background: true
    action: {{sleep: {{duration: 2s}}}}
"#
        ),
    );
    let t = Instant::now();
    let (out, r) = run_json(state.path(), dir.path(), &[&slow, &expect], &[]);
    let elapsed = t.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        elapsed < Duration::from_secs(55),
        "{elapsed:?}: the 60s watch held the run"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);

    let v = verdict(&r, "bg-deadline");
    assert_eq!(v["outcome"], "fail");
    let errors: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 1, "{v:#}");
    assert!(
        errors[0].contains("step 'slow' exceeded its deadline of 1s"),
        "{errors:?}"
    );
    assert!(
        stdout.contains("step 'slow' exceeded its deadline"),
        "{stdout}"
    );
    assert_in_order(&r, "bg-deadline");
    let slow_rec = step(&r, "bg-deadline", "slow");
    let long = step(&r, "bg-deadline", "long");
    assert_eq!(
        slow_rec["outcome"]["status"], "deadline_exceeded",
        "{slow_rec}"
    );
    assert_eq!(long["outcome"]["status"], "ok", "{long}");
    // It ended (after its 1s) while `long` ran.
    assert!(
        secs(&slow_rec["finished"]) < secs(&long["finished"]),
        "{slow_rec} {long}"
    );
    assert!(secs(&slow_rec["finished"]) - secs(&slow_rec["started"]) < 10.0);
    assert_eq!(
        step(&r, "bg-deadline", "after")["outcome"]["status"],
        "skipped"
    );

    let v = verdict(&r, "bg-expect");
    assert_eq!(v["outcome"], "fail");
    let failed: Vec<String> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] != "pass")
        .map(|c| format!("{} {} {}", c["step_label"], c["expectation"], c["observed"]))
        .collect();
    assert_eq!(failed, vec!["\"waiter\" \"exit_code\" \"7\""], "{v:#}");
    assert!(
        stdout.contains("step 'waiter': exit_code: expected 3, observed 7"),
        "{stdout}"
    );
    let tail = step(&r, "bg-expect", "tail");
    assert_eq!(tail["outcome"]["status"], "ok", "{tail}");
    assert!(
        secs(&tail["finished"]) - secs(&tail["started"]) >= 2.0,
        "{tail}"
    );
    // The container's exit code by the daemon's own event.
    let die = iteration(&r, "bg-expect")["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "die")
        .cloned()
        .unwrap();
    assert_eq!(die["attributes"]["exitCode"], "7", "{die}");
    assert_judge_reproduces(state.path(), dir.path(), &out, &r);
}

#[test]
fn sigterm_ends_a_run_with_a_background_step_running() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "long",
        r#"name: bg-term
containers:
  app:
    command: [sleep, "600"]
steps:
  - action: {start: {container: app}}
  - name: watch
    background: true
    action: {log: {container: app, contains: never, within: 120s}}
  - name: hold
    action: {sleep: {duration: 120s}}
"#,
    );
    let json_path = dir.path().join("r.json");
    let run = common::spawn_json(state.path(), &file, &json_path, &[]);
    let journal = common::first_journal(state.path());
    common::wait_for_text(&journal, "\"label\":\"hold\"", Duration::from_secs(60));
    let t = Instant::now();
    common::signal(run.child(), nix::sys::signal::Signal::SIGTERM);
    let out = run.wait_with_output();
    assert!(t.elapsed() < Duration::from_secs(40), "{:?}", t.elapsed());
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&json_path);
    assert_eq!(
        step(&r, "bg-term", "watch")["outcome"]["status"],
        "interrupted"
    );
    // Nothing of the run is left: its managed daemon is gone.
    let left = common::processes_mentioning(&state.path().to_string_lossy());
    assert!(left.is_empty(), "processes left: {left:?}");
}

#[test]
fn bad_joins_are_refused_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown",
            "  - action: {join: {step: nope}}\n",
            ":3:27:",
        ),
        (
            "later",
            "  - action: {join: {step: bg}}\n  - name: bg\n    background: true\n    action: {sleep: {duration: 1s}}\n",
            ":3:27:",
        ),
        (
            "twice",
            "  - name: bg\n    background: true\n    action: {sleep: {duration: 1s}}\n  - action: {join: {step: bg}}\n  - action: {join: {step: bg}}\n",
            ":7:27:",
        ),
        (
            "foreground",
            "  - name: bg\n    action: {sleep: {duration: 1s}}\n  - action: {join: {step: bg}}\n",
            ":5:27:",
        ),
        (
            "duplicate",
            "  - name: bg\n    action: {sleep: {duration: 1s}}\n  - name: bg\n    action: {sleep: {duration: 1s}}\n",
            ":5:11:",
        ),
        (
            "background-join",
            "  - name: bg\n    background: true\n    action: {sleep: {duration: 1s}}\n  - background: true\n    action: {join: {step: bg}}\n",
            ":7:27:",
        ),
    ];
    for (name, steps, at) in cases {
        let f = scenario(dir.path(), name, &format!("name: {name}\nsteps:\n{steps}"));
        let out = shakedown(dir.path())
            .arg("validate")
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{}{at}", f.display())),
            "{name}: {}",
            text(&out)
        );
    }
}

/// Offline: entries of overlapping steps, interleaved as a live run writes them, fold to the step
/// their `at` names, steps stay in step order, and a journal cut while a background step ran
/// leaves it interrupted and the scenario unknown.
#[test]
fn interleaved_entries_fold_to_their_own_steps() {
    use shakedown::journal::{fold, read, At, Entry, Event, PlannedEntry, RunStart};
    use shakedown::record::StepOutcome;
    use shakedown::verdict::{judge, Outcome};
    let yaml = "name: fold\ncontainers:\n  web: {}\nsteps:\n  - name: watch\n    background: true\n    action: {log: {container: web, contains: x}}\n    expect: {probe: up}\n  - name: nap\n    action: {sleep: {duration: 1s}}\n  - action: {join: {step: watch}}\n";
    let scenario = shakedown::scenario::load_str(yaml, Path::new("fold.yaml")).unwrap();
    let at = |step| At {
        scenario: 0,
        iteration: 0,
        step,
    };
    let started = |step: usize, label: &str, action: &str, background| Event::StepStarted {
        at: at(step),
        label: label.into(),
        action: action.into(),
        deadline: Duration::from_secs(30),
        container: None,
        container_id: None,
        background,
    };
    let finished = |step| Event::StepFinished {
        at: at(step),
        outcome: StepOutcome::Ok,
        forensics: None,
    };
    let fact = |step, name: &str, value: &str| Event::Fact {
        at: at(step),
        name: name.into(),
        value: value.into(),
    };
    let head = vec![
        Event::RunStarted(RunStart {
            format: shakedown::journal::FORMAT,
            run_id: "r1".into(),
            ..Default::default()
        }),
        Event::Plan {
            scenarios: vec![PlannedEntry {
                file: "fold.yaml".into(),
                repeat: 1,
                scenario,
            }],
        },
        Event::ScenarioStarted { scenario: 0 },
        Event::IterationStarted {
            scenario: 0,
            iteration: 0,
            label: "r1.0.0".into(),
        },
        started(0, "watch", "log", true),
        started(1, "nap", "sleep", false),
        // The nap's fact and the watch's fact interleave.
        fact(1, "progress", "hung"),
        fact(0, "progress", "yes"),
    ];
    let tail = vec![
        fact(0, "probe", "up"),
        finished(0),
        Event::StepSettled { at: at(0) },
        finished(1),
        Event::StepSettled { at: at(1) },
        started(2, "join watch", "join", false),
        finished(2),
        Event::StepSettled { at: at(2) },
        Event::IterationFinished {
            scenario: 0,
            iteration: 0,
        },
        Event::ScenarioFinished {
            scenario: 0,
            error: None,
            interrupted: false,
        },
        Event::RunFinished { interrupted: None },
    ];
    let to_text = |events: Vec<Event>| -> String {
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| {
                serde_json::to_string(&Entry {
                    seq: i as u64,
                    t: Duration::from_millis(i as u64 * 10),
                    event,
                })
                .unwrap()
                    + "\n"
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.jsonl");
    std::fs::write(&whole, to_text([head.clone(), tail].concat())).unwrap();
    let f = fold(&read(&whole).unwrap()).unwrap();
    let steps = &f.record.scenarios[0].iterations[0].steps;
    assert_eq!(
        steps.iter().map(|s| s.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(steps[0].facts["progress"], "yes");
    assert_eq!(steps[1].facts["progress"], "hung");
    assert!(steps[0].finished > steps[1].started);
    let v = judge(&f.plans[0], &f.record.scenarios[0]);
    assert_eq!(v.outcome, Outcome::Pass, "{v:?}");
    // Cut while the watch ran: it never finished, so it is interrupted and its check unknown.
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, to_text(head)).unwrap();
    let f = fold(&read(&cut).unwrap()).unwrap();
    let steps = &f.record.scenarios[0].iterations[0].steps;
    assert_eq!(steps[0].outcome, StepOutcome::Interrupted);
    let v = judge(&f.plans[0], &f.record.scenarios[0]);
    assert_eq!(v.outcome, Outcome::Unknown, "{v:?}");
}
