//! Running a qualification: every round runs the scenarios once on each side that runs (journal
//! sides are read; with `--repeat auto`, after the first rounds only those the judge's
//! [`judge::sequential::look`] says are undecided; exclusive ones first), in ABBA order —
//! baseline then candidate, then candidate then baseline — so that drift on the machine (load,
//! caches, thermal) hits both sides alike. Both sides share this
//! host, so they never run at the same time. Each run is an ordinary session with its journal; the
//! comparison reads only the journals. A side on a host reached over SSH runs there as `run
//! --target` does (a VM is booted once, for every round, and shut down at the end); its journal
//! comes back here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::side::{Side, SideKind};
use super::{QualifyReport, SideRuns, Thresholds};
use ::run::scenario::PlannedScenario;
use ::run::session::{self, Session, Signals};
use engine::{TargetKind, TargetOptions};
use host::forensics::{Forensics, ForensicsPolicy};
use judge::sequential::{self, Clock, Next, Policy, Stopped};
use model::error::{Error, Result};

/// How many rounds each side runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounds {
    /// `--repeat N`: every scenario, N rounds.
    Fixed(u32),
    /// `--repeat auto`: each scenario until its answer is known (see [`judge::sequential`]).
    Auto(Policy),
}

/// What `shakedown qualify` was asked.
pub struct Qualification {
    /// The baseline.
    pub baseline: Side,
    /// The candidate.
    pub candidate: Side,
    /// The scenarios (for sides that run).
    pub plans: Vec<PlannedScenario>,
    /// Rounds per running side.
    pub rounds: Rounds,
    /// Scenarios at once within a run.
    pub jobs: usize,
    /// Thresholds from the configuration file (scenarios may override them).
    pub thresholds: Thresholds,
    /// Where the runs' journals go.
    pub out: PathBuf,
    /// Forensics policy.
    pub forensics: ForensicsPolicy,
    /// Images to load into every side's daemons.
    pub images: Vec<engine::images::Wanted>,
    /// `--filter` (a side on a host plans the scenario files again there).
    pub filter: Option<String>,
    /// `--jobs` as given (a side on a VM runs one scenario at a time unless told).
    pub jobs_given: Option<u32>,
    /// How hosts are reached.
    pub access: remote::Access,
    /// Told every journal entry of every run as it is appended (the reporters the binary
    /// subscribed).
    pub listener: journal::Listener,
}

/// How a side gets its runs.
enum Runner {
    /// Read from journals.
    Journals,
    /// Sessions on this machine.
    Local(TargetOptions),
    /// Runs on a host, on its engine or on this one.
    Remote(Box<remote::Opened>, Option<String>),
}

/// Reads saved journals as a side.
fn read_side(spec: &str, journals: &[PathBuf]) -> Result<SideRuns> {
    let mut plans = Vec::new();
    let mut records = Vec::new();
    for j in journals {
        let f = journal::fold_path(j)?;
        if plans.is_empty() {
            plans = f.plans;
        }
        records.push(f.record);
    }
    Ok(SideRuns {
        spec: spec.into(),
        plans,
        records,
        journals: journals.to_vec(),
    })
}

/// The target a running side uses.
async fn target_of(side: &Side, state: &Path) -> Result<TargetOptions> {
    let engine_dir = match &side.kind {
        SideKind::Engine(v) => Some(engine::cache::Engines::new(state).ensure(v).await.map_err(
            |e| engine::cache::engine_error(&format!("side {}: engine {v}: ", side.spec), &e),
        )?),
        SideKind::EngineDir(d) => Some(d.clone()),
        SideKind::System | SideKind::Journals(_) | SideKind::Remote { .. } => None,
    };
    let engine_dir = if side.swaps.is_empty() {
        engine_dir
    } else {
        Some(
            engine::compose::compose(state, engine_dir, &side.swaps)
                .map_err(|e| Error::input(format!("side {}: {e:#}", side.spec)))?,
        )
    };
    Ok(TargetOptions {
        daemon_config: side.config()?,
        kind: TargetKind::Managed,
        engine_dir,
        allow_disruptive: false,
        state_dir: state.to_path_buf(),
        daemon_args: side.daemon_args.clone(),
    })
}

/// How a side gets its runs, and what it starts with: a journal side's runs, read; nothing yet
/// for a side that runs.
async fn open_side(
    q: &Qualification,
    side: &Side,
    state: &Path,
    signals: &Signals,
) -> Result<(Runner, SideRuns)> {
    let runner = match &side.kind {
        SideKind::Journals(js) => return Ok((Runner::Journals, read_side(&side.spec, js)?)),
        SideKind::Remote { host, engine } => q
            .access
            .open(host, &signals.cancel)
            .await
            .map(|h| Runner::Remote(Box::new(h), engine.clone()))
            .map_err(|e| Error::env(format!("side {}: {e:#}", side.spec)))?,
        _ => Runner::Local(target_of(side, state).await?),
    };
    Ok((
        runner,
        SideRuns {
            spec: side.spec.clone(),
            plans: q.plans.clone(),
            records: vec![],
            journals: vec![],
        },
    ))
}

