//! Scenario parameters and comparisons with earlier steps, end to end on managed daemons:
//!
//! - a `matrix` file yields named variants, each run (in parallel with `--jobs 2`), judged and
//!   reported on its own: bash as PID 1 without `init` ignores SIGTERM and `docker stop` waits for
//!   its timeout (`[broken]` fails its stop-duration bound), with `init` it stops at once (`[fixed]`
//!   passes); Docker's own inspect (through bollard, while the run goes) shows `HostConfig.Init`
//!   false and true, so the substituted bool reached the daemon as a bool; `judge` of the journal
//!   gives the same verdicts;
//! - `later_than`, `differs_from` and `same_as` around a `restart` action agree with the
//!   `StartedAt` and PID that Docker's inspect reports before and after it, and `same_as` fails
//!   when they changed; across a live-restore daemon restart, `same_as` on the PID and `StartedAt`
//!   passes where the two daemons' inspects agree, and `later_than` fails;
//! - `qualify` compares each variant on its own;
//! - the loader's errors for both point at the original file's line and column.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{check_of, run_json, scenario, shakedown, text, verdict};
use shakedown::scenario::{load_str, load_variants};

/// What Docker's inspect said about one scenario container at one moment.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    scenario: String,
    started_at: String,
    pid: i64,
    init: Option<bool>,
    /// `/proc/PID/comm` of the container's process 1 on the host.
    comm: String,
    /// The PID of the dockerd that answered.
    dockerd: u32,
}

/// The PID of the process serving a unix socket.
fn peer_pid(socket: &Path) -> Option<u32> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    Some(getsockopt(&s, PeerCredentials).ok()?.pid() as u32)
}

