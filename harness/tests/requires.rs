//! `requires: {cgroup: v1|v2}` on a real managed daemon: a scenario needing the cgroup version the
//! host does not have is skipped with the reason (never run, never a pass or a failure) in every
//! report and in `shakedown judge`; one needing the host's own version runs and passes; a bad value
//! is an input error naming file:line:col.
//!
//! The host's cgroup version is read here from the kernel (the file system type of
//! /sys/fs/cgroup), independently of the harness, so the test holds on v1 and v2 hosts alike.

mod common;

use std::path::Path;

use common::*;

/// `CGROUP2_SUPER_MAGIC`: /sys/fs/cgroup is the cgroup v2 unified hierarchy (a v1 or hybrid host
/// has a tmpfs there).
const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;

/// The host's cgroup version, 1 or 2, from statfs(2) of /sys/fs/cgroup.
fn host_cgroup() -> u8 {
    let st = nix::sys::statfs::statfs("/sys/fs/cgroup").expect("statfs /sys/fs/cgroup");
    if st.filesystem_type().0 as u64 == CGROUP2_SUPER_MAGIC {
        2
    } else {
        1
    }
}

/// A scenario requiring `cgroup: v{version}` whose container leaves `marker` in `out` (bind
/// mounted) as soon as it runs, and waits until it is there.
fn marking(dir: &Path, name: &str, version: u8, out: &Path, marker: &str) -> std::path::PathBuf {
    scenario(
        dir,
        name,
        &format!(
            "name: {name}\nrequires: {{cgroup: v{version}}}\ncontainers:\n  c:\n    command: [sh, -c, \"touch /out/{marker}; exec sleep 1000\"]\n    volumes:\n      - {{source: {}, target: /out}}\nsteps:\n  - action: {{start: {{container: c}}}}\n  - name: the marker is there\n    action: {{exec: {{container: c, command: [sh, -c, \"until [ -e /out/{marker} ]; do sleep 0.05; done\"]}}}}\n    deadline: 30s\n    expect: {{exit_code: 0}}\n",
            out.display()
        ),
    )
}

/// A test's place: the host's cgroup version and the other one, a temporary directory, and in
/// it the state directory and the (bind-mounted) directory the containers mark.
struct Place {
    have: u8,
    other: u8,
    tmp: tempfile::TempDir,
}

impl Place {
    fn new() -> Place {
        let have = host_cgroup();
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("out")).unwrap();
        Place {
            have,
            other: 3 - have,
            tmp,
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn state(&self) -> std::path::PathBuf {
        self.dir().join("state")
    }

    fn out(&self) -> std::path::PathBuf {
        self.dir().join("out")
    }

    /// The reason a scenario needing the other version is skipped for.
    fn reason(&self) -> String {
        format!(
            "needs cgroup v{}; the daemon runs cgroup v{}",
            self.other, self.have
        )
    }
}

#[test]
fn a_scenario_needing_the_other_cgroup_version_is_skipped_and_the_hosts_own_runs() {
    let p = Place::new();
    let (dir, state, out) = (p.dir(), p.state(), p.out());
    let (have, other) = (p.have, p.other);
    // The skipped one first: it is the plan's first scenario, the one a managed daemon is
    // started for.
    let skip = marking(dir, "needs-other", other, &out, "ran-other");
    let own = marking(dir, "needs-own", have, &out, "ran-own");
    let junit = dir.join("r.xml");
    let (o, r) = run_json(
        &state,
        dir,
        &[&skip, &own],
        &["--junit", junit.to_str().unwrap()],
    );
    let reason = p.reason();

    // Exit 0: a pass and a skip.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Terminal: the scenario's line says SKIP with the reason, and the count is apart.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("needs-other"))
        .unwrap_or_else(|| panic!("no line for needs-other: {}", text(&o)));
    assert!(line.trim_start().starts_with("SKIP"), "{line}");
    assert!(line.contains(&reason), "{line}");
    assert!(
        stdout.contains("1 passed, 0 failed, 1 skipped"),
        "{}",
        text(&o)
    );
    // JSON.
    let v = verdict(&r, "needs-other");
    assert_eq!(v["outcome"], "skipped", "{v:#}");
    assert_eq!(v["skipped"], reason.as_str(), "{v:#}");
    assert_eq!(verdict(&r, "needs-own")["outcome"], "pass", "{r:#}");
    assert_eq!(r["summary"]["skipped"], 1, "{r:#}");
    assert_eq!(r["summary"]["passed"], 1, "{r:#}");
    // JUnit: a <skipped> element with the reason inside the scenario's testcase.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let case = &xml[xml
        .find("<testcase name=\"needs-other\"")
        .expect("testcase")..];
    let case = &case[..case.find("</testcase>").unwrap_or(case.len())];
    assert!(
        case.contains(&format!("<skipped message=\"{reason}\"/>")),
        "{xml}"
    );

