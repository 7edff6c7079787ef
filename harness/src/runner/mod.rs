//! The runner: executes planned scenarios on a target and journals what it does and sees. It
//! decides nothing about pass or fail (that is [`crate::verdict`], from the journal), and it undoes
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

mod observe;
pub mod requires;
pub mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ctx::{Ctx, RunEnv, FIXTURE_IMAGE};
use crate::docker::{api_status, DockerClient, NoAnswer, LABEL_ITERATION};
use crate::error::{Error, Result};
use crate::execute::Execute;
use crate::forensics::{Forensics, ForensicsPolicy};
use crate::host::HostError;
use crate::journal::{At, ChangeScope, Event, Journal};
use crate::ledger::Ledger;
use crate::record::{ErrorKind, Measure, StepOutcome};
use crate::scenario::PlannedScenario;
use crate::target::DaemonHandle;
use observe::{Events, KernelWatch};

/// How long the runner waits, after an action, for expected events that can still come.
const EVENT_SETTLE: Duration = Duration::from_secs(3);
/// How long the catch-up query of the daemon's event log may take.
const BARRIER_DEADLINE: Duration = Duration::from_secs(5);

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

/// What kind of failure an action's error is, from its typed causes.
fn error_kind(e: &anyhow::Error) -> ErrorKind {
    if e.chain().any(|c| c.downcast_ref::<NoAnswer>().is_some()) {
        ErrorKind::ApiUnresponsive
    } else if e.chain().any(|c| {
        matches!(
            c.downcast_ref::<HostError>(),
            Some(HostError::Timeout { .. })
        )
    }) {
        ErrorKind::HostUnresponsive
    } else {
        ErrorKind::Failed
    }
}

/// A missed deadline or an API that stopped answering calls for forensics.
fn needs_forensics(outcome: &StepOutcome) -> bool {
    matches!(
        outcome,
        StepOutcome::DeadlineExceeded { .. }
            | StepOutcome::Error {
                kind: ErrorKind::ApiUnresponsive,
                ..
            }
    )
}

/// Whether a container in this state can still produce events for the step: it runs (or may
/// again), or it removes itself (`--rm`) and is not removed yet.
fn events_can_still_come(state: Option<&str>, auto_remove: bool) -> bool {
    match state {
        Some("running" | "restarting" | "paused" | "created" | "removing") => true,
        Some("exited" | "dead") => auto_remove,
        _ => false,
    }
}

/// What every step of an iteration shares: its sources and the run's cancellation.
struct Shared<'s, 'd> {
    events: &'s Events<'d>,
    kernel: &'s KernelWatch,
    cancel: &'s CancellationToken,
}

