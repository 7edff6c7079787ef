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
        if let Err(e) = target.prepare(plan).await {
            shared
                .journal
                .emit(Event::ScenarioStarted { scenario: index });
            shared.journal.emit(Event::ScenarioFinished {
                scenario: index,
                error: Some(format!("preparing the daemon: {e:#}")),
                interrupted: false,
            });
            continue;
        }
        let opts = RunOptions {
            run_id: shared.run_id,
            fixture_image: fixture.as_deref(),
            cancel: shared.cancel.clone(),
            daemon: target.daemon(),
            forensics: shared.forensics.clone(),
            journal: shared.journal.clone(),
            ledger: shared.ledger.clone(),
            env: env.clone(),
        };
        run_scenario(target.client(), index, plan, &opts).await;
    }
}
