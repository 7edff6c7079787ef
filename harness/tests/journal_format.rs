//! The journal as a format: the plan reads back to exactly the plan that ran (every built-in
//! scenario), a journal folds into the record the verdicts are judged from, a cut journal leaves
//! finished scenarios as they were and the rest unknown, outstanding changes are what was made and
//! not undone, and a bad line is named by file and line.

mod common;

use std::time::Duration;

use shakedown::journal::{
    fold, outstanding, read, At, Change, ChangeScope, Entry, Event, PlannedEntry, RunStart,
};
use shakedown::record::{Measure, Observation, StepOutcome};
use shakedown::verdict::{judge, Outcome};

#[test]
fn every_builtin_scenario_reads_back_exactly() {
    let plans = shakedown::scenario::plan(&[common::builtin()], None, None).unwrap();
    assert!(plans.len() >= 14);
    for p in plans {
        let entry = PlannedEntry {
            file: p.file.clone(),
            repeat: p.repeat,
            scenario: p.scenario.clone(),
        };
        let text = serde_json::to_string(&entry).unwrap();
        let back: PlannedEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text, "{}", p.name());
        // Durations survive exactly: the default deadline of every step is the same.
        for (a, b) in p.scenario.steps.iter().zip(&back.scenario.steps) {
            assert_eq!(
                a.action.default_deadline(&p.scenario),
                b.action.default_deadline(&back.scenario)
            );
            assert_eq!(a.deadline, b.deadline);
        }
    }
}

const SCENARIOS: &str = "name: one\ncontainers:\n  web: {}\nsteps:\n  - action: {stop: {container: web}}\n    expect: {exit_code: 143}\n";

fn entries(exit_codes: &[i64]) -> Vec<Entry> {
    let mut ev = vec![
        Event::RunStarted(RunStart {
            format: shakedown::journal::FORMAT,
            run_id: "r1".into(),
            ..Default::default()
        }),
        Event::Plan {
            scenarios: (0..exit_codes.len())
                .map(|i| {
                    let yaml = SCENARIOS.replace("name: one", &format!("name: s{i}"));
                    PlannedEntry {
                        file: format!("s{i}.yaml").into(),
                        repeat: 1,
                        scenario: shakedown::scenario::load_str(
                            &yaml,
                            std::path::Path::new("s.yaml"),
                        )
                        .unwrap(),
                    }
                })
                .collect(),
        },
    ];
    for (i, code) in exit_codes.iter().enumerate() {
        let at = At {
            scenario: i,
            iteration: 0,
            step: 0,
        };
        ev.extend([
            Event::ScenarioStarted { scenario: i },
            Event::IterationStarted {
                scenario: i,
                iteration: 0,
                label: format!("r1.{i}.0"),
            },
            Event::ChangeMade {
                change: i as u64,
                scope: ChangeScope::Iteration {
                    scenario: i,
                    iteration: 0,
                },
                handle: Change::Container {
                    daemon: "unix:///x.sock".into(),
                    name: format!("c{i}"),
                    id: None,
                },
            },
            Event::StepStarted {
                at,
                label: "stop web".into(),
                action: "stop".into(),
                deadline: Duration::from_secs(40),
                container: Some("web".into()),
                container_id: Some(format!("id{i}")),
                background: i % 2 == 1,
            },
            Event::Measure {
                at,
                measure: Measure::monotonic("duration", Duration::from_millis(100)),
            },
            Event::StepFinished {
                at,
                outcome: StepOutcome::Ok,
                forensics: None,
            },
            Event::Observation {
                at,
                container_id: format!("id{i}"),
                observation: Observation {
                    state: "exited".into(),
                    exit_code: Some(*code),
                    ..Default::default()
                },
            },
            Event::StepSettled { at },
            Event::ChangeUndone {
                change: i as u64,
                ok: true,
                detail: "removed".into(),
            },
            Event::IterationFinished {
                scenario: i,
                iteration: 0,
            },
            Event::ScenarioFinished {
                scenario: i,
                error: None,
                interrupted: false,
            },
        ]);
    }
    ev.push(Event::RunFinished { interrupted: None });
    ev.into_iter()
        .enumerate()
        .map(|(i, event)| Entry {
            seq: i as u64,
            t: Duration::from_millis(i as u64 * 10),
            event,
        })
        .collect()
}

fn write(dir: &std::path::Path, entries: &[Entry], tail: &str) -> std::path::PathBuf {
    let path = dir.join("j.jsonl");
    let mut text: String = entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    text.push_str(tail);
    std::fs::write(&path, text).unwrap();
    path
}

fn outcomes(path: &std::path::Path) -> Vec<Outcome> {
    let f = fold(&read(path).unwrap()).unwrap();
    f.plans
        .iter()
        .zip(&f.record.scenarios)
        .map(|(p, r)| judge(p, r).outcome)
        .collect()
}

