//! One step: its action within its deadline, healing what it changed, observing its container,
//! settling its events; and the evidence journaled at an iteration's end.

use std::time::Duration;

use crate::ctx::Ctx;
use crate::execute::Execute;
use docker::{api_status, NoAnswer};
use host::HostError;
use journal::{At, Event, Journal};
use model::record::{ErrorKind, Measure, StepOutcome};

use super::Shared;

/// How long the runner waits, after an action, for expected events that can still come.
const EVENT_SETTLE: Duration = Duration::from_secs(3);
/// How long the catch-up query of the daemon's event log may take.
const BARRIER_DEADLINE: Duration = Duration::from_secs(5);

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

/// Runs step `index` (journaled as started at `started`: the run's clock and Unix time) in `ctx`:
/// its action within `deadline`, then heals what it changed, observes its container, moves its
/// anchor and settles its events. Whether it failed.
pub(super) async fn run_step(
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
            Err(e) => ctx.warn(format!("observing {name}: {e:#}")),
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
        let step_events: Vec<&model::record::EventRecord> = step_events.iter().collect();
        for measure in step.action.daemon_measures(&step_events, &all) {
            emit_measure(&journal, at, measure);
        }
    }
    failed
}

/// Journals each container's last output and final state before the iteration's undo removes
/// it; each read is bounded, so a daemon that stopped answering costs seconds, not the run.
pub(super) async fn evidence(ctx: &Ctx<'_>) {
    const READ_DEADLINE: Duration = Duration::from_secs(5);
    const LINES: usize = 200;
    // The last bytes of one stream, cut at a character boundary; whether anything was left out.
    let tail = |text: String| -> (String, bool) {
        let keep = model::record::OUTPUT_TAIL_BYTES;
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
        let mut out = model::record::ContainerOutput {
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
