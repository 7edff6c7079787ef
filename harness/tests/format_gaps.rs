//! Format gaps closed, end to end on a managed daemon: any signal the kernel knows — a real-time
//! signal by name (`RTMIN+1`, numbered as glibc and Docker number it) reaches a bash trap in the
//! container through the daemon, and `kill_process` with signal `0` checks from the host that the
//! process is alive without disturbing it, and fails once it is gone; and events that must not
//! happen (`events: {absent: [...]}`), which fail when the daemon emits them; and the exact
//! `restart_count` after the restart policy acted twice; `create`, `restart`, `pause` and
//! `unpause`; and actions that must fail (`expect: {error: {contains, status}}`), judged by the
//! daemon's own refusal, with the steps after them still running.

mod common;

use common::{check_of, run_json, scenario, text, verdict};

#[test]
fn a_realtime_signal_reaches_the_trap_and_signal_zero_only_checks() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "rt",
        r#"name: rt
containers:
  app:
    command: [bash, -c, "trap 'exit 42' RTMIN+1; sleep 1000 & wait"]
steps:
  - action: {start: {container: app}}
  - action: {sleep: {duration: 500ms}}
  - name: alive
    action: {kill_process: {container: app, signal: "0"}}
  - action: {inspect: {container: app}}
    expect: {state: running}
  - name: rtmin+1
    action: {kill: {container: app, signal: RTMIN+1}}
  - action: {wait: {container: app}}
    expect: {exit_code: 42}
  - name: gone
    action: {kill_process: {container: app, signal: "0"}}
"#,
    );
    let (out, r) = run_json(state.path(), dir.path(), &[file.as_path()], &[]);
    // The last step fails: the process it checks has exited; everything before it passed.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v = verdict(&r, "rt");
    let failures: Vec<String> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] != "pass")
        .map(|c| c.to_string())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{v:#}");
    // The process it checks has exited: the step fails (before or at the signal).
    let e = errors[0].as_str().unwrap();
    assert!(
        e.contains("'gone'") && (e.contains("not running") || e.contains("exited")),
        "{v:#}"
    );
}

#[test]
fn an_absent_event_fails_when_the_daemon_emits_it() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "absent",
        r#"name: absent
containers:
  calm:
    command: [sleep, "1000"]
    init: true
  killed:
    command: [sleep, "1000"]
steps:
  - action: {start: {container: calm}}
  - name: calm stop
    action: {stop: {container: calm}}
    expect:
      events: {present: [kill, die, stop], absent: [oom, restart]}
  - action: {start: {container: killed}}
  - name: killed
    action: {kill: {container: killed}}
    expect:
      events: {present: [die], absent: [kill]}
"#,
    );
    let (out, r) = run_json(state.path(), dir.path(), &[file.as_path()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        check_of(&r, "absent", "calm stop", "events")["outcome"],
        "pass"
    );
    // `docker kill` emits `kill` before it answers: here it is what must not happen.
    assert_eq!(
        check_of(&r, "absent", "killed", "events")["outcome"],
        "fail"
    );
}

#[test]
fn restart_count_is_exact() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "restarts",
        r#"name: restarts
containers:
  always:
    command: [sleep, "1000"]
    restart: always
steps:
  - action: {start: {container: always}}
  - action: {kill_process: {container: always}}
  - action: {wait_for: {container: always, state: running, restarted: true}}
    deadline: 30s
  - action: {kill_process: {container: always}}
  - action: {wait_for: {container: always, state: running, restarted: true}}
    deadline: 30s
  - name: twice
    action: {inspect: {container: always}}
    expect: {restart_count: 2}
  - name: not three times
    action: {inspect: {container: always}}
    expect: {restart_count: 3}
"#,
    );
    let (out, r) = run_json(state.path(), dir.path(), &[file.as_path()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let check = |step: &str| check_of(&r, "restarts", step, "restart_count");
    assert_eq!(check("twice")["outcome"], "pass");
    assert_eq!(check("not three times")["outcome"], "fail");
    assert_eq!(check("not three times")["observed"], "2");
}

#[test]
fn create_restart_pause_and_unpause_act_on_the_daemon() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "lifecycle",
        r#"name: lifecycle
containers:
  web:
    command: [sleep, "1000"]
    init: true
  frozen:
    command: [sleep, "1000"]
steps:
  - action: {create: {container: web}}
    expect: {state: created, events: [create]}
  - action: {start: {container: web}}
    expect: {state: running, events: {present: [start], absent: [create]}}
  - action: {restart: {container: web, timeout: 5s}}
    expect: {state: running, changed: [pid], events: [kill, die, start, restart]}
  - action: {pause: {container: web}}
    expect: {state: paused, events: [pause]}
  - action: {unpause: {container: web}}
    expect: {state: running, events: [unpause], unchanged: [pid]}
  - action: {start: {container: frozen}}
  - name: left paused
    action: {pause: {container: frozen}}
    expect: {state: paused}
"#,
    );
    let (out, r) = run_json(state.path(), dir.path(), &[file.as_path()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(verdict(&r, "lifecycle")["outcome"], "pass");
    // The pause left in place was undone (unpaused) at the end of the iteration, from the ledger.
    let undone = r["targets"][0]["run"]["scenarios"][0]["iterations"][0]["undone"].to_string();
    assert!(undone.contains("paused container"), "{undone}");
}

#[test]
fn an_action_that_must_fail_is_judged_by_its_error() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "refused",
        r#"name: refused
containers:
  web:
    command: [sleep, "1000"]
  broken:
    command: [/nonexistent]
steps:
  - action: {create: {container: web}}
  - name: exec in a container that is not running
    action: {exec: {container: web, command: ["true"]}}
    expect: {error: {contains: "is not running", status: 409}}
  - name: start without its executable
    action: {start: {container: broken}}
    expect: {error: {contains: nonexistent}}
  - name: later steps still run
    action: {start: {container: web}}
    expect: {state: running}
  - name: a failure that does not come
    action: {exec: {container: web, command: ["true"]}}
    expect: {error: {}}
"#,
    );
    let (out, r) = run_json(state.path(), dir.path(), &[file.as_path()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v = verdict(&r, "refused");
    // Expected failures are not errors of the scenario.
    assert_eq!(v["errors"].as_array().unwrap().len(), 0, "{v:#}");
    let outcome = |step: &str, e: &str| check_of(&r, "refused", step, e)["outcome"].clone();
    assert_eq!(
        outcome("exec in a container that is not running", "error"),
        "pass"
    );
    assert_eq!(outcome("start without its executable", "error"), "pass");
    assert_eq!(outcome("later steps still run", "state"), "pass");
    let last = check_of(&r, "refused", "a failure that does not come", "error");
    assert_eq!(last["outcome"], "fail");
    assert_eq!(last["observed"], "the action succeeded");
    // The daemon's own status is in the record.
    let steps = &r["targets"][0]["run"]["scenarios"][0]["iterations"][0]["steps"];
    assert_eq!(steps[1]["outcome"]["http_status"], 409, "{steps:#}");
}
