//! One run session: the journal and the run's lock, the ledger, one target per job, the scheduled
//! scenarios, and undoing everything at the end — whatever ends it. `run` is one session;
//! `qualify` runs several (each side, round after round) and compares their journals.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::clean;
use crate::ctx::RunEnv;
use crate::runner;
use crate::runner::schedule::{self, Job, Shared};
use crate::scenario::PlannedScenario;
use engine::{Target, TargetOptions};
use host::forensics::Forensics;
use journal::{self, Change, ChangeScope, Event, Journal, PlannedEntry, RunStart};
use ledger::Ledger;
use model::error::{exit_code, Error, Interruption, Result};

/// A new run id: start time and a pid-dependent suffix, hex.
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{:x}{:04x}",
        now.as_secs(),
        (now.subsec_nanos() ^ std::process::id()) & 0xffff
    )
}

/// SIGINT and SIGTERM: the first cancels the run (which then undoes its changes and reports); a
/// second abandons undoing (`shakedown clean` does it later, from the journal).
pub struct Signals {
    /// Cancelled by the first signal.
    pub cancel: CancellationToken,
    which: Arc<Mutex<Option<Interruption>>>,
}

impl Signals {
    /// Installs the handlers (once per process).
    pub fn install() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| Error::env(format!("cannot handle SIGTERM: {e}")))?;
        let mut int = signal(SignalKind::interrupt())
            .map_err(|e| Error::env(format!("cannot handle SIGINT: {e}")))?;
        let cancel = CancellationToken::new();
        let which: Arc<Mutex<Option<Interruption>>> = Arc::default();
        let (c, w) = (cancel.clone(), which.clone());
        tokio::spawn(async move {
            let first = tokio::select! {
                _ = int.recv() => Interruption::Interrupt,
                _ = term.recv() => Interruption::Terminate,
            };
            if let Ok(mut w) = w.lock() {
                *w = Some(first);
            }
            eprintln!(
                "{}: undoing this run's changes (send it again to abandon; `shakedown clean` would then undo them)",
                first.name()
            );
            c.cancel();
            let again = tokio::select! {
                _ = int.recv() => Interruption::Interrupt,
                _ = term.recv() => Interruption::Terminate,
            };
            std::process::exit(exit_code(Some(again), 0));
        });
        Ok(Signals { cancel, which })
    }

    /// Also stops the run when standard input ends (`run --stream`: the SSH session that started
    /// it closed its input, or the connection was lost), as SIGTERM would.
    pub fn stop_at_end_of_input(&self) {
        let (c, w) = (self.cancel.clone(), self.which.clone());
        let _ = std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                if let Ok(mut w) = w.lock() {
                    w.get_or_insert(Interruption::EndOfInput);
                }
                c.cancel();
            });
    }

    /// What cancelled the run, if something did.
    pub fn which(&self) -> Option<Interruption> {
        self.which.lock().ok().and_then(|w| *w)
    }
}

/// What one session runs, where, and where its journal goes.
pub struct Session {
    /// The scenarios.
    pub plans: Vec<PlannedScenario>,
    /// The target (its kind, engine, daemon arguments, state directory).
    pub target: TargetOptions,
    /// How the target is named in the journal (`managed`, `managed engine=28.5.2`).
    pub target_label: String,
    /// Scenarios at once.
    pub jobs: usize,
    /// The run id.
    pub run_id: String,
    /// Where the journal goes.
    pub journal: PathBuf,
    /// Forensics settings.
    pub forensics: Forensics,
    /// Images to load into each managed daemon (resolved by [`engine::images::resolve`]).
    pub images: Vec<engine::images::Wanted>,
    /// Copy every journal line to standard output as it is written (`run --stream`).
    pub stream: bool,
    /// The fixture image's build context carried from the machine that started an SSH run (`run
    /// --fixture-context`); `None`: made from this host's static binaries.
    pub fixture_context: Option<PathBuf>,
    /// Told every journal entry as it is appended, from the first: the reporters the binary
    /// subscribed (this module calls no reporter itself).
    pub listener: journal::Listener,
}

