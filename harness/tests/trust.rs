//! Verdicts beyond doubt, end to end on real managed daemons: events never bleed between
//! scenarios or iterations; two runs side by side do not disturb each other's verdicts;
//! `shakedown judge` reproduces a run's verdicts from its journal (a cut one too); `kill_process`
//! works with dockerd down; every expectation kind fails when it must; and no step waits for
//! events that cannot come. (Killing and terminating runs, checked against the whole host, are in
//! `host_exact.rs`, which runs alone.)

mod common;

use std::time::Duration;

use common::{
    checks, first_journal, json, run_json, scenario, shakedown, spawn_json, text, verdict,
};

#[test]
fn events_of_other_scenarios_and_iterations_never_count() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let quick = "    command: [shakedown-fixture, trap, --signal, TERM, --exit-code, \"0\"]\n";
    // The first scenario's `c` produces kill, die, stop and destroy...
    let first = scenario(
        dir.path(),
        "first",
        &format!("name: first\ncontainers:\n  c:\n{quick}steps:\n  - action: {{start: {{container: c}}}}\n  - action: {{stop: {{container: c}}}}\n  - action: {{remove: {{container: c}}}}\n"),
    );
    // ...which a fresh `c` of the next scenario never produced, in any of its iterations (each of
    // which also stops and removes its own `c`).
    let fresh = scenario(
        dir.path(),
        "fresh",
        &format!("name: fresh\nrepeat: 3\ncontainers:\n  c:\n{quick}steps:\n  - name: fresh start\n    action: {{start: {{container: c}}}}\n    expect: {{events: [kill, die, stop, destroy]}}\n  - action: {{stop: {{container: c}}}}\n  - action: {{remove: {{container: c}}}}\n"),
    );
    let (out, r) = run_json(state.path(), dir.path(), &[&first, &fresh], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(verdict(&r, "first")["outcome"], "pass");
    let cs: Vec<_> = checks(&r, "fresh")
        .into_iter()
        .filter(|c| c["expectation"] == "events")
        .collect();
    assert_eq!(cs.len(), 3, "{cs:?}");
    for (i, c) in cs.iter().enumerate() {
        assert_eq!(c["iteration"], i, "{c}");
        assert_eq!(c["outcome"], "fail", "iteration {}: {c}", i + 1);
        assert!(
            c["observed"]
                .as_str()
                .unwrap()
                .contains("missing: kill, die, stop, destroy"),
            "{c}"
        );
    }
}

#[test]
fn two_runs_at_once_keep_their_verdicts_apart() {
    // One state directory, as two users of one host would have.
    let state = tempfile::tempdir().unwrap();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let churn = scenario(
        d1.path(),
        "churner",
        "name: churner\ncontainers:\n  c: {command: [sleep, \"600\"]}\nsteps:\n  - name: churn\n    action: {churn: {container: c, cycles: 100, concurrency: 4}}\n",
    );
    // Creates nothing, checks its own daemon while the other run churns containers.
    let quiet = scenario(
        d2.path(),
        "quiet",
        "name: quiet\nsteps:\n  - action: {sleep: {duration: 4s}}\n  - name: nothing of mine leaked\n    action: {check_leaks: {settle: 1s}}\n    expect: {leaks: none}\n",
    );
    // The same on the whole host: it sees the other run's containers (the runs did overlap).
    let host = scenario(
        d2.path(),
        "host-wide",
        "name: host-wide\nsteps:\n  - action: {sleep: {duration: 2s}}\n  - name: the whole host\n    action: {check_leaks: {settle: 0s, scope: host}}\n    expect: {leaks: none}\n",
    );
    let churning = spawn_json(state.path(), &churn, &d1.path().join("r.json"), &[]);
    // Wait until the churn is under way.
    common::wait_for_text(
        &first_journal(state.path()),
        "\"action\":\"churn\"",
        Duration::from_secs(120),
    );
    let (out, r) = run_json(state.path(), d2.path(), &[&quiet, &host], &[]);
    let churned = churning.wait();
    assert_eq!(churned.code(), Some(0), "the churning run failed");
    assert_eq!(verdict(&r, "quiet")["outcome"], "pass", "{}", text(&out));
    assert_eq!(
        verdict(&r, "host-wide")["outcome"],
        "fail",
        "{}",
        text(&out)
    );
    let r1 = json(&d1.path().join("r.json"));
    assert_eq!(r1["summary"]["passed"], 1);
}

#[test]
fn judge_reproduces_the_verdicts_and_a_cut_journal_is_unknown_where_unfinished() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let quick = "    command: [shakedown-fixture, trap, --signal, TERM, --exit-code, \"0\"]\n";
    let good = scenario(
        dir.path(),
        "good",
        &format!("name: good\ncontainers:\n  c:\n{quick}steps:\n  - action: {{start: {{container: c}}}}\n  - action: {{stop: {{container: c}}}}\n    expect: {{exit_code: 0, events: [kill, die, stop]}}\n"),
    );
    let bad = scenario(
        dir.path(),
        "bad",
        &format!("name: bad\nrepeat: 2\ncontainers:\n  c:\n{quick}steps:\n  - action: {{start: {{container: c}}}}\n  - action: {{stop: {{container: c}}}}\n    expect: {{exit_code: 137}}\n"),
    );
    let (out, r) = run_json(state.path(), dir.path(), &[&good, &bad], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let journal = dir.path().join("j.jsonl");
    let again = dir.path().join("again.json");
    let out2 = shakedown(state.path())
        .arg("judge")
        .arg(&journal)
        .arg("--json")
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(out2.status.code(), Some(1), "{}", text(&out2));
    assert_eq!(
        json(&again)["targets"][0]["verdicts"],
        r["targets"][0]["verdicts"]
    );
    assert_eq!(out.stdout, out2.stdout, "the terminal report differs");
    // Cut right after the first scenario finished, mid-line in the next one.
    let text_j = std::fs::read_to_string(&journal).unwrap();
    let end = text_j
        .find("\"event\":\"scenario_finished\",\"scenario\":0")
        .expect("no end of the first scenario");
    let cut_at = end + text_j[end..].find('\n').unwrap() + 1;
    let next_line_half = &text_j[cut_at..cut_at + 40];
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, format!("{}{next_line_half}", &text_j[..cut_at])).unwrap();
    let cut_json = dir.path().join("cut.json");
    let out3 = shakedown(state.path())
        .arg("judge")
        .arg(&cut)
        .arg("--json")
        .arg(&cut_json)
        .output()
        .unwrap();
    assert_eq!(out3.status.code(), Some(1), "{}", text(&out3));
    let c = json(&cut_json);
    assert_eq!(verdict(&c, "good"), verdict(&r, "good"));
    assert_eq!(verdict(&r, "bad")["outcome"], "fail");
    assert_eq!(verdict(&c, "bad")["outcome"], "unknown");
    assert_eq!(c["summary"]["unknown"], 1);
}