    // Never run: its container never ran (the kernel's view: the marker it writes at once is not
    // there, while the other scenario's is), and the journal has nothing started for it.
    assert!(out.join("ran-own").exists(), "the oracle itself failed");
    assert!(
        !out.join("ran-other").exists(),
        "the skipped scenario's container ran"
    );
    let journal = std::fs::read_to_string(dir.join("j.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let skipped: Vec<_> = entries
        .iter()
        .filter(|e| e["event"] == "scenario_skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{journal}");
    assert_eq!(skipped[0]["scenario"], 0);
    assert_eq!(skipped[0]["reason"], reason.as_str());
    for e in &entries {
        let about_it = e["scenario"] == 0
            || e["at"]["scenario"] == 0
            || e["scope"]["iteration"]["scenario"] == 0;
        assert!(
            e["event"] == "scenario_skipped" || !about_it,
            "the skipped scenario has a journal entry: {e}"
        );
    }

    // `shakedown judge` of the journal gives the same exit code, verdicts and terminal report.
    assert_judge_reproduces(&state, dir, &o, &r);
}

#[test]
fn a_run_of_skipped_scenarios_only_succeeds_and_says_nothing_ran() {
    let p = Place::new();
    let (dir, state, out) = (p.dir(), p.state(), p.out());
    let f = marking(dir, "only", p.other, &out, "ran");
    let (o, r) = run_json(&state, dir, &[&f], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("0 passed, 0 failed, 1 skipped — nothing ran"),
        "{}",
        text(&o)
    );
    assert_eq!(verdict(&r, "only")["outcome"], "skipped");
    assert!(!out.join("ran").exists(), "the skipped scenario ran");
}

#[test]
fn a_cgroup_version_other_than_v1_or_v2_is_an_input_error_with_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let f = scenario(
        tmp.path(),
        "bad",
        "name: bad\nrequires:\n  cgroup: v3\ncontainers:\n  c: {}\nsteps:\n  - action: {start: {container: c}}\n",
    );
    for cmd in ["validate", "run"] {
        let o = shakedown(&tmp.path().join("state"))
            .arg(cmd)
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains(&format!("{}:3:11:", f.display())) && stderr.contains("v3"),
            "{cmd}: {}",
            text(&o)
        );
    }
    // Nothing was started for it.
    assert!(!tmp.path().join("state").join("managed").exists());
}

#[test]
fn qualify_does_not_compare_a_scenario_both_sides_skipped_and_says_so() {
    let p = Place::new();
    let (dir, state, out) = (p.dir(), p.state(), p.out());
    let skip = marking(dir, "needs-other", p.other, &out, "ran-other");
    let o = shakedown(&state)
        .arg("qualify")
        .args(["--baseline", "system", "--candidate", "system"])
        .arg(&skip)
        .args(["--repeat", "2", "--out"])
        .arg(dir.join("runs"))
        .arg("--json")
        .arg(dir.join("q.json"))
        .arg("--junit")
        .arg(dir.join("q.xml"))
        .output()
        .unwrap();
    // Nothing to compare is no failure of the candidate.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&dir.join("q.json"));
    let s = &r["comparison"]["scenarios"][0];
    assert_eq!(s["kind"], "not-compared", "{r:#}");
    let reason = p.reason();
    for side in ["baseline", "candidate"] {
        assert_eq!(s[side]["outcome"], "skipped", "{s:#}");
        assert_eq!(s[side]["skipped"], reason.as_str(), "{s:#}");
        assert_eq!(s[side]["rounds"], 2, "{s:#}");
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("skipped on both sides, not compared: {reason}")),
        "{}",
        text(&o)
    );
    let xml = std::fs::read_to_string(dir.join("q.xml")).unwrap();
    assert_eq!(xml.matches("<skipped message=").count(), 2, "{xml}");
    assert!(!out.join("ran-other").exists(), "the skipped scenario ran");
}