/// A background step running: its index, whether it failed, and its context to merge back.
type BgFuture<'s, 'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (usize, bool, Ctx<'a>)> + Send + 's>>;

/// The iteration's background steps: those running (polled only while the runner awaits
/// something, all in the iteration's own task, so none outlives it) and those finished.
struct Background<'s, 'a> {
    running: futures_util::stream::FuturesUnordered<BgFuture<'s, 'a>>,
    /// Step index → whether it failed.
    finished: BTreeMap<usize, bool>,
    /// Contexts of finished steps, not merged back yet.
    contexts: Vec<Ctx<'a>>,
}

impl<'s, 'a> Background<'s, 'a> {
    fn new() -> Self {
        Background {
            running: Default::default(),
            finished: BTreeMap::new(),
            contexts: Vec::new(),
        }
    }

    fn done(&mut self, (index, failed, ctx): (usize, bool, Ctx<'a>)) {
        self.finished.insert(index, failed);
        self.contexts.push(ctx);
    }

    /// Runs `fg` to its end while the background steps make progress.
    async fn drive<F: std::future::Future>(&mut self, fg: F) -> F::Output {
        use futures_util::StreamExt;
        tokio::pin!(fg);
        loop {
            tokio::select! {
                out = &mut fg => return out,
                Some(d) = self.running.next(), if !self.running.is_empty() => self.done(d),
            }
        }
    }

    /// Waits until step `index` finished (it may have already).
    async fn wait_for(&mut self, index: usize) {
        use futures_util::StreamExt;
        while !self.finished.contains_key(&index) {
            match self.running.next().await {
                Some(d) => self.done(d),
                None => return,
            }
        }
    }

    /// Waits for every step still running: each ends within its own deadline (or at Ctrl-C).
    async fn wait_all(&mut self) {
        use futures_util::StreamExt;
        while let Some(d) = self.running.next().await {
            self.done(d);
        }
    }

    /// Merges finished steps' contexts back; whether any background step failed.
    fn merge_into(&mut self, ctx: &mut Ctx<'a>) -> bool {
        for c in self.contexts.drain(..) {
            ctx.merge(c);
        }
        self.finished.values().any(|f| *f)
    }
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
        if let crate::action::Action::CheckLeaks(c) = &step.action {
            let host_wide = c.scope == crate::action::LeakScope::Host;
            if !ctx.leak_baselines.contains_key(&host_wide) {
                let scope = ctx.leak_scope(host_wide).await;
                let snapshot = crate::leaks::snapshot(&scope).await;
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
        let started_unix = crate::unix_now();
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
        if let crate::action::Action::Join(j) = &step.action {
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

/// A `join` step: waits for the background step `target` within `deadline`. Its own outcome is
/// the wait's; the joined step keeps its own outcome.
async fn join(
    journal: &Journal,
    at: At,
    deadline: Duration,
    target: Option<usize>,
    background: &mut Background<'_, '_>,
    cancel: &CancellationToken,
) {
    let started = journal.now();
    let outcome = match target {
        None => StepOutcome::Error {
            kind: ErrorKind::Failed,
            message: "no step to join".into(),
            http_status: None,
        },
        Some(target) => tokio::select! {
            r = tokio::time::timeout(deadline, background.wait_for(target)) => match r {
                Ok(()) => StepOutcome::Ok,
                Err(_) => StepOutcome::DeadlineExceeded { deadline },
            },
            _ = cancel.cancelled() => StepOutcome::Interrupted,
        },
    };
    let finished = journal.now();
    journal.emit_at(
        finished,
        Event::Measure {
            at,
            measure: Measure::monotonic("duration", finished.saturating_sub(started)),
        },
    );
    journal.emit_at(
        finished,
        Event::StepFinished {
            at,
            outcome,
            forensics: None,
        },
    );
    journal.emit_at(finished, Event::StepSettled { at });
}

/// Runs step `index` (journaled as started at `started`: the run's clock and Unix time) in `ctx`:
/// its action within `deadline`, then heals what it changed, observes its container, moves its
/// anchor and settles its events. Whether it failed.
async fn run_step(
    ctx: &mut Ctx<'_>,
    index: usize,
    deadline: Duration,
    (started, started_unix): (Duration, f64),
    sh: &Shared<'_, '_>,
) -> bool {
    let (plan, journal, events, cancel) = (ctx.plan, ctx.journal.clone(), sh.events, sh.cancel);
    let step = &plan.scenario.steps[index];
    let at = ctx.at;
    let label = plan.step_label(index);
    let container = step.action.container().map(str::to_string);
    ctx.step_deadline = deadline;
    ctx.samples.clear();
    ctx.bundle = None;
    ctx.step_started_unix = started_unix;
    if !step.action.anchors_itself() {
        ctx.anchor_taken();
    }
    let result = tokio::select! {
        r = tokio::time::timeout(deadline, step.action.run(ctx)) => Some(r),
        _ = cancel.cancelled() => None,
    };
    // Whatever happened, nothing waits for an anchor any more.
    ctx.anchor_taken();
    let finished = journal.now();
    let outcome = match result {
        None => StepOutcome::Interrupted,
        Some(Err(_)) => StepOutcome::DeadlineExceeded { deadline },
        Some(Ok(Err(e))) => StepOutcome::Error {
            kind: error_kind(&e),
            message: format!("{e:#}"),
            http_status: api_status(&e),
        },
        Some(Ok(Ok(()))) => StepOutcome::Ok,
    };
    // An action that must fail (`expect: {error: ...}`) and did is judged by that check; the
    // steps after it run.
    let failure_expected = step
        .expect
        .as_ref()
        .and_then(|e| e.error.as_ref())
        .is_some_and(|e| e.expects(&outcome));
    let failed = outcome != StepOutcome::Ok && !failure_expected;
    journal.emit_at(
        finished,
        Event::Measure {
            at,
            measure: Measure::monotonic("duration", finished.saturating_sub(started)),
        },
    );
    let mut bundle = ctx.bundle.take();
    if bundle.is_none() && needs_forensics(&outcome) {
        bundle = ctx.collect_forensics(&label, &format!("{outcome:?}")).await;
    }
    journal.emit_at(
        finished,
        Event::StepFinished {
            at,
            outcome,
            forensics: bundle,
        },
    );
    // Heal what the step changed (also when it was cut off by its deadline).
    for line in ctx
        .ledger
        .undo_due(ctx.step_scope(), ctx.env, |_| true)
        .await
    {
        tracing::debug!("healed: {line}");
    }
    // Observe the step's container.
    let mut state = None;
    let container_id = container
        .as_deref()
        .and_then(|c| ctx.containers.get(c))
        .cloned();
    let mut look = None;
    if let (Some(name), Some(id), false) = (&container, &container_id, failed) {
        match ctx.observe(name).await {
            Ok(o) => {
                state = Some(o.state.clone());
                journal.emit(Event::Observation {
                    at,
                    container_id: id.clone(),
                    observation: o.clone(),
                });
                look = Some(o);
            }
            Err(e) => tracing::warn!("observing {name}: {e:#}"),
        }
    }
    ctx.anchors
        .after(step.action.effect(), container.as_deref(), look);
    // Make the step's events complete: the catch-up query of the daemon's event log.
    if let Some(id) = &container_id {
        let b = tokio::time::Instant::now();
        if let Err(why) = events.barrier(started_unix, BARRIER_DEADLINE).await {
            events.gap(finished, journal.now(), why);
        }
        tracing::debug!(elapsed = ?b.elapsed(), "event barrier");
        let expected: Vec<&str> = step
            .expect
            .as_ref()
            .and_then(|e| e.events.as_ref())
            .map(|v| v.present().iter().map(String::as_str).collect())
            .unwrap_or_default();
        let auto_remove = container
            .as_deref()
            .and_then(|c| plan.scenario.containers.get(c))
            .is_some_and(|c| c.auto_remove);
        if !failed && events_can_still_come(state.as_deref(), auto_remove) {
            let until = tokio::time::Instant::now() + EVENT_SETTLE;
            while !expected.iter().all(|a| events.has(id, a, started))
                && tokio::time::Instant::now() < until
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    if step.expect.as_ref().is_some_and(|e| e.kernel_log.is_some()) {
        sh.kernel.catch_up(Duration::from_secs(2)).await;
    }
    let observed_until = journal.now();
    journal.emit_at(observed_until, Event::StepSettled { at });
    // Measures from the daemon's own timestamps, over the step's events.
    if let Some(id) = &container_id {
        let (step_events, all) = events.snapshot(id, started, observed_until);
        let step_events: Vec<&crate::record::EventRecord> = step_events.iter().collect();
        for measure in step.action.daemon_measures(&step_events, &all) {
            emit_measure(&journal, at, measure);
        }
    }
    failed
}

/// Journals each container's last output and final state before the iteration's undo removes
/// it; each read is bounded, so a daemon that stopped answering costs seconds, not the run.
async fn evidence(ctx: &Ctx<'_>) {
    const READ_DEADLINE: Duration = Duration::from_secs(5);
    const LINES: usize = 200;
    // The last bytes of one stream, cut at a character boundary; whether anything was left out.
    let tail = |text: String| -> (String, bool) {
        let keep = crate::record::OUTPUT_TAIL_BYTES;
        if text.len() > keep {
            let mut cut = text.len() - keep;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            (text[cut..].to_string(), true)
        } else {
            let full = text.lines().count() >= LINES;
            (text, full)
        }
    };
    let mut containers: Vec<(&String, &String)> = ctx.containers.iter().collect();
    containers.sort();
    for (name, id) in containers {
        let mut out = crate::record::ContainerOutput {
            container: name.clone(),
            id: id.clone(),
            ..Default::default()
        };
        let mut errors = Vec::new();
        match tokio::time::timeout(READ_DEADLINE, ctx.docker.logs_by_stream(id, LINES)).await {
            Ok(Ok((stdout, stderr))) => {
                let (a, cut_a) = tail(stdout);
                let (b, cut_b) = tail(stderr);
                (out.stdout, out.stderr, out.truncated) = (a, b, cut_a || cut_b);
            }
            Ok(Err(e)) => errors.push(format!("output: {e:#}")),
            Err(_) => errors.push(format!("output: no answer within {READ_DEADLINE:?}")),
        }
        match tokio::time::timeout(READ_DEADLINE, ctx.docker.observe(id)).await {
            Ok(Ok(o)) => out.observation = Some(o),
            Ok(Err(e)) => errors.push(format!("state: {e:#}")),
            Err(_) => errors.push(format!("state: no answer within {READ_DEADLINE:?}")),
        }
        if !errors.is_empty() {
            out.error = Some(errors.join("; "));
        }
        ctx.journal.emit(Event::ContainerOutput {
            scenario: ctx.at.scenario,
            iteration: ctx.at.iteration,
            output: out,
        });
    }
}

fn emit_measure(journal: &Journal, at: At, measure: Measure) {
    journal.emit(Event::Measure { at, measure });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_type_not_text() {
        let api = anyhow::Error::new(NoAnswer {
            what: "stop container x".into(),
            deadline: Duration::from_secs(3),
        })
        .context("stopping web");
        assert_eq!(error_kind(&api), ErrorKind::ApiUnresponsive);
        let host = anyhow::Error::new(HostError::Timeout {
            what: "tc".into(),
            deadline: Duration::from_secs(1),
        });
        assert_eq!(error_kind(&host), ErrorKind::HostUnresponsive);
        // Words in a message decide nothing.
        let text = anyhow::anyhow!("docker: ping: no answer within 2s");
        assert_eq!(error_kind(&text), ErrorKind::Failed);
    }

    #[test]
    fn events_are_awaited_only_while_they_can_come() {
        assert!(events_can_still_come(Some("running"), false));
        assert!(events_can_still_come(Some("exited"), true));
        assert!(!events_can_still_come(Some("exited"), false));
        assert!(!events_can_still_come(Some("removed"), true));
        assert!(!events_can_still_come(None, false));
    }
}