#[test]
fn a_journal_folds_into_its_verdicts_and_a_cut_one_is_unknown_where_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let all = entries(&[143, 137]);
    let whole = write(dir.path(), &all, "");
    assert_eq!(outcomes(&whole), vec![Outcome::Pass, Outcome::Fail]);
    let f = fold(&read(&whole).unwrap()).unwrap();
    let step = &f.record.scenarios[0].iterations[0].steps[0];
    assert_eq!(step.container_id.as_deref(), Some("id0"));
    assert_eq!(
        f.record.scenarios[0].iterations[0].undone,
        vec!["container c0: removed"]
    );
    assert!(f.record.interrupted.is_none());
    // Cut inside the second scenario, mid-line: the first keeps its verdict, the second is
    // unknown, and the record says the run did not finish.
    let cut_at = all
        .iter()
        .position(|e| matches!(e.event, Event::StepStarted { at, .. } if at.scenario == 1))
        .unwrap();
    let half = serde_json::to_string(&all[cut_at + 1]).unwrap();
    let cut = write(dir.path(), &all[..=cut_at], &half[..half.len() / 2]);
    let j = read(&cut).unwrap();
    assert!(j.cut);
    assert_eq!(outcomes(&cut), vec![Outcome::Pass, Outcome::Unknown]);
    let f = fold(&j).unwrap();
    assert!(f.record.interrupted.unwrap().contains("mid-line"));
    assert_eq!(
        f.record.scenarios[1].iterations[0].steps[0].outcome,
        StepOutcome::Interrupted
    );
    // The second scenario's container was made and never undone: it is outstanding.
    let open = outstanding(&j.entries);
    assert_eq!(open.len(), 1);
    assert!(matches!(&open[0].1, Change::Container { name, .. } if name == "c1"));
}

#[test]
fn a_scenario_journaled_as_skipped_or_undecided_is_judged_skipped_or_unknown() {
    let dir = tempfile::tempdir().unwrap();
    // Three planned scenarios; the journal runs only the first, skips the second and could not
    // decide the third.
    let about = |e: &Entry, i: usize| {
        let v = serde_json::to_value(e).unwrap();
        v["scenario"] == i || v["at"]["scenario"] == i || v["scope"]["iteration"]["scenario"] == i
    };
    let mut events: Vec<Event> = entries(&[143, 143, 143])
        .into_iter()
        .filter(|e| !about(e, 1) && !about(e, 2))
        .map(|e| e.event)
        .collect();
    let end = events.pop().unwrap();
    events.extend([
        Event::ScenarioSkipped {
            scenario: 1,
            reason: "needs cgroup v1; the daemon runs cgroup v2".into(),
        },
        Event::ScenarioUndecided {
            scenario: 2,
            reason: "needs cgroup v1, and the daemon's cgroup version could not be read".into(),
        },
        end,
    ]);
    let renumbered: Vec<Entry> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Entry {
            seq: i as u64,
            t: Duration::from_millis(i as u64 * 10),
            event,
        })
        .collect();
    let path = write(dir.path(), &renumbered, "");
    assert_eq!(
        outcomes(&path),
        vec![Outcome::Pass, Outcome::Skipped, Outcome::Unknown]
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(r#""event":"scenario_skipped","scenario":1,"reason":"needs cgroup v1"#),
        "{text}"
    );
    // Without its event a scenario never counts as skipped: a journal cut before it leaves it
    // unknown.
    let cut_at = renumbered
        .iter()
        .position(|e| matches!(e.event, Event::ScenarioSkipped { .. }))
        .unwrap();
    let cut = write(dir.path(), &renumbered[..cut_at], "");
    assert_eq!(
        outcomes(&cut),
        vec![Outcome::Pass, Outcome::Unknown, Outcome::Unknown]
    );
}

#[test]
fn outstanding_changes_follow_handles_and_failed_undos() {
    let make = |id: u64| Event::ChangeMade {
        change: id,
        scope: ChangeScope::Run,
        handle: Change::Link {
            name: format!("sdleak{id}"),
            alias: "shakedown:r1".into(),
        },
    };
    let events = vec![
        make(0),
        make(1),
        make(2),
        Event::ChangeHandle {
            change: 1,
            handle: Change::Link {
                name: "renamed".into(),
                alias: "shakedown:r1".into(),
            },
        },
        Event::ChangeUndone {
            change: 0,
            ok: true,
            detail: "deleted".into(),
        },
        Event::ChangeUndone {
            change: 2,
            ok: false,
            detail: "still there".into(),
        },
    ];
    let entries: Vec<Entry> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Entry {
            seq: i as u64,
            t: Duration::ZERO,
            event,
        })
        .collect();
    let open = outstanding(&entries);
    let names: Vec<String> = open
        .iter()
        .map(|(_, c)| match c {
            Change::Link { name, .. } => name.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(names, vec!["renamed", "sdleak2"]);
}

#[test]
fn a_bad_line_is_named_and_a_foreign_file_refused() {
    let dir = tempfile::tempdir().unwrap();
    let all = entries(&[143]);
    let path = write(dir.path(), &all[..2], "{not json\n");
    let e = read(&path).unwrap_err().to_string();
    assert!(e.contains("j.jsonl:3:"), "{e}");
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, "{\"hello\": 1}\n").unwrap();
    let e = read(&other).unwrap_err().to_string();
    assert!(e.contains("not a shakedown journal"), "{e}");
}