#[test]
fn kill_process_works_while_dockerd_is_down() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "down",
        "name: down\nrequires: {live_restore: true, disruptive: true}\ncontainers:\n  victim: {command: [sleep, \"600\"]}\nsteps:\n  - action: {start: {container: victim}}\n  - name: dockerd down\n    action: {daemon_kill: {restart: false}}\n  - name: kill it from the host\n    action: {kill_process: {container: victim}}\n  - name: dockerd back\n    action: {daemon_restart: {}}\n  - name: the engine reports the exit\n    action: {wait_for: {container: victim, state: exited}}\n    expect: {exit_code: 137}\n",
    );
    let (out, r) = run_json(state.path(), dir.path(), &[&f], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let steps = &r["targets"][0]["run"]["scenarios"][0]["iterations"][0]["steps"];
    let killed = &steps[2];
    assert_eq!(killed["outcome"]["status"], "ok", "{killed}");
    assert_eq!(
        killed["facts"]["killed_pid"].as_str().unwrap(),
        steps[0]["observation"]["pid"].as_i64().unwrap().to_string()
    );
    // The daemon was really down while the signal went out: killed after it died, started after.
    let t = |i: usize, k: &str| steps[i][k].as_f64().unwrap();
    assert!(t(1, "finished") <= t(2, "started") && t(2, "finished") <= t(3, "started"));
}

#[test]
fn the_remaining_expectation_kinds_fail_with_expected_and_observed() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "wrong-more",
        "name: wrong-more\ncontainers:\n  server: {command: [shakedown-fixture, serve, --port, \"9000\"]}\n  client: {command: [sleep, \"1000\"]}\nsteps:\n  - action: {start: {container: server}}\n  - action: {start: {container: client}}\n  - action: {stop: {container: client, timeout: 1s}}\n  - name: started again\n    action: {start: {container: client}}\n    expect: {unchanged: [pid]}\n  - name: the api answers\n    action: {probe_api: {}}\n    expect: {api: unresponsive}\n  - name: exec says hello\n    action: {exec: {container: client, command: [echo, hello]}}\n    expect: {output: mars, kernel_log: {present: [oom_kill], container: client}}\n  - name: the server answers\n    action: {probe: {from: client, to: server, port: 9000}}\n    expect: {probe: down}\n",
    );
    let (out, r) = run_json(state.path(), dir.path(), &[&f], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let cs = checks(&r, "wrong-more");
    for (label, expectation, expected, observed) in [
        ("started again", "unchanged", "pid", "pid 0 →"),
        ("the api answers", "api", "unresponsive", "responsive"),
        ("exec says hello", "output", "contains \"mars\"", "hello"),
        (
            "exec says hello",
            "kernel_log",
            "present: oom_kill",
            "missing: oom_kill",
        ),
        ("the server answers", "probe", "down", "up"),
    ] {
        let c = cs
            .iter()
            .find(|c| c["step_label"] == label && c["expectation"] == expectation)
            .unwrap_or_else(|| panic!("no {expectation} check on {label}: {cs:?}"));
        assert_eq!(c["outcome"], "fail", "{c}");
        assert!(c["expected"].as_str().unwrap().contains(expected), "{c}");
        assert!(c["observed"].as_str().unwrap().contains(observed), "{c}");
    }
}

#[test]
fn no_step_waits_for_events_that_cannot_come() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Waits on containers that already exited, and a stop of a restarting one: no `die` can come.
    let f = scenario(
        dir.path(),
        "exited",
        "name: exited\ncontainers:\n  done: {command: [\"true\"]}\n  flapping: {command: [\"false\"], restart: always}\nsteps:\n  - action: {start: {container: done}}\n  - action: {wait: {container: done}}\n  - name: wait again\n    action: {wait: {container: done}}\n    expect: {exit_code: 0}\n  - name: stop an exited one\n    action: {stop: {container: done}}\n  - action: {start: {container: flapping}}\n  - action: {sleep: {duration: 1s}}\n  - name: stop a restarting one\n    action: {stop: {container: flapping}}\n",
    );
    let (out, r) = run_json(state.path(), dir.path(), &[&f], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for st in r["targets"][0]["run"]["scenarios"][0]["iterations"][0]["steps"]
        .as_array()
        .unwrap()
    {
        let settle = st["observed_until"].as_f64().unwrap() - st["finished"].as_f64().unwrap();
        // The old runner waited 3 s here for a `die` that could not come.
        assert!(
            settle < 1.0,
            "step {} waited {settle:.2}s after its action",
            st["label"]
        );
    }
}