/// Runs a session to its end and returns when its journal is complete. Errors before the first
/// scenario (bad input, a target that does not open) are returned after undoing.
pub async fn execute(session: &Session, signals: &Signals) -> Result<()> {
    let Session {
        plans,
        target: topts,
        target_label,
        jobs,
        run_id,
        journal: journal_path,
        forensics,
        images,
        stream,
        fixture_context,
        listener,
    } = session;
    let state = &topts.state_dir;
    {
        let state = state.clone();
        host::blocking(
            "checking the state directory's free space",
            std::time::Duration::from_secs(30),
            move || clean::check_free_space(&state),
        )
        .await
        .map_err(|e| Error::env(e.to_string()))?
        .map_err(Error::env)?;
    }
    // A journal in the state directory is root-only; one named elsewhere follows the umask.
    let journal = host::private::create_in(state, journal_path)
        .and_then(|file| Journal::on_file(file, journal_path, *stream))
        .map_err(|e| {
            Error::env(format!(
                "cannot write the journal {}: {e}",
                journal_path.display()
            ))
        })?;
    journal.subscribe_listener(listener.clone());
    let lock = clean::claim_run(state, run_id, journal_path).map_err(|e| {
        Error::env(format!(
            "cannot claim a run directory under {}: {e}",
            clean::runs_dir(state).display()
        ))
    })?;
    journal.emit(Event::RunStarted(RunStart {
        format: journal::FORMAT,
        run_id: run_id.clone(),
        version: version::VERSION.into(),
        pid: std::process::id(),
        pid_start_time: host::proc::stat(std::process::id())
            .map(|s| s.start_time)
            .unwrap_or_default(),
        host: host::hostname(),
        started_unix: host::unix_now(),
        target: target_label.clone(),
        argv: std::env::args().collect(),
    }));
    journal.emit(Event::Plan {
        scenarios: plans
            .iter()
            .map(|p| PlannedEntry {
                file: p.file.clone(),
                repeat: p.repeat,
                scenario: p.scenario.clone(),
            })
            .collect(),
    });
    let ledger = Ledger::new(journal.clone(), run_id);
    for dir in clean::prune(state, clean::Retention::Keep(clean::KEEP_RUNS)) {
        tracing::debug!("removed the directory of an old run: {dir}");
    }
    let dead = clean::dead_runs_with_changes(state);
    if !dead.is_empty() {
        eprintln!(
            "note: {} earlier run(s) died with changes not undone ({}): `shakedown clean` undoes them",
            dead.len(),
            dead.join(", ")
        );
    }
    // One target per job, opened side by side.
    let opened =
        futures_util::future::join_all((0..(*jobs).min(plans.len()).max(1)).map(|_| async {
            let t = std::time::Instant::now();
            let target = Target::open(topts, plans.first(), &ledger).await;
            journal.emit(Event::Setup {
                name: "target ready".into(),
                seconds: t.elapsed().as_secs_f64(),
            });
            target
        }))
        .await;
    let mut targets = Vec::new();
    let mut failure = None;
    for t in opened {
        match t {
            Ok(t) => targets.push(t),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    let outcome = match failure {
        Some(e) => Err(e),
        None => {
            let envs: Vec<Arc<RunEnv>> = targets
                .iter()
                .map(|t| {
                    Arc::new(RunEnv {
                        docker: t.client().clone(),
                        daemon: t.daemon(),
                    })
                })
                .collect();
            let shared = Shared {
                run_id,
                cancel: &signals.cancel,
                forensics,
                journal: &journal,
                ledger: &ledger,
                run_dir: &lock.dir,
                fixture_context: fixture_context.as_deref(),
            };
            let run = run_on(
                &mut targets,
                plans,
                images,
                fixture_context.as_deref(),
                &envs,
                &shared,
            );
            // A panic outside the scenarios' own tasks still undoes everything below.
            match AssertUnwindSafe(run).catch_unwind().await {
                Ok(r) => r,
                Err(_) => Err(Error::env(
                    "the harness panicked (see above); its changes were undone",
                )),
            }
        }
    };
    if let Some(env) = targets.first().map(|t| RunEnv {
        docker: t.client().clone(),
        daemon: t.daemon(),
    }) {
        for line in ledger
            .undo_due(ChangeScope::Run, &env, |c| {
                !matches!(c, Change::ManagedDaemon { .. })
            })
            .await
        {
            tracing::info!("undone: {line}");
        }
    }
    for lines in futures_util::future::join_all(targets.into_iter().map(|t| t.close(&ledger))).await
    {
        for line in lines {
            tracing::info!("{line}");
        }
    }
    journal.emit(Event::RunFinished {
        interrupted: signals.which().map(|i| i.name().to_string()),
    });
    journal.close();
    if ledger.outstanding(|_| true).is_empty() {
        clean::mark_settled(&lock.dir);
    }
    outcome?;
    if let Some(why) = journal.failure() {
        return Err(Error::env(format!(
            "the journal {} is incomplete: {why}",
            journal_path.display()
        )));
    }
    Ok(())
}

/// Everything between opening and closing the targets, so that closing happens on every path.
async fn run_on(
    targets: &mut [Target],
    plans: &[PlannedScenario],
    images: &[engine::images::Wanted],
    fixture_context: Option<&Path>,
    envs: &[Arc<RunEnv>],
    shared: &Shared<'_>,
) -> Result<()> {
    let first = targets
        .first()
        .ok_or_else(|| Error::env("no target was opened"))?;
    first.refusals(plans).await?;
    // Scenarios the daemon cannot serve are journaled as not run, before anything is prepared for
    // them: nothing below (fixture image, preflight, scheduling) is done for them.
    let runnable = tokio::select! {
        r = runner::requires::screen(first, plans, shared.journal) => r,
        // Interrupted while asking: nothing ran (every scenario is unknown).
        _ = shared.cancel.cancelled() => return Ok(()),
    };
    let to_run: Vec<PlannedScenario> = runnable.iter().map(|i| plans[*i].clone()).collect();
    let needs_fixture = to_run.iter().any(runner::uses_fixture);
    // Every job's daemon gets the images it needs, side by side.
    let to_run = &to_run;
    let prepared = futures_util::future::join_all(targets.iter().map(|t| async move {
        let client = t.client().clone();
        let tag = if needs_fixture {
            let started = std::time::Instant::now();
            let tag =
                engine::fixture::ensure_image(&client, fixture_context, Duration::from_secs(300))
                    .await
                    .map_err(|e| Error::env(format!("preparing the fixture image: {e:#}")))?;
            shared.journal.emit(Event::Setup {
                name: "fixture image".into(),
                seconds: started.elapsed().as_secs_f64(),
            });
            Some(tag)
        } else {
            None
        };
        // Archives and copies first: a build may start FROM one of them.
        let mut ordered: Vec<&engine::images::Wanted> = images.iter().collect();
        ordered.sort_by_key(|w| matches!(w.source, engine::images::Source::Build(_)));
        for w in ordered {
            let started = std::time::Instant::now();
            let loaded = engine::images::ensure(&client, w)
                .await
                .map_err(|e| Error::env(format!("image {}: {e:#}", w.reference)))?;
            if loaded {
                shared.journal.emit(Event::Setup {
                    name: format!("image {}", w.reference),
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
        }
        runner::preflight(&client, to_run).await?;
        Ok(tag)
    }))
    .await;
    let mut fixtures = Vec::new();
    for p in prepared {
        fixtures.push(p?);
    }
    let mut fingerprint = first
        .client()
        .fingerprint()
        .await
        .map_err(|e| Error::env(format!("{e:#}")))?;
    let (config, source, overridden) = first.configuration().await;
    fingerprint.daemon_config = config;
    fingerprint.daemon_config_source = Some(source);
    fingerprint.overridden = overridden;
    shared.journal.emit(Event::Fingerprint { fingerprint });
    let jobs: Vec<Job<'_>> = targets
        .iter_mut()
        .zip(fixtures)
        .zip(envs)
        .map(|((target, fixture), env)| Job {
            target,
            fixture,
            env: env.clone(),
        })
        .collect();
    schedule::run_plan(jobs, plans, &runnable, shared).await;
    Ok(())
}
