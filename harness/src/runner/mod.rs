//! The runner: executes planned scenarios on a target and records what happened. It decides nothing
//! about pass or fail (that is `verdict`), and it always cleans up: on pass, failure, error, Ctrl-C and
//! panic (a panicking scenario runs in a task of its own; cleanup runs outside it).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::docker::{
    CreateSpec, DockerClient, RawEvent, LABEL_CONTAINER, LABEL_HOST, LABEL_PID, LABEL_RUN,
    LABEL_SCENARIO,
};
use crate::error::{Error, Result};
use crate::record::{
    EventRecord, IterationRecord, Measure, ScenarioRecord, StepOutcome, StepRecord,
};
use crate::scenario::PlannedScenario;
use crate::target::DaemonHandle;

/// The name scenarios use for the harness's own offline image.
pub const FIXTURE_IMAGE: &str = "fixture";

/// How long the runner waits, after an action, for the events it implies or expects.
const EVENT_SETTLE: Duration = Duration::from_secs(3);

/// Receives progress as the run goes; the terminal progress display implements it.
pub trait Observer: Send + Sync {
    /// A scenario starts.
    fn scenario_started(&self, _name: &str, _steps: usize, _repeat: u32) {}
    /// A step starts.
    fn step_started(&self, _scenario: &str, _iteration: u32, _label: &str) {}
    /// A scenario's steps are done (before judging).
    fn scenario_finished(&self, _name: &str) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// What a running action can use: the daemon, the scenario, the containers created so far.
pub struct Ctx<'a> {
    /// The daemon client.
    pub docker: &'a DockerClient,
    /// The scenario being run.
    pub plan: &'a PlannedScenario,
    /// The run id (label value).
    pub run_id: &'a str,
    /// The fixture image's tag on this daemon, when the scenario uses it.
    pub fixture_image: Option<&'a str>,
    /// 0-based iteration.
    pub iteration: u32,
    /// The current step's deadline, for actions that pass it on to a long call.
    pub step_deadline: Duration,
    /// Scenario container name → docker id, for this iteration.
    pub containers: HashMap<String, String>,
    /// Measures an action adds besides its duration.
    pub measures: Vec<Measure>,
    /// Facts an action adds (exec exit code, API state during a fault, ...).
    pub facts: BTreeMap<String, String>,
    /// The daemon process, when the harness controls it (daemon faults need it).
    pub daemon: Option<DaemonHandle>,
    /// Forensics settings.
    pub forensics: Forensics,
    /// A bundle an action already wrote for this step.
    pub bundle: Option<PathBuf>,
    /// Each container's latest observation in this iteration (after the step that observed it).
    pub observed: HashMap<String, crate::record::Observation>,
    /// A container's state just before an action disturbed it (e.g. `kill_process`), which later
    /// steps compare with: a restart may complete before the disturbing step's own observation.
    pub baseline: HashMap<String, crate::record::Observation>,
    /// Host state at the iteration's start, for `check_leaks`.
    pub leak_baseline: Option<crate::leaks::Snapshot>,
    /// Host changes to undo after the iteration (injected leaks).
    pub undo: Vec<Undo>,
    /// Probe samples of the current step.
    pub samples: Vec<crate::record::Sample>,
    /// A bundle started while the daemon was frozen, waiting for its goroutine dump (written once
    /// the daemon runs again): `daemon_thaw` completes it.
    pub pending_bundle: Option<(crate::forensics::Bundle, crate::forensics::DumpRequest)>,
    /// The scenario's start, for sample offsets.
    pub t0: Instant,
}

/// A host change an action made that the runner undoes after the iteration, whatever happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undo {
    /// Delete a network interface the harness created.
    DeleteLink(String),
    /// Unmount a bind mount the harness made, and remove its file.
    Unmount(PathBuf),
}

impl Undo {
    /// Undoes the change; returns a line for the record.
    pub fn apply(&self) -> String {
        match self {
            Undo::DeleteLink(name) => delete_link(name),
            Undo::Unmount(path) => {
                let r = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
                let _ = std::fs::remove_file(path);
                format!(
                    "undo: unmounted {}{}",
                    path.display(),
                    if r.is_ok() { "" } else { " (was not mounted)" }
                )
            }
        }
    }
}

