//! Running a plan on several managed daemons at once (`run --jobs N`): each job owns a target and
//! takes the next scenario of the plan; a scenario that needs the host to itself
//! ([`PlannedScenario::exclusive`]) waits until the others are done and runs alone, and the
//! scenarios after it wait for it. Every scenario keeps its index in the plan, so the journal, the
//! record and every report stay in plan order whatever order they finish in.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::{run_scenario, RunOptions};
use crate::ctx::RunEnv;
use crate::fs::MadeFs;
use crate::scenario::PlannedScenario;
use engine::Target;
use host::forensics::Forensics;
use journal::{Event, Journal};
use ledger::Ledger;

/// One job: its target, the fixture image's tag on that target's daemon, and how changes are
/// undone there.
pub struct Job<'a> {
    /// The job's own target.
    pub target: &'a mut Target,
    /// The fixture image's tag on its daemon.
    pub fixture: Option<String>,
    /// How changes on its daemon are undone.
    pub env: Arc<RunEnv>,
}

/// What every job shares.
pub struct Shared<'a> {
    /// The run id.
    pub run_id: &'a str,
    /// Cancelled by SIGINT or SIGTERM.
    pub cancel: &'a CancellationToken,
    /// Forensics settings.
    pub forensics: &'a Forensics,
    /// The run's journal.
    pub journal: &'a Journal,
    /// The run's ledger.
    pub ledger: &'a Ledger,
    /// The run's own directory (filesystems made for scenarios are mounted in it).
    pub run_dir: &'a std::path::Path,
    /// The fixture image's build context, when not made from this host's binaries.
    pub fixture_context: Option<&'a std::path::Path>,
}

/// Runs the scenarios of `plans` whose indices are in `runnable` (in that order) on the jobs.
pub async fn run_plan(
    jobs: Vec<Job<'_>>,
    plans: &[PlannedScenario],
    runnable: &[usize],
    shared: &Shared<'_>,
) {
    let queue = Mutex::new(runnable.iter().copied().collect::<VecDeque<usize>>());
    // Readers run side by side; an exclusive scenario takes it for writing, alone. tokio's lock is
    // fair, so the scenarios queued after an exclusive one wait for it too.
    let gate = tokio::sync::RwLock::new(());
    futures_util::future::join_all(
        jobs.into_iter()
            .map(|job| run_job(job, plans, shared, &queue, &gate)),
    )
    .await;
}

/// One job: takes the next scenario until none is left (or the run is cancelled).
async fn run_job(
    job: Job<'_>,
    plans: &[PlannedScenario],
    shared: &Shared<'_>,
    queue: &Mutex<VecDeque<usize>>,
    gate: &tokio::sync::RwLock<()>,
) {
    let Job {
        target,
        fixture,
        env,
    } = job;
    loop {
        if shared.cancel.is_cancelled() {
            return;
        }
        let Some(index) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
            return;
        };
        let plan = &plans[index];
        let (_read, _write) = match plan.exclusive() {
            Some(_) => (None, Some(gate.write().await)),
            None => (Some(gate.read().await), None),
        };
        if shared.cancel.is_cancelled() {
            return;
        }
        let mut made = None;
        let prepared = prepare(target, plan, index, shared, &env, &mut made).await;
        let fixture = match prepared {
            Ok(Some(tag)) => Some(tag),
            Ok(None) => fixture.clone(),
            Err(e) => {
                shared
                    .journal
                    .emit(Event::ScenarioStarted { scenario: index });
                shared.journal.emit(Event::ScenarioFinished {
                    scenario: index,
                    error: Some(format!("preparing the daemon: {e:#}")),
                    interrupted: false,
                });
                release(target, shared, &env, made).await;
                continue;
            }
        };
        let opts = RunOptions {
            run_id: shared.run_id,
            fixture_image: fixture.as_deref(),
            cancel: shared.cancel.clone(),
            daemon: target.daemon(),
            forensics: shared.forensics.clone(),
            journal: shared.journal.clone(),
            ledger: shared.ledger.clone(),
            env: env.clone(),
            data_fs: made.as_ref().map(|m: &MadeFs| m.point.clone()),
        };
        run_scenario(target.client(), index, plan, &opts).await;
        release(target, shared, &env, made).await;
    }
}

/// Makes the daemon fit the scenario: on a filesystem of its own when it requires one (made into
/// `made`, with the fixture image loaded there again; its tag is returned).
async fn prepare(
    target: &mut Target,
    plan: &PlannedScenario,
    index: usize,
    shared: &Shared<'_>,
    env: &Arc<RunEnv>,
    made: &mut Option<MadeFs>,
) -> anyhow::Result<Option<String>> {
    let Some(spec) = plan.scenario.requires.data_root else {
        target.prepare(plan, None).await?;
        return Ok(None);
    };
    if target.kind() != engine::TargetKind::Managed {
        anyhow::bail!("a data_root filesystem is made only for a managed daemon");
    }
    let started = std::time::Instant::now();
    let fs = MadeFs::make(&spec, shared.run_dir, index, shared.ledger, env.as_ref()).await?;
    let data_root = fs.data_root();
    *made = Some(fs);
    target.prepare(plan, Some(&data_root)).await?;
    shared.journal.emit(Event::Setup {
        name: format!("{} {} data-root", spec.size, spec.fs.name()),
        seconds: started.elapsed().as_secs_f64(),
    });
    if !super::uses_fixture(plan) {
        return Ok(None);
    }
    let tag = engine::fixture::ensure_image(
        target.client(),
        shared.fixture_context,
        std::time::Duration::from_secs(300),
    )
    .await?;
    Ok(Some(tag))
}

/// Takes the scenario's own filesystem apart: the daemon leaves it first (stopped; the next
/// scenario starts it again on its own data-root), then the ledger undoes it.
async fn release(
    target: &mut Target,
    shared: &Shared<'_>,
    env: &Arc<RunEnv>,
    made: Option<MadeFs>,
) {
    let Some(mut fs) = made else { return };
    if let Err(e) = target.leave_data_root().await {
        tracing::warn!("stopping the daemon on {}: {e:#}", fs.point.display());
    }
    for line in fs.undo(shared.ledger, env.as_ref()).await {
        tracing::debug!("undone: {line}");
    }
}
