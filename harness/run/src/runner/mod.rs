//! The runner: executes planned scenarios on a target and journals what it does and sees. It
//! decides nothing about pass or fail (that is [`judge::verdict`], from the journal), and it undoes
//! what each step and iteration changed through the ledger — on pass, failure, deadline, Ctrl-C,
//! SIGTERM and panic alike (an iteration runs in a task of its own; undoing runs outside it).
//!
//! Observation is scoped: each iteration's containers carry a label of their own, its event stream
//! is filtered by that label from the iteration's start, and events are attributed to steps by
//! container id. Nothing is waited for that cannot come: after each step a catch-up query of the
//! daemon's event log (a barrier) makes the events complete, and only expected events that the
//! container's state still allows are waited for.
//!
//! Steps may overlap: a `background` step runs as a future of the iteration's own task, polled
//! while the steps after it run, with a context forked from the iteration's (its own `at`, so
//! everything it journals and every change it makes is its step's) and merged back once it ends.
//! A `join` waits for it; the iteration's end waits for every one not joined. Being futures of the
//! iteration's task, none can outlive it.

mod background;
mod observe;
pub mod requires;
pub mod schedule;
mod step;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ctx::{Ctx, RunEnv, FIXTURE_IMAGE};
use crate::scenario::PlannedScenario;
use background::{join, Background};
use docker::{DockerClient, LABEL_ITERATION};
use engine::DaemonHandle;
use host::forensics::{Forensics, ForensicsPolicy};
use journal::{At, ChangeScope, Event, Journal};
use ledger::Ledger;
use model::error::{Error, Result};
use model::record::StepOutcome;
use observe::{Events, KernelWatch};
use step::{evidence, run_step};

/// Options of a run that the runner needs.
pub struct RunOptions<'a> {
    /// Run id (label value).
    pub run_id: &'a str,
    /// The fixture image tag on the target daemon, when any scenario uses it.
    pub fixture_image: Option<&'a str>,
    /// Cancelled by SIGINT or SIGTERM.
    pub cancel: CancellationToken,
    /// The daemon process, when the target controls it.
    pub daemon: Option<DaemonHandle>,
    /// Forensics settings.
    pub forensics: Forensics,
    /// The run's journal.
    pub journal: Journal,
    /// The run's ledger.
    pub ledger: Ledger,
    /// How changes are undone.
    pub env: Arc<RunEnv>,
    /// Where the filesystem the harness made for the scenario is mounted, if it made one.
    pub data_fs: Option<std::path::PathBuf>,
}

/// Whether a scenario uses the fixture image.
pub fn uses_fixture(plan: &PlannedScenario) -> bool {
    plan.scenario
        .containers
        .values()
        .any(|c| matches!(c.image.as_deref(), None | Some(FIXTURE_IMAGE)))
}

/// Checks, before anything is created, that every image other than the fixture exists on the daemon.
pub async fn preflight(docker: &DockerClient, plans: &[PlannedScenario]) -> Result<()> {
    let mut problems = Vec::new();
    for p in plans {
        for (name, c) in &p.scenario.containers {
            let Some(image) = c.image.as_deref().filter(|i| *i != FIXTURE_IMAGE) else {
                continue;
            };
            match docker.image_exists(image).await {
                Ok(true) => {}
                Ok(false) => problems.push(format!(
                    "{}: container {name:?} uses image {image:?}, which the daemon at {} does not have \
                     (no registry is used: `docker load -i FILE` into that daemon, or run on the \
                     managed target with the scenario's `images:` or `run --load FILE.tar`)",
                    p.file.display(),
                    docker.host()
                )),
                Err(e) => return Err(Error::env(format!("{e:#}"))),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Input(problems))
    }
}

/// Runs one scenario (`index` in the plan), all its iterations, undoing what each changed.
/// Never panics outward: a panic in the steps is journaled as the scenario's error after undoing.
pub async fn run_scenario(
    docker: &DockerClient,
    index: usize,
    plan: &PlannedScenario,
    opts: &RunOptions<'_>,
) {
    let journal = &opts.journal;
    journal.emit(Event::ScenarioStarted { scenario: index });
    let mut error = None;
    let mut interrupted = false;
    for iteration in 0..plan.repeat {
        if opts.cancel.is_cancelled() {
            interrupted = true;
            break;
        }
        let problem = run_iteration(docker, index, plan, opts, iteration).await;
        // Undoing always runs, newest change first: a frozen daemon is thawed before the
        // containers it holds are removed.
        let scope = ChangeScope::Iteration {
            scenario: index,
            iteration,
        };
        for line in opts
            .ledger
            .undo_due(scope, opts.env.as_ref(), |_| true)
            .await
        {
            tracing::debug!("undone: {line}");
        }
        journal.emit(Event::IterationFinished {
            scenario: index,
            iteration,
        });
        if opts.cancel.is_cancelled() {
            interrupted = true;
            break;
        }
        if let Some(p) = problem {
            error = Some(p);
            break;
        }
    }
    journal.emit(Event::ScenarioFinished {
        scenario: index,
        error,
        interrupted,
    });
}

/// One iteration in a task of its own so that a panic cannot skip undoing. Returns a problem that
/// ended it early (a panic).
async fn run_iteration(
    docker: &DockerClient,
    index: usize,
    plan: &PlannedScenario,
    opts: &RunOptions<'_>,
    iteration: u32,
) -> Option<String> {
    let docker = docker.clone();
    let owned_plan = plan.clone();
    let run_id = opts.run_id.to_string();
    let fixture = opts.fixture_image.map(str::to_string);
    let cancel = opts.cancel.clone();
    let daemon = opts.daemon.clone();
    let forensics = opts.forensics.clone();
    let journal = opts.journal.clone();
    let ledger = opts.ledger.clone();
    let env = opts.env.clone();
    let data_fs = opts.data_fs.clone();
    let task = tokio::spawn(async move {
        let ctx = Ctx {
            docker: &docker,
            plan: &owned_plan,
            run_id: &run_id,
            fixture_image: fixture.as_deref(),
            at: At {
                scenario: index,
                iteration,
                step: 0,
            },
            iteration_label: format!("{run_id}.{index}.{iteration}"),
            step_deadline: Duration::ZERO,
            containers: HashMap::new(),
            processes: HashMap::new(),
            netns_seen: Default::default(),
            created: Default::default(),
            daemon,
            forensics,
            bundle: None,
            paused: HashMap::new(),
            anchors: Default::default(),
            step_started_unix: 0.0,
            anchored: None,
            leak_baselines: BTreeMap::new(),
            samples: Vec::new(),
            pending_bundle: None,
            journal,
            ledger,
            env: &env,
            data_fs,
        };
        steps(ctx, &cancel).await
    });
    match task.await {
        Ok(()) => None,
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let text = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Some(format!("the harness panicked during the scenario: {text}"))
        }
        Err(_) => Some("the scenario task was cancelled".into()),
    }
}

