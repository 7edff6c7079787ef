//! Journals for the judge's tests: the real ones under `tests/journals/` (runs on a managed
//! daemon, trimmed to one scenario each), and synthetic ones written from what each scenario is
//! meant to end as, so a test's oracle is the intent it wrote, not the code under test.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use judge::journal::{At, Change, ChangeScope, Entry, Event, PlannedEntry, RunStart, FORMAT};
use model::record::{Measure, Observation, StepOutcome};

/// The real journals under `tests/journals/`, by file name, sorted.
pub fn real_journals() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/journals");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "{} journals in {}",
        files.len(),
        dir.display()
    );
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// How a synthetic scenario is meant to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Its container exits 143 as expected.
    Pass,
    /// Its container exits 137: the `exit_code: 143` check fails.
    Fail,
    /// Journaled as skipped (the daemon cannot have what it requires).
    Skipped,
    /// Journaled as undecided (whether it could run could not be told).
    Undecided,
    /// Its step failed with an error.
    Error,
}

const SCENARIO: &str = "name: one\ncontainers:\n  web: {}\nsteps:\n  - action: {stop: {container: web}}\n    expect: {exit_code: 143}\n";

/// The entries of a run of one scenario per intent, in order, each over `iterations` iterations.
pub fn journal(intents: &[Intent], iterations: u32) -> Vec<Entry> {
    let mut ev = vec![
        Event::RunStarted(RunStart {
            format: FORMAT,
            run_id: "r1".into(),
            ..Default::default()
        }),
        Event::Plan {
            scenarios: (0..intents.len())
                .map(|i| PlannedEntry {
                    file: format!("s{i}.yaml").into(),
                    repeat: iterations,
                    scenario: model::scenario::load_str(
                        &SCENARIO.replace("name: one", &format!("name: s{i}")),
                        Path::new("s.yaml"),
                    )
                    .unwrap(),
                })
                .collect(),
        },
    ];
    let mut change = 0u64;
    for (i, intent) in intents.iter().enumerate() {
        match intent {
            Intent::Skipped => {
                ev.push(Event::ScenarioSkipped {
                    scenario: i,
                    reason: "needs cgroup v1".into(),
                });
                continue;
            }
            Intent::Undecided => {
                ev.push(Event::ScenarioUndecided {
                    scenario: i,
                    reason: "the daemon did not say".into(),
                });
                continue;
            }
            _ => {}
        }
        ev.push(Event::ScenarioStarted { scenario: i });
        for iteration in 0..iterations {
            let at = At {
                scenario: i,
                iteration,
                step: 0,
            };
            change += 1;
            ev.extend([
                Event::IterationStarted {
                    scenario: i,
                    iteration,
                    label: format!("r1.{i}.{iteration}"),
                },
                Event::ChangeMade {
                    change,
                    scope: ChangeScope::Iteration {
                        scenario: i,
                        iteration,
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
                    background: false,
                },
                Event::Measure {
                    at,
                    measure: Measure::monotonic("duration", Duration::from_millis(100)),
                },
                Event::StepFinished {
                    at,
                    outcome: if *intent == Intent::Error {
                        StepOutcome::Error {
                            message: "the daemon said no".into(),
                            kind: Default::default(),
                            http_status: None,
                        }
                    } else {
                        StepOutcome::Ok
                    },
                    forensics: None,
                },
                Event::Observation {
                    at,
                    container_id: format!("id{i}"),
                    observation: Observation {
                        state: "exited".into(),
                        exit_code: Some(if *intent == Intent::Fail { 137 } else { 143 }),
                        ..Default::default()
                    },
                },
                Event::StepSettled { at },
                Event::ChangeUndone {
                    change,
                    ok: true,
                    detail: "removed".into(),
                },
                Event::IterationFinished {
                    scenario: i,
                    iteration,
                },
            ]);
        }
        ev.push(Event::ScenarioFinished {
            scenario: i,
            error: None,
            interrupted: false,
        });
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

/// A journal's text: one JSON line per entry.
pub fn text(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect()
}

/// The journal's lines, each with its newline.
pub fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// A journal judged from its text, named `j.jsonl`.
pub fn judged(text: &[u8]) -> judge::journal::Judged {
    judge::judge_reader(text, "j.jsonl").unwrap_or_else(|e| panic!("not judged: {e}"))
}