/// Inspects every scenario container of every managed daemon under `state` every 100 ms through
/// bollard, until `stop` is set: the distinct states seen, in order.
async fn watch(state: PathBuf, stop: Arc<Mutex<bool>>) -> Vec<Seen> {
    use bollard::query_parameters::ListContainersOptions;
    let mut seen: Vec<Seen> = Vec::new();
    while !*stop.lock().unwrap() {
        for sock in sockets(&state) {
            let Some(dockerd) = peer_pid(&sock) else {
                continue;
            };
            let Ok(d) = bollard::Docker::connect_with_unix(
                sock.to_str().unwrap(),
                5,
                bollard::API_DEFAULT_VERSION,
            ) else {
                continue;
            };
            let opts = ListContainersOptions {
                all: true,
                ..Default::default()
            };
            let Ok(Ok(list)) =
                tokio::time::timeout(Duration::from_secs(5), d.list_containers(Some(opts))).await
            else {
                continue;
            };
            for c in list {
                let Some(scenario) = c
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("io.shakedown.scenario"))
                    .cloned()
                else {
                    continue;
                };
                let id = c.id.unwrap_or_default();
                let Ok(Ok(i)) =
                    tokio::time::timeout(Duration::from_secs(5), d.inspect_container(&id, None))
                        .await
                else {
                    continue;
                };
                let st = i.state.unwrap_or_default();
                if st.running != Some(true) {
                    continue;
                }
                let pid = st.pid.unwrap_or_default();
                // A process that is gone (the container is stopping) or not yet the container's
                // command (runc's init before its exec) says nothing.
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim().is_empty() || comm.starts_with("runc") {
                    continue;
                }
                let s = Seen {
                    scenario,
                    started_at: st.started_at.unwrap_or_default(),
                    pid,
                    comm: comm.trim().to_string(),
                    dockerd,
                    init: i.host_config.and_then(|h| h.init),
                };
                if !seen.contains(&s) {
                    seen.push(s);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

/// The API sockets (`docker.sock`) of the managed daemons under `dir`.
fn sockets(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() && !t.is_symlink() && depth < 5 {
                todo.push((p, depth + 1));
            } else if p.file_name().is_some_and(|n| n == "docker.sock") {
                out.push(p);
            }
        }
    }
    out
}

/// Runs `shakedown run FILES EXTRA` while [`watch`] inspects its containers.
async fn run_watched(
    state: &Path,
    dir: &Path,
    files: &[PathBuf],
    extra: &[&str],
) -> (std::process::Output, serde_json::Value, Vec<Seen>) {
    let stop = Arc::new(Mutex::new(false));
    let watcher = tokio::spawn(watch(state.to_path_buf(), stop.clone()));
    let (s, d, f, e) = (
        state.to_path_buf(),
        dir.to_path_buf(),
        files.to_vec(),
        extra.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
    );
    let (out, r) = tokio::task::spawn_blocking(move || {
        let files: Vec<&Path> = f.iter().map(PathBuf::as_path).collect();
        let extra: Vec<&str> = e.iter().map(String::as_str).collect();
        run_json(&s, &d, &files, &extra)
    })
    .await
    .unwrap();
    *stop.lock().unwrap() = true;
    (out, r, watcher.await.unwrap())
}

const PID1: &str = r#"name: pid1
description: bash as PID 1 ignores SIGTERM unless an init runs it.
vars: {init: false, grace: 10s}
matrix:
  broken: {init: false}
  fixed: {init: true}
containers:
  app:
    command: [bash, -c, "sleep 1000; echo never"]
    init: "{{ vars.init }}"
    stop_timeout: "{{ vars.grace }}"
steps:
  - action: {start: {container: app}}
  - action: {sleep: {duration: 1500ms}}
  - name: stop
    action: {stop: {container: app}}
    expect:
      duration: {max: 5s}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matrix_yields_variants_each_run_and_judged_on_its_own() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The stop timeout is a parameter too (a duration), the same in both variants.
    let file = scenario(dir.path(), "pid1", PID1);

    // `list` and `--filter` see the variants by name.
    let out = shakedown(state.path())
        .arg("list")
        .arg(&file)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && listed.contains("pid1[broken]") && listed.contains("pid1[fixed]"),
        "{}",
        text(&out)
    );

    let junit = dir.path().join("j.xml");
    let (out, r, seen) = run_watched(
        state.path(),
        dir.path(),
        std::slice::from_ref(&file),
        &["--jobs", "2", "--junit", junit.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (broken, fixed) = (verdict(&r, "pid1[broken]"), verdict(&r, "pid1[fixed]"));
    assert_eq!(broken["outcome"], "fail", "{broken:#}");
    assert_eq!(fixed["outcome"], "pass", "{fixed:#}");
    let d = check_of(&r, "pid1[broken]", "stop", "duration");
    assert_eq!(d["outcome"], "fail", "{d}");
    // Docker's own view: the variants' containers ran without and with an init, and on the host
    // their process 1 was bash and docker-init.
    let of = |name: &str| -> Vec<(bool, String)> {
        seen.iter()
            .filter(|s| s.scenario == name)
            .map(|s| (s.init == Some(true), s.comm.clone()))
            .collect()
    };
    assert_eq!(of("pid1[broken]"), vec![(false, "bash".into())], "{seen:?}");
    assert_eq!(
        of("pid1[fixed]"),
        vec![(true, "docker-init".into())],
        "{seen:?}"
    );
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(
        x.contains("pid1[broken]") && x.contains("pid1[fixed]"),
        "{x}"
    );

    // The journal alone gives the same verdicts.
    let judged = dir.path().join("judged.json");
    let out = shakedown(state.path())
        .arg("judge")
        .arg(dir.path().join("j.jsonl"))
        .arg("--json")
        .arg(&judged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let again = common::json(&judged);
    for name in ["pid1[broken]", "pid1[fixed]"] {
        assert_eq!(
            verdict(&again, name)["outcome"],
            verdict(&r, name)["outcome"],
            "{name}"
        );
    }

    // `--filter` picks one variant.
    let (out, r) = run_json(
        state.path(),
        dir.path(),
        &[file.as_path()],
        &["--filter", "pid1[fixed]"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        r["targets"][0]["verdicts"].as_array().unwrap().len(),
        1,
        "{r:#}"
    );
}

/// Seconds of the day of an RFC 3339 time (the test's own reading, not the harness's).
fn day_secs(t: &str) -> f64 {
    let clock = &t[11..t.len() - 1];
    let mut parts = clock.split(':');
    let h: f64 = parts.next().unwrap().parse().unwrap();
    let m: f64 = parts.next().unwrap().parse().unwrap();
    let s: f64 = parts.next().unwrap().parse().unwrap();
    h * 3600.0 + m * 60.0 + s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparisons_with_an_earlier_step_agree_with_dockers_inspect() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "cmp",
        r#"name: cmp
containers:
  app: {command: [sh, -c, "trap 'exit 0' TERM; sleep 1000 & wait"]}
steps:
  - action: {start: {container: app}}
  - name: before
    action: {inspect: {container: app}}
  - name: first read
    action: {exec: {container: app, command: [cat, /etc/hostname]}}
  - action: {sleep: {duration: 2s}}
  - action: {restart: {container: app, timeout: 5s}}
  - name: after
    action: {inspect: {container: app}}
    expect:
      later_than: {step: before, fields: [started_at]}
      differs_from: {step: before, fields: [pid]}
  - name: second read
    action: {exec: {container: app, command: [cat, /etc/hostname]}}
    expect:
      same_as: {step: first read, fields: [output]}
  - name: wrongly same
    action: {inspect: {container: app}}
    expect:
      same_as: {step: before, fields: [pid, started_at]}
  - action: {sleep: {duration: 2s}}
"#,
    );
    let (out, r, seen) = run_watched(state.path(), dir.path(), &[file], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Docker saw the container run twice: a later StartedAt and another PID after the restart.
    let mut runs: Vec<&Seen> = seen.iter().filter(|s| s.scenario == "cmp").collect();
    runs.dedup_by_key(|s| (s.pid, s.started_at.clone()));
    assert_eq!(runs.len(), 2, "{seen:?}");
    let (a, b) = (runs[0], runs[1]);
    assert!(
        day_secs(&b.started_at) > day_secs(&a.started_at),
        "{seen:?}"
    );
    assert_ne!(a.pid, b.pid);

    let later = check_of(&r, "cmp", "after", "later_than");
    assert_eq!(later["outcome"], "pass", "{later}");
    let shown = later["observed"].as_str().unwrap();
    assert!(
        shown.contains(&format!("{} → {}", a.started_at, b.started_at)),
        "{shown} vs docker {seen:?}"
    );
    let differs = check_of(&r, "cmp", "after", "differs_from");
    assert_eq!(differs["outcome"], "pass", "{differs}");
    assert!(
        differs["observed"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {} → {}", a.pid, b.pid)),
        "{differs}"
    );
    let output = check_of(&r, "cmp", "second read", "same_as");
    assert_eq!(output["outcome"], "pass", "{output}");
    let wrong = check_of(&r, "cmp", "wrongly same", "same_as");
    assert_eq!(wrong["outcome"], "fail", "{wrong}");
    let shown = wrong["observed"].as_str().unwrap();
    assert!(
        shown.contains(&format!("pid {} → {}", a.pid, b.pid))
            && wrong["expected"].as_str().unwrap().contains("'before'"),
        "{wrong}"
    );
    assert_eq!(verdict(&r, "cmp")["outcome"], "fail");
}

fn err(yaml: &str) -> String {
    match load_variants(yaml, Path::new("p.yaml")) {
        Ok(s) => panic!(
            "loaded: {:?}",
            s.iter().map(|s| &s.name).collect::<Vec<_>>()
        ),
        Err(e) => e.to_string(),
    }
}

#[test]
fn loader_errors_point_at_the_original_file() {
    // An undefined variable: named, at its placeholder.
    let e = err("name: a\ncontainers:\n  app: {init: \"{{ vars.nope }}\"}\nsteps:\n  - action: {start: {container: app}}\n");
    assert!(
        e.contains("p.yaml:3:15: undefined variable \"nope\""),
        "{e}"
    );
    // A variant setting a variable `vars` does not define.
    let e = err("name: a\nvars: {init: false}\nmatrix:\n  x: {init: true, typo: 1}\ncontainers:\n  app: {init: \"{{ vars.init }}\"}\nsteps:\n  - action: {start: {container: app}}\n");
    assert!(
        e.contains("p.yaml:4:19: variant \"x\" sets \"typo\""),
        "{e}"
    );
    // A value of the wrong type, in one variant: at the placeholder, naming the variant.
    let e = err("name: a\nvars: {init: false}\nmatrix:\n  ok: {}\n  bad: {init: 3}\ncontainers:\n  app: {init: \"{{ vars.init }}\"}\nsteps:\n  - action: {start: {container: app}}\n");
    assert!(
        e.contains("p.yaml:7:15: ") && e.contains("(variant \"bad\")"),
        "{e}"
    );
    assert!(!e.contains("variant \"ok\""), "{e}");
    // A value wider than its placeholder: later columns on the line are still the original's.
    let e = err("name: a\nvars: {long: \"a-very-long-command-name-wider-than-its-placeholder\"}\ncontainers:\n  app: {command: [\"{{ vars.long }}\"], frob: 1}\nsteps:\n  - action: {start: {container: app}}\n");
    assert!(e.contains("p.yaml:4:39: unknown field `frob`"), "{e}");
    // A problem of every variant is said once, without naming one.
    let e = err("name: a\nvars: {init: false}\nmatrix:\n  x: {}\n  y: {init: true}\ncontainers:\n  app: {init: \"{{ vars.init }}\", frob: 1}\nsteps:\n  - action: {start: {container: app}}\n");
    assert_eq!(
        e.matches("p.yaml:7:34: unknown field `frob`").count(),
        1,
        "{e}"
    );
    assert!(!e.contains("variant"), "{e}");
    // Other `{{...}}` are the run's (`{{ip:NAME}}`): left as they are.
    let ip = load_variants("name: a\nvars: {n: 1}\ncontainers:\n  app: {command: \"ping -c {{ vars.n }} {{ip:app}}\"}\nsteps:\n  - action: {start: {container: app}}\n", Path::new("p.yaml")).unwrap();
    assert_eq!(
        ip[0].containers["app"].command.as_ref().unwrap().to_args()[2],
        "ping -c 1 {{ip:app}}"
    );
    // An unquoted placeholder is a YAML map: said so.
    let e = err("name: a\nvars: {init: true}\ncontainers:\n  app: {init: {{ vars.init }}}\nsteps:\n  - action: {start: {container: app}}\n");
    assert!(
        e.contains("p.yaml:4:15: a placeholder must be quoted"),
        "{e}"
    );

    // Comparisons: an unknown step, a later one, an ambiguous default name, a fact not observed.
    let steps = |expect: &str| {
        format!(
            "name: c\ncontainers:\n  app: {{command: [sleep, \"9\"]}}\nsteps:\n  - action: {{start: {{container: app}}}}\n  - action: {{inspect: {{container: app}}}}\n  - action: {{inspect: {{container: app}}}}\n    expect: {expect}\n  - name: later\n    action: {{sleep: {{duration: 1s}}}}\n"
        )
    };
    for (expect, says) in [
        (
            "{same_as: {step: nope, fields: [pid]}}",
            "p.yaml:8:30: step 3: `same_as`: no step is named \"nope\"",
        ),
        (
            "{same_as: {step: later, fields: [pid]}}",
            "p.yaml:8:30: step 3: `same_as`: step \"later\" (step 4) does not run before",
        ),
        (
            "{differs_from: {step: inspect app, fields: [pid]}}",
            "p.yaml:8:35: step 3: `differs_from`: 2 steps are labelled \"inspect app\"",
        ),
        (
            "{same_as: {step: start app, fields: [output]}}",
            "step \"start app\" does not observe `output`: it is not an `exec`",
        ),
        (
            "{later_than: {step: start app, fields: [pid]}}",
            "`later_than` compares times",
        ),
    ] {
        let e = err(&steps(expect));
        assert!(e.contains(says), "{expect}: {e}");
    }
    // A default name that is unique is enough.
    let ok = steps("{same_as: {step: start app, fields: [pid, started_at]}}");
    load_str(&ok, Path::new("p.yaml")).unwrap();

    // Without a matrix, a file is exactly as before: one scenario, its own name.
    let one = load_variants(
        "name: plain\nsteps:\n  - action: {sleep: {duration: 1s}}\n",
        Path::new("p.yaml"),
    )
    .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].name, "plain");
    // Types are kept: a bool, an integer, a duration, a text inside a longer text.
    let all = load_variants(
        "name: t\nvars: {init: false, code: 3, grace: 2s, word: hi}\nmatrix:\n  a: {}\n  b: {init: true, code: 4, grace: 10s, word: ho}\ncontainers:\n  app: {command: \"echo {{ vars.word }}; exit {{vars.code}}\", init: \"{{ vars.init }}\", stop_timeout: \"{{ vars.grace }}\"}\nsteps:\n  - action: {start: {container: app}}\n  - action: {wait: {container: app}}\n    expect: {exit_code: \"{{ vars.code }}\"}\n",
        Path::new("p.yaml"),
    )
    .unwrap();
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["t[a]", "t[b]"]);
    let app = |i: usize| &all[i].containers["app"];
    assert!(!app(0).init && app(1).init);
    assert_eq!(
        app(1).stop_timeout.map(|d| d.get()),
        Some(Duration::from_secs(10))
    );
    let cmd = |i: usize| app(i).command.as_ref().unwrap().to_args();
    assert_eq!(cmd(1)[2], "echo ho; exit 4");
    let vars: BTreeMap<String, String> = all[1]
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    assert_eq!(vars["code"], "4");
    assert!(all[1].matrix.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_as_across_a_live_restore_daemon_restart_agrees_with_dockers_inspect() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "lr",
        r#"name: lr
requires: {live_restore: true, disruptive: true}
containers:
  app: {command: [sh, -c, "trap 'exit 0' TERM; sleep 1000 & wait"]}
steps:
  - action: {start: {container: app}}
  - name: before the daemon restart
    action: {inspect: {container: app}}
  - action: {sleep: {duration: 2s}}
  - action: {daemon_restart: {}}
  - name: after
    action: {inspect: {container: app}}
    expect:
      same_as: {step: before the daemon restart, fields: [pid, started_at]}
      later_than: {step: before the daemon restart, fields: [started_at]}
  - action: {sleep: {duration: 2s}}
"#,
    );
    let (out, r, seen) = run_watched(state.path(), dir.path(), &[file], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Two daemons answered (before and after the restart), and both reported the same process.
    let runs: Vec<&Seen> = seen.iter().filter(|s| s.scenario == "lr").collect();
    let daemons: std::collections::BTreeSet<u32> = runs.iter().map(|s| s.dockerd).collect();
    assert_eq!(daemons.len(), 2, "{seen:?}");
    let same: std::collections::BTreeSet<(i64, &str)> = runs
        .iter()
        .map(|s| (s.pid, s.started_at.as_str()))
        .collect();
    assert_eq!(same.len(), 1, "{seen:?}");
    let (pid, started) = same.into_iter().next().unwrap();

    let check = check_of(&r, "lr", "after", "same_as");
    assert_eq!(check["outcome"], "pass", "{check}");
    let shown = check["observed"].as_str().unwrap();
    assert!(
        shown.contains(&format!("pid {pid} (same)"))
            && shown.contains(&format!("started_at {started} (same)")),
        "{shown} vs docker {seen:?}"
    );
    // The same time is not a later one: this check fails, and with it the scenario.
    let later = check_of(&r, "lr", "after", "later_than");
    assert_eq!(later["outcome"], "fail", "{later}");
    assert_eq!(verdict(&r, "lr")["outcome"], "fail");
}

#[test]
fn qualify_compares_each_variant_on_its_own() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "quick",
        r#"name: quick
vars: {code: 0}
matrix:
  zero: {}
  three: {code: 3}
containers:
  app: {command: [sh, -c, "exit {{ vars.code }}"]}
steps:
  - action: {start: {container: app}}
  - action: {wait: {container: app}}
    expect: {exit_code: "{{ vars.code }}"}
"#,
    );
    let out = shakedown(state.path())
        .arg("qualify")
        .args(["--baseline", "system", "--candidate", "system"])
        .arg(&file)
        .args(["--repeat", "1", "--jobs", "2", "--out"])
        .arg(dir.path().join("runs"))
        .arg("--json")
        .arg(dir.path().join("q.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = common::json(&dir.path().join("q.json"));
    let names: Vec<&str> = r["comparison"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["quick[zero]", "quick[three]"], "{r:#}");
    // Each variant passed on both sides: `exit 3` met `exit_code: 3`, an integer substituted.
    for s in r["comparison"]["scenarios"].as_array().unwrap() {
        for side in ["baseline", "candidate"] {
            assert_eq!(s[side]["outcome"], "pass", "{s:#}");
        }
    }
}

#[test]
fn comments_do_not_hide_the_matrix() {
    // Every built-in scenario starts with a comment; comments inside maps and lists too.
    let yaml = "# yaml-language-server: $schema=../scenario.schema.json\nname: c\n# the parameters\nvars: {n: \"1\"}\nmatrix:\n  # one\n  a: {n: \"2\"}\n  b: {n: \"3\"}\ncontainers:\n  app:\n    # a comment in a container\n    command: [sleep, \"{{ vars.n }}\"]\nsteps:\n  # first\n  - action: {start: {container: app}}\n";
    let v = load_variants(yaml, Path::new("p.yaml")).unwrap();
    let names: Vec<_> = v.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["c[a]", "c[b]"]);
}