/// What every step of an iteration shares: its sources and the run's cancellation.
struct Shared<'s, 'd> {
    events: &'s Events<'d>,
    kernel: &'s KernelWatch,
    cancel: &'s CancellationToken,
}

async fn steps(mut ctx: Ctx<'_>, cancel: &CancellationToken) {
    let (docker, plan) = (ctx.docker, ctx.plan);
    let journal = ctx.journal.clone();
    let (scenario, iteration) = (ctx.at.scenario, ctx.at.iteration);
    journal.emit(Event::IterationStarted {
        scenario,
        iteration,
        label: ctx.iteration_label.clone(),
    });
    let events = Events::subscribe(
        docker,
        format!("{LABEL_ITERATION}={}", ctx.iteration_label),
        journal.clone(),
        scenario,
        iteration,
    );
    let kernel = KernelWatch::start(docker, journal.clone(), scenario, iteration);
    // Leak baselines, one per scope the scenario's checks use.
    for step in &plan.scenario.steps {
        if let model::action::Action::CheckLeaks(c) = &step.action {
            let host_wide = c.scope == model::action::LeakScope::Host;
            if !ctx.leak_baselines.contains_key(&host_wide) {
                let scope = ctx.leak_scope(host_wide).await;
                let snapshot = host::leaks::snapshot(&scope).await;
                ctx.leak_baselines.insert(host_wide, snapshot);
            }
        }
    }
    let shared = Shared {
        events: &events,
        kernel: &kernel,
        cancel,
    };
    let mut background = Background::new();
    let mut failed = false;
    for (index, step) in plan.scenario.steps.iter().enumerate() {
        ctx.at.step = index;
        let at = ctx.at;
        let container = step.action.container().map(str::to_string);
        let deadline = step
            .deadline
            .map(|d| d.get())
            .unwrap_or_else(|| step.action.default_deadline(&plan.scenario));
        // The moment the journal fixes as the step's start: what its comparisons, its new log lines
        // and its events are counted from, also for a background step polled later.
        let started = journal.now();
        let started_unix = host::unix_now();
        journal.emit_at(
            started,
            Event::StepStarted {
                at,
                label: plan.step_label(index),
                action: step.action.name().into(),
                deadline,
                container: container.clone(),
                container_id: container
                    .as_deref()
                    .and_then(|c| ctx.containers.get(c))
                    .cloned(),
                background: step.background,
            },
        );
        if failed || cancel.is_cancelled() {
            journal.emit(Event::StepFinished {
                at,
                outcome: StepOutcome::Skipped,
                forensics: None,
            });
            continue;
        }
        if let model::action::Action::Join(j) = &step.action {
            let target = plan
                .scenario
                .steps
                .iter()
                .position(|s| s.name.as_ref().is_some_and(|n| n.value == j.step.value));
            join(&journal, at, deadline, target, &mut background, cancel).await;
        } else if step.background {
            let mut fork = ctx.fork(index);
            let (anchored, anchor) = tokio::sync::oneshot::channel();
            fork.anchored = Some(anchored);
            let shared = &shared;
            let start = (started, started_unix);
            background.running.push(Box::pin(async move {
                let failed = run_step(&mut fork, index, deadline, start, shared).await;
                (index, failed, fork)
            }));
            // The next step starts only once this one took what it compares with (e.g. a file's
            // content before), never while that next step's effect may already be unfolding.
            background
                .drive(async {
                    let _ = tokio::time::timeout(deadline, anchor).await;
                })
                .await;
        } else {
            failed = background
                .drive(run_step(
                    &mut ctx,
                    index,
                    deadline,
                    (started, started_unix),
                    &shared,
                ))
                .await;
        }
        // A background step that failed ends the iteration like any step.
        failed |= background.merge_into(&mut ctx);
    }
    // Background steps never joined: awaited (each within its deadline) before the iteration's
    // end is observed and undone.
    background.wait_all().await;
    background.merge_into(&mut ctx);
    drop(background);
    drop(events);
    drop(kernel);
    if let Some((b, _)) = ctx.pending_bundle.take() {
        let _ = b.finish();
    }
    if ctx.forensics.policy == ForensicsPolicy::Always {
        ctx.collect_forensics("end", "forensics: always").await;
    }
    evidence(&ctx).await;
}