/// Deletes a network interface the harness created, retrying while the kernel is busy with it.
pub fn delete_link(name: &str) -> String {
    let exists = || Path::new("/sys/class/net").join(name).exists();
    for _ in 0..10 {
        if !exists() {
            return format!("undo: deleted interface {name}");
        }
        let _ = std::process::Command::new("ip")
            .args(["link", "del", name])
            .output();
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("undo failed: interface {name} still exists (`shakedown clean` removes it)")
}

/// What an iteration task shares with the runner outside it, so cleanup works even after a panic.
#[derive(Default)]
struct Shared {
    containers: HashMap<String, String>,
    undo: Vec<Undo>,
}

impl Ctx<'_> {
    /// The daemon handle, or an error saying daemon faults need one.
    pub fn daemon(&self) -> anyhow::Result<DaemonHandle> {
        self.daemon.clone().ok_or_else(|| {
            anyhow!(
                "this action acts on the daemon process, which this target does not control \
                 (use --target managed)"
            )
        })
    }

    /// Deadline for one long call inside an action (stop, wait, exec): a little beyond the step's, so
    /// that a hang is reported as the step missing its deadline.
    pub fn call_deadline(&self) -> Duration {
        self.step_deadline + Duration::from_secs(1)
    }

    /// Replaces `{{ip:NAME}}` in arguments with the IP address of scenario container NAME (which
    /// must be running), so a client can be pointed at its dependency.
    pub async fn expand(&self, args: Vec<String>) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::with_capacity(args.len());
        for mut a in args {
            while let Some(start) = a.find("{{ip:") {
                let end = a[start..]
                    .find("}}")
                    .map(|e| start + e)
                    .ok_or_else(|| anyhow!("unclosed {{{{ip:...}}}} in {a:?}"))?;
                let name = a[start + 5..end].to_string();
                let ip = self.ip_of(&name).await?;
                a.replace_range(start..end + 2, &ip);
            }
            out.push(a);
        }
        Ok(out)
    }

    /// The IP address of a running scenario container.
    pub async fn ip_of(&self, name: &str) -> anyhow::Result<String> {
        let id = self.id(name)?;
        self.docker
            .observe(&id)
            .await?
            .ip
            .ok_or_else(|| anyhow!("container {name:?} has no IP address (is it running?)"))
    }

    /// Records a measured time.
    pub fn measure(&mut self, name: &str, d: Duration) {
        self.measures.push(Measure::monotonic(name, d));
    }

    /// Records a fact.
    pub fn fact(&mut self, name: &str, value: impl ToString) {
        self.facts.insert(name.to_string(), value.to_string());
    }

    /// Polls the API with a real call (list containers), each attempt bounded by `attempt`, until
    /// it answers or `deadline` passes; returns how long that took.
    pub async fn wait_api(
        &self,
        attempt: Duration,
        deadline: Duration,
    ) -> anyhow::Result<Duration> {
        let t = Instant::now();
        loop {
            let ok = tokio::time::timeout(attempt, self.docker.list_labeled(LABEL_RUN))
                .await
                .is_ok_and(|r| r.is_ok());
            if ok {
                return Ok(t.elapsed());
            }
            if t.elapsed() >= deadline {
                anyhow::bail!(
                    "the Docker API did not answer within {}",
                    crate::units::format_duration(deadline)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The docker id of a scenario container that has been created.
    pub fn id(&self, name: &str) -> anyhow::Result<String> {
        self.containers.get(name).cloned().ok_or_else(|| {
            anyhow!("container {name:?} has not been created yet: `start` it in an earlier step")
        })
    }

    /// The docker name the harness gives a scenario container.
    pub fn docker_name(&self, name: &str) -> String {
        let short: String = self.run_id.chars().take(8).collect();
        format!(
            "sd-{short}-{}-{name}-{}",
            self.plan.name(),
            self.iteration + 1
        )
    }

    /// Creates the container on first use and returns its id.
    pub async fn ensure_created(&mut self, name: &str) -> anyhow::Result<String> {
        if let Some(id) = self.containers.get(name) {
            return Ok(id.clone());
        }
        let docker_name = self.docker_name(name);
        let id = self.create_like(name, &docker_name).await?;
        self.containers.insert(name.to_string(), id.clone());
        Ok(id)
    }

    /// Creates a container from a scenario container's spec under another docker name (churn makes
    /// many); it carries the run's labels, so cleanup finds it. Returns its id.
    pub async fn create_like(&self, name: &str, docker_name: &str) -> anyhow::Result<String> {
        let spec = self
            .plan
            .scenario
            .containers
            .get(name)
            .ok_or_else(|| anyhow!("unknown container {name:?}"))?;
        let image = match spec.image.as_deref() {
            None | Some(FIXTURE_IMAGE) => self
                .fixture_image
                .ok_or_else(|| anyhow!("the fixture image was not prepared"))?,
            Some(other) => other,
        };
        let mut labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
        labels.insert(LABEL_RUN.into(), self.run_id.into());
        labels.insert(LABEL_SCENARIO.into(), self.plan.name().into());
        labels.insert(LABEL_CONTAINER.into(), name.into());
        labels.insert(LABEL_PID.into(), std::process::id().to_string());
        labels.insert(LABEL_HOST.into(), crate::hostname());
        let cmd = match spec.command.as_ref() {
            None => None,
            Some(c) => Some(self.expand(c.to_args()).await?),
        };
        let create = CreateSpec {
            image,
            cmd,
            entrypoint: spec.entrypoint.clone(),
            env: spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            labels,
            init: spec.init,
            memory: spec.memory.map(|m| m.bytes()),
            memory_swap: spec.memory_swap.map(|m| m.bytes()),
            stop_signal: spec.stop_signal.clone(),
            stop_timeout: spec.stop_timeout.map(|t| t.get().as_secs() as i64),
            restart: spec.restart.map(|r| r.as_docker()),
            auto_remove: spec.auto_remove,
            publish: spec.publish.clone(),
        };
        self.docker.create(docker_name, create.to_body()).await
    }
}

/// Options of a run that the runner needs.
pub struct RunOptions<'a> {
    /// Run id (label value).
    pub run_id: &'a str,
    /// The fixture image tag on the target daemon, when any scenario uses it.
    pub fixture_image: Option<&'a str>,
    /// Cancelled by Ctrl-C.
    pub cancel: CancellationToken,
    /// Progress.
    pub observer: &'a dyn Observer,
    /// The daemon process, when the target controls it.
    pub daemon: Option<DaemonHandle>,
    /// Forensics settings.
    pub forensics: Forensics,
}

/// When to write forensics bundles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum ForensicsPolicy {
    /// For every scenario, at its end, and at every missed deadline or unresponsive API.
    Always,
    /// When a step misses its deadline or the API stops answering (default).
    #[default]
    OnFailure,
    /// Never.
    Never,
}

/// Forensics settings for a run.
#[derive(Clone, Debug, Default)]
pub struct Forensics {
    /// When.
    pub policy: ForensicsPolicy,
    /// Where bundles go (`<dir>/<scenario>-<iteration>-<step>/`).
    pub dir: PathBuf,
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
                     (no registry is used: load it first, or use `image: fixture`)",
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

/// Runs one scenario, all its iterations, and cleans up after each. Never panics outward: a panic in
/// the steps is recorded as the scenario's error after cleanup.
pub async fn run_scenario(
    docker: &DockerClient,
    plan: &PlannedScenario,
    opts: &RunOptions<'_>,
) -> ScenarioRecord {
    let t0 = Instant::now();
    let mut rec = ScenarioRecord {
        name: plan.name().to_string(),
        file: plan.file.clone(),
        ..Default::default()
    };
    opts.observer
        .scenario_started(plan.name(), plan.scenario.steps.len(), plan.repeat);
    for iteration in 0..plan.repeat {
        if opts.cancel.is_cancelled() {
            rec.interrupted = true;
            break;
        }
        let (it, created, problem) = run_iteration(docker, plan, opts, iteration, t0).await;
        rec.iterations.push(it);
        // Healing always runs, before cleanup (which needs a daemon that answers).
        if let Some(d) = &opts.daemon {
            rec.cleanup.extend(heal(d, docker).await);
        }
        rec.cleanup
            .extend(cleanup(docker, opts.run_id, plan.name(), &created).await);
        if let Some(p) = problem {
            if opts.cancel.is_cancelled() {
                rec.interrupted = true;
            } else {
                rec.error = Some(p);
            }
            break;
        }
        if opts.cancel.is_cancelled() {
            rec.interrupted = true;
            break;
        }
    }
    rec.elapsed = t0.elapsed();
    opts.observer.scenario_finished(plan.name());
    rec
}

/// One iteration in a task of its own so that a panic cannot skip cleanup. Returns the record, the
/// containers created, and a problem that ended it early (panic, interruption).
async fn run_iteration(
    docker: &DockerClient,
    plan: &PlannedScenario,
    opts: &RunOptions<'_>,
    iteration: u32,
    t0: Instant,
) -> (IterationRecord, HashMap<String, String>, Option<String>) {
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Shared::default()));
    let task = {
        let docker = docker.clone();
        let owned_plan = plan.clone();
        let run_id = opts.run_id.to_string();
        let fixture = opts.fixture_image.map(str::to_string);
        let cancel = opts.cancel.clone();
        let created = shared.clone();
        let daemon = opts.daemon.clone();
        let forensics = opts.forensics.clone();
        // The observer is not 'static; progress from inside the task goes through a channel.
        let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let handle = tokio::spawn(async move {
            steps(
                Ctx {
                    docker: &docker,
                    plan: &owned_plan,
                    run_id: &run_id,
                    fixture_image: fixture.as_deref(),
                    iteration,
                    step_deadline: Duration::ZERO,
                    containers: HashMap::new(),
                    measures: Vec::new(),
                    facts: BTreeMap::new(),
                    daemon,
                    forensics,
                    bundle: None,
                    observed: HashMap::new(),
                    baseline: HashMap::new(),
                    leak_baseline: None,
                    undo: Vec::new(),
                    samples: Vec::new(),
                    pending_bundle: None,
                    t0,
                },
                t0,
                &cancel,
                &created,
                &ptx,
            )
            .await
        });
        let mut handle = handle;
        loop {
            tokio::select! {
                label = prx.recv() => {
                    if let Some(l) = label {
                        opts.observer.step_started(plan.name(), iteration, &l);
                    }
                }
                res = &mut handle => break res,
            }
        }
    };
    let (created, undo) = shared
        .lock()
        .map(|m| (m.containers.clone(), m.undo.clone()))
        .unwrap_or_default();
    let undone: Vec<String> = undo.iter().rev().map(Undo::apply).collect();
    match task {
        Ok(mut it) => {
            it.undone = undone;
            (it, created, None)
        }
        Err(e) => {
            let msg = if e.is_panic() {
                let p = e.into_panic();
                let text = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                format!("the harness panicked during the scenario: {text}")
            } else {
                "the scenario task was cancelled".to_string()
            };
            (
                IterationRecord {
                    index: iteration,
                    undone,
                    ..Default::default()
                },
                created,
                Some(msg),
            )
        }
    }
}