/// Runs the rounds and compares; returns the report and the signal that cut it short, if any.
pub async fn qualify(q: &Qualification, signals: &Signals) -> Result<QualifyReport> {
    let state = engine::default_state_dir();
    let sides = [("baseline", &q.baseline), ("candidate", &q.candidate)];
    // Everything that can fail before anything runs: engines fetched and runnable, journals read,
    // hosts reached (VMs booted).
    let mut runners = Vec::new();
    let mut runs = Vec::new();
    let mut opening = Ok(());
    for (_, side) in sides {
        match open_side(q, side, &state, signals).await {
            Ok((runner, side_runs)) => {
                runners.push(runner);
                runs.push(side_runs);
            }
            Err(e) => {
                opening = Err(e);
                break;
            }
        }
    }
    let result = match opening {
        Ok(()) => rounds(q, &runners, &mut runs, signals).await,
        Err(e) => Err(e),
    };
    for r in runners {
        if let Runner::Remote(h, _) = r {
            h.close().await;
        }
    }
    let stops = result?;
    // The stricter level only where rounds were looked at (saved journals on both sides: none).
    let level = match q.rounds {
        Rounds::Auto(p) if q.baseline.runs() || q.candidate.runs() => p.level(),
        _ => judge::compare::LEVEL,
    };
    let mut report =
        super::compare::compare_at(&runs[0], &runs[1], &q.thresholds, version::VERSION, level);
    for s in &mut report.scenarios {
        s.stop = stops.get(&s.name).copied();
    }
    Ok(report)
}

/// The rounds, in ABBA order; with `--repeat auto`, after each round only the scenarios still
/// undecided run again. Returns when and why each scenario stopped (`--repeat auto`).
async fn rounds(
    q: &Qualification,
    runners: &[Runner],
    runs: &mut [SideRuns],
    signals: &Signals,
) -> Result<BTreeMap<String, Stopped>> {
    let sides = [("baseline", &q.baseline), ("candidate", &q.candidate)];
    std::fs::create_dir_all(&q.out)
        .map_err(|e| Error::env(format!("cannot create {}: {e}", q.out.display())))?;
    let counted = [0, 1].map(|i| !matches!(runners[i], Runner::Journals));
    let (max, policy) = match q.rounds {
        Rounds::Fixed(n) => (n as usize, None),
        Rounds::Auto(p) => (p.max_rounds, Some(p)),
    };
    let of = |n: usize| match policy {
        None => format!("{n}/{max}"),
        Some(_) => format!("{n} (at most {max})"),
    };
    let mut stops = BTreeMap::new();
    let mut running: Vec<PlannedScenario> = q.plans.clone();
    let start = Instant::now();
    for round in 0..max {
        if running.is_empty() || !counted.contains(&true) || signals.cancel.is_cancelled() {
            break;
        }
        let round_start = Instant::now();
        let plans: Vec<PlannedScenario> = sequential::schedule(&running, &[&runs[0], &runs[1]])
            .into_iter()
            .map(|i| running[i].clone())
            .collect();
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            if signals.cancel.is_cancelled() {
                break;
            }
            let (which, side) = sides[i];
            let run_id = session::new_run_id();
            let journal = q.out.join(format!("{which}-round{}.jsonl", round + 1));
            match &runners[i] {
                Runner::Journals => continue,
                Runner::Local(topts) => {
                    eprintln!(
                        "qualify: round {} on the {which} ({}): {} scenario(s)",
                        of(round + 1),
                        side.spec,
                        plans.len()
                    );
                    let s = Session {
                        plans: plans.clone(),
                        target: topts.clone(),
                        target_label: format!("managed {}", side.spec),
                        jobs: q.jobs,
                        forensics: Forensics {
                            policy: q.forensics,
                            dir: q.out.join("artifacts").join(&run_id),
                        },
                        run_id,
                        journal: journal.clone(),
                        images: q.images.clone(),
                        stream: false,
                        fixture_context: None,
                        listener: q.listener.clone(),
                    };
                    session::execute(&s, signals).await?;
                }
                Runner::Remote(host, engine) => {
                    eprintln!(
                        "qualify: round {} on the {which} ({}, on {}): {} scenario(s)",
                        of(round + 1),
                        side.spec,
                        host.label,
                        plans.len()
                    );
                    let problem = remote::host::run(
                        host,
                        remote::host::Request {
                            plans: &plans,
                            jobs: q.jobs_given,
                            engine: engine.as_deref(),
                            daemon_args: &side.daemon_args,
                            allow_disruptive: false,
                            forensics: q.forensics,
                            journal: &journal,
                            run_id: &run_id,
                            cancel: signals.cancel.clone(),
                            listener: q.listener.clone(),
                        },
                    )
                    .await?;
                    if let Some(p) = problem {
                        return Err(Error::env(format!("side {}: {p}", side.spec)));
                    }
                }
            }
            let folded = journal::fold_path(&journal)?;
            runs[i].records.push(folded.record);
            runs[i].journals.push(journal);
        }
        let Some(policy) = policy else { continue };
        if signals.cancel.is_cancelled() {
            break;
        }
        let clock = Clock {
            spent: start.elapsed(),
            last_round: round_start.elapsed(),
        };
        let looked = sequential::look(&runs[0], &runs[1], counted, &q.thresholds, &policy, clock);
        let again: Vec<&str> = looked
            .iter()
            .filter(|(_, n)| *n == Next::Again)
            .map(|(name, _)| name.as_str())
            .collect();
        running = q
            .plans
            .iter()
            .filter(|p| again.contains(&p.name()))
            .cloned()
            .collect();
        for (name, next) in looked {
            if let Next::Stop(s) = next {
                stops.entry(name).or_insert(s);
            }
        }
    }
    Ok(stops)
}