async fn steps(
    mut ctx: Ctx<'_>,
    t0: Instant,
    cancel: &CancellationToken,
    created: &std::sync::Mutex<Shared>,
    progress: &tokio::sync::mpsc::UnboundedSender<String>,
) -> IterationRecord {
    let (docker, plan, iteration) = (ctx.docker, ctx.plan, ctx.iteration);
    let mut it = IterationRecord {
        index: iteration,
        ..Default::default()
    };
    let mut events = Events::subscribe(docker, ctx.run_id);
    // The kernel log is this host's: watch it only when the daemon is local.
    let mut kernel = if docker.host().starts_with("unix://") || docker.host().starts_with('/') {
        match crate::kernel::Watcher::start() {
            Ok(w) => Some(w),
            Err(e) => {
                it.kernel_unavailable = Some(format!("cannot read /dev/kmsg: {e}"));
                None
            }
        }
    } else {
        it.kernel_unavailable = Some(format!(
            "the daemon at {} is not on this host",
            docker.host()
        ));
        None
    };
    if plan
        .scenario
        .steps
        .iter()
        .any(|s| matches!(s.action, crate::action::Action::CheckLeaks(_)))
    {
        ctx.leak_baseline = Some(crate::leaks::snapshot(
            &crate::action::leak_scope(&ctx).await,
        ));
    }
    let mut failed = false;
    for (index, step) in plan.scenario.steps.iter().enumerate() {
        let label = plan.step_label(index);
        let container = step.action.container().map(str::to_string);
        if failed || cancel.is_cancelled() {
            let now = t0.elapsed();
            it.steps.push(StepRecord {
                index,
                label,
                action: step.action.name().into(),
                started: now,
                finished: now,
                observed_until: now,
                outcome: StepOutcome::Skipped,
                container,
                observation: None,
                measures: vec![],
                facts: Default::default(),
                forensics: None,
                samples: vec![],
            });
            continue;
        }
        let _ = progress.send(label.clone());
        let deadline = step
            .deadline
            .map(|d| d.get())
            .unwrap_or_else(|| step.action.default_deadline(&plan.scenario));
        ctx.step_deadline = deadline;
        ctx.measures.clear();
        ctx.facts.clear();
        ctx.samples.clear();
        ctx.bundle = None;
        let started = t0.elapsed();
        let result = tokio::select! {
            r = tokio::time::timeout(deadline, step.action.run(&mut ctx)) => Some(r),
            _ = cancel.cancelled() => None,
        };
        let finished = t0.elapsed();
        if let Ok(mut c) = created.lock() {
            c.containers.clone_from(&ctx.containers);
            c.undo.clone_from(&ctx.undo);
        }
        let outcome = match result {
            None => StepOutcome::Error {
                message: "interrupted".into(),
            },
            Some(Err(_)) => StepOutcome::DeadlineExceeded { deadline },
            Some(Ok(Err(e))) => StepOutcome::Error {
                message: format!("{e:#}"),
            },
            Some(Ok(Ok(()))) => StepOutcome::Ok,
        };
        failed = outcome != StepOutcome::Ok;
        let mut measures = vec![Measure::monotonic("duration", finished - started)];
        measures.append(&mut ctx.measures);
        let facts = std::mem::take(&mut ctx.facts);
        let mut bundle = ctx.bundle.take();
        if bundle.is_none() && needs_forensics(&outcome) {
            bundle = collect_forensics(&ctx, &label, &format!("{outcome:?}")).await;
        }
        let id = container.as_deref().and_then(|c| ctx.containers.get(c));
        let observation = match id {
            Some(id) if !failed => match docker.observe(id).await {
                Ok(o) => Some(o),
                Err(e) => {
                    tracing::warn!("observing {id}: {e:#}");
                    None
                }
            },
            _ => None,
        };
        // Wait for the events the action implies or the step expects, so daemon timings are complete.
        let mut wanted: Vec<&str> = step.action.implied_events().to_vec();
        if let Some(ev) = step.expect.as_ref().and_then(|e| e.events.as_ref()) {
            wanted.extend(ev.iter().map(String::as_str));
        }
        let settle_until = Instant::now() + EVENT_SETTLE;
        loop {
            events.drain(&mut it.events, t0);
            drain_kernel(&mut kernel, &mut it.kernel, t0);
            let have = |a: &str| {
                it.events.iter().any(|e| {
                    e.action == a
                        && e.t >= started
                        && e.container.as_deref() == container.as_deref()
                })
            };
            let kernel_ok = step
                .expect
                .as_ref()
                .and_then(|e| e.kernel_log.as_ref())
                .is_none_or(|k| {
                    kernel.is_none()
                        || k.present
                            .iter()
                            .all(|c| it.kernel.iter().any(|l| l.class == Some(*c)))
                });
            if failed || ((container.is_none() || wanted.iter().all(|a| have(a))) && kernel_ok) {
                break;
            }
            if Instant::now() >= settle_until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if let (Some(c), Some(o)) = (&container, &observation) {
            ctx.observed.insert(c.clone(), o.clone());
        }
        let observed_until = t0.elapsed();
        let mut rec = StepRecord {
            index,
            label,
            action: step.action.name().into(),
            started,
            finished,
            observed_until,
            outcome,
            container,
            observation,
            measures,
            facts,
            forensics: bundle,
            samples: std::mem::take(&mut ctx.samples),
        };
        let step_events: Vec<&EventRecord> = it.step_events(&rec).collect();
        let mut derived = step.action.daemon_measures(&step_events, &it.events);
        rec.measures.append(&mut derived);
        it.steps.push(rec);
    }
    events.drain(&mut it.events, t0);
    drain_kernel(&mut kernel, &mut it.kernel, t0);
    if let Some((b, _)) = ctx.pending_bundle.take() {
        let _ = b.finish();
    }
    it.containers = ctx
        .containers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if ctx.forensics.policy == ForensicsPolicy::Always {
        collect_forensics(&ctx, "end", "forensics: always").await;
    }
    it
}

/// The run's event stream, resubscribed (from the last event's time) when a daemon restart ends it.
struct Events<'a> {
    docker: &'a DockerClient,
    run_id: &'a str,
    rx: tokio::sync::mpsc::UnboundedReceiver<anyhow::Result<RawEvent>>,
    last_nano: i64,
    ended: bool,
}

impl<'a> Events<'a> {
    fn subscribe(docker: &'a DockerClient, run_id: &'a str) -> Self {
        Events {
            docker,
            run_id,
            rx: docker.events(run_id, None),
            last_nano: 0,
            ended: false,
        }
    }

    fn drain(&mut self, into: &mut Vec<EventRecord>, t0: Instant) {
        if self.ended {
            // Resubscribe from the last second seen; duplicates of that second are dropped below.
            let since = (self.last_nano > 0).then_some(self.last_nano / 1_000_000_000);
            self.rx = self.docker.events(self.run_id, since);
            self.ended = false;
        }
        loop {
            match self.rx.try_recv() {
                Ok(Ok(ev)) => {
                    let dup = into.iter().any(|e| {
                        e.time_nano == ev.time_nano
                            && e.action == ev.action
                            && e.container == ev.container
                    });
                    self.last_nano = self.last_nano.max(ev.time_nano);
                    if !dup {
                        into.push(EventRecord {
                            t: ev.received.saturating_duration_since(t0),
                            time_nano: ev.time_nano,
                            action: ev.action,
                            container: ev.container,
                            attributes: ev.attributes,
                        });
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!("event stream ended: {e:#}");
                    self.ended = true;
                    break;
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                    self.ended = true;
                    break;
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
            }
        }
    }
}

fn drain_kernel(
    w: &mut Option<crate::kernel::Watcher>,
    into: &mut Vec<crate::record::KernelLine>,
    t0: Instant,
) {
    let Some(w) = w else { return };
    while let Ok(r) = w.rx.try_recv() {
        into.push(crate::record::KernelLine {
            t: t0.elapsed(),
            usec: r.usec,
            priority: r.priority,
            class: crate::kernel::classify(&r.text),
            text: r.text,
        });
    }
}

/// A missed deadline or an API that stopped answering calls for forensics.
fn needs_forensics(outcome: &StepOutcome) -> bool {
    match outcome {
        StepOutcome::DeadlineExceeded { .. } => true,
        StepOutcome::Error { message } => message.contains("no answer"),
        _ => false,
    }
}

/// Writes a forensics bundle for the current step, when the policy allows; returns its directory.
pub async fn collect_forensics(ctx: &Ctx<'_>, label: &str, reason: &str) -> Option<PathBuf> {
    if ctx.forensics.policy == ForensicsPolicy::Never {
        return None;
    }
    let info = match &ctx.daemon {
        Some(d) => {
            // A frozen daemon holds no lock of ours, but a fault in progress might: don't wait long.
            match tokio::time::timeout(Duration::from_secs(2), d.lock()).await {
                Ok(d) => crate::forensics::DaemonInfo {
                    dockerd_pid: d.pid(),
                    exec_root: Some(d.exec_root()),
                    log_path: d.log_path(),
                    containerd_pid: None,
                },
                Err(_) => crate::forensics::DaemonInfo::default(),
            }
        }
        None => crate::forensics::DaemonInfo::default(),
    };
    let name: String = format!("{}-{}-{label}", ctx.plan.name(), ctx.iteration + 1)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let run = async {
        let mut b = crate::forensics::Bundle::create(&ctx.forensics.dir, &name, reason)?;
        b.snapshot(&info).await?;
        b.write_api_answers(&ctx.docker.last_answers())?;
        if let Some(pid) = info.dockerd_pid {
            let req = b.request_goroutine_dumps(&info)?;
            // A stopped daemon writes its dump only once it runs again (`daemon_freeze` collects
            // it after the thaw); a running one within a fraction of a second.
            let wait = if crate::forensics::is_stopped(pid) {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(5)
            };
            b.collect_goroutine_dumps(&req, wait).await?;
        }
        b.finish()
    };
    match tokio::time::timeout(Duration::from_secs(60), run).await {
        Ok(Ok(dir)) => Some(dir),
        Ok(Err(e)) => {
            tracing::warn!("writing forensics: {e:#}");
            None
        }
        Err(_) => {
            tracing::warn!("writing forensics took longer than 60s");
            None
        }
    }
}

/// Brings a managed daemon back to health after faults: thaws a frozen dockerd, starts a stopped
/// one, and waits for its API.
async fn heal(handle: &DaemonHandle, docker: &DockerClient) -> Vec<String> {
    use nix::sys::signal::{kill, Signal};
    let mut log = Vec::new();
    let mut d = handle.lock().await;
    if let Some(pid) = d.pid() {
        if crate::proc::read(pid).is_some_and(|p| p.state == 'T' || p.state == 't') {
            let _ = kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGCONT);
            log.push(format!("healed: thawed dockerd (pid {pid})"));
        }
    }
    if !d.is_running() {
        let opts = d.options().clone();
        match d.start_again(&opts, crate::target::READY_DEADLINE).await {
            Ok(()) => log.push("healed: started the stopped dockerd again".into()),
            Err(e) => log.push(format!("healing failed: starting dockerd: {e:#}")),
        }
    }
    drop(d);
    let t = Instant::now();
    while docker.ping(Duration::from_secs(2)).await.is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            log.push("healing failed: the API does not answer".into());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    log
}

/// Removes the containers an iteration created, then anything else labelled with this run and
/// scenario (a create that timed out on our side may still have happened on the daemon's).
async fn cleanup(
    docker: &DockerClient,
    run_id: &str,
    scenario: &str,
    created: &HashMap<String, String>,
) -> Vec<String> {
    let mut log = Vec::new();
    let mut ids: Vec<(String, String)> = created
        .iter()
        .map(|(n, id)| (n.clone(), id.clone()))
        .collect();
    ids.sort();
    for (name, id) in &ids {
        match docker.remove(id).await {
            Ok(()) => log.push(format!("removed container {name}")),
            Err(e) => log.push(format!("could not remove container {name}: {e:#}")),
        }
    }
    match docker.list_labeled(&format!("{LABEL_RUN}={run_id}")).await {
        Ok(rest) => {
            for (id, name, labels) in rest {
                if labels.get(LABEL_SCENARIO).map(String::as_str) != Some(scenario) {
                    continue;
                }
                match docker.remove(&id).await {
                    Ok(()) => log.push(format!("removed leftover container {name}")),
                    Err(e) => log.push(format!("could not remove container {name}: {e:#}")),
                }
            }
        }
        Err(e) => log.push(format!("could not list the run's containers: {e:#}")),
    }
    log
}
