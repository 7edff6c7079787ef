//! Folding a journal into the run record and the plan it ran: a pure function, so the verdicts of
//! a live run and of `shakedown judge` on its journal are the same by construction. Scenarios the
//! journal does not see finish (a killed run, a cut file) are marked interrupted, which makes
//! their verdicts `unknown`. A journal that breaks its format ends there: its run is `unknown`
//! with the reason, every scenario of it too.

use std::collections::HashMap;
use std::time::Duration;

use super::{At, ChangeScope, End, Entry, Event, Journaled};
use crate::error::{Error, Result};
use crate::record::{
    ChangeRecord, FaultWindow, IterationRecord, RunRecord, ScenarioRecord, StepOutcome, StepRecord,
};
use crate::scenario::PlannedScenario;
use crate::verdict::ScenarioVerdict;

/// A journal folded: the plan it ran and what happened.
#[derive(Clone, Debug)]
pub struct Folded {
    /// The resolved plan.
    pub plans: Vec<PlannedScenario>,
    /// The run record.
    pub record: RunRecord,
}

fn iteration_mut(
    rec: &mut RunRecord,
    scenario: usize,
    iteration: u32,
) -> Option<&mut IterationRecord> {
    rec.scenarios
        .get_mut(scenario)?
        .iterations
        .iter_mut()
        .rev()
        .find(|i| i.index == iteration)
}

fn step_mut(rec: &mut RunRecord, at: At) -> Option<&mut StepRecord> {
    iteration_mut(rec, at.scenario, at.iteration)?
        .steps
        .iter_mut()
        .rev()
        .find(|s| s.index == at.step)
}

/// Follows one entry for [`outstanding`].
fn track(open: &mut Vec<(u64, super::Change)>, e: &Entry) {
    match &e.event {
        Event::ChangeMade { change, handle, .. } => open.push((*change, handle.clone())),
        Event::ChangeHandle { change, handle } => {
            if let Some(o) = open.iter_mut().find(|o| o.0 == *change) {
                o.1 = handle.clone();
            }
        }
        Event::ChangeUndone {
            change, ok: true, ..
        } => open.retain(|o| o.0 != *change),
        _ => {}
    }
}

/// The changes a journal made and did not undo (or failed to undo), oldest first, each with its
/// latest handle: what `shakedown clean` undoes for a dead run.
pub fn outstanding(entries: &[Entry]) -> Vec<(u64, super::Change)> {
    let mut open = Vec::new();
    for e in entries {
        track(&mut open, e);
    }
    open
}

/// [`outstanding`] of a journal file, read entry by entry.
pub fn outstanding_path(path: &std::path::Path) -> Result<Vec<(u64, super::Change)>> {
    let mut open = Vec::new();
    super::read::for_each(path, |e| track(&mut open, &e))?;
    Ok(open)
}

/// Folds entries one at a time, so a journal is never held in memory whole.
#[derive(Default)]
pub struct Folder {
    rec: RunRecord,
    plans: Vec<PlannedScenario>,
    // change id → (index in rec.changes, scope)
    changes: HashMap<u64, (usize, ChangeScope)>,
    // fault change id → (scenario, iteration, index in its `faults`)
    faults: HashMap<u64, (usize, u32, usize)>,
    finished: bool,
}

impl Folder {
    /// Folds one entry in.
    pub fn push(&mut self, entry: &Entry) {
        let Entry { t, event, .. } = entry;
        let t = *t;
        let (rec, plans, changes, faults) = (
            &mut self.rec,
            &mut self.plans,
            &mut self.changes,
            &mut self.faults,
        );
        match event {
            Event::RunStarted(s) => {
                rec.run_id = s.run_id.clone();
                rec.started_unix = s.started_unix;
                rec.target = s.target.clone();
            }
            Event::Plan { scenarios } => {
                *plans = scenarios
                    .iter()
                    .map(|p| PlannedScenario {
                        file: p.file.clone(),
                        scenario: p.scenario.clone(),
                        repeat: p.repeat,
                    })
                    .collect();
                // Every planned scenario has a record; one the journal never sees finish stays
                // interrupted.
                rec.scenarios = plans
                    .iter()
                    .map(|p| ScenarioRecord {
                        name: p.name().to_string(),
                        file: p.file.clone(),
                        interrupted: true,
                        ..Default::default()
                    })
                    .collect();
            }
            Event::Fingerprint { fingerprint } => rec.fingerprint = fingerprint.clone(),
            Event::Setup { name, seconds } => rec.setup.push((name.clone(), *seconds)),
            Event::ScenarioStarted { scenario } => {
                if let Some(s) = rec.scenarios.get_mut(*scenario) {
                    s.started = t;
                }
            }
            Event::IterationStarted {
                scenario,
                iteration,
                ..
            } => {
                if let Some(s) = rec.scenarios.get_mut(*scenario) {
                    s.iterations.push(IterationRecord {
                        index: *iteration,
                        started: t,
                        ..Default::default()
                    });
                }
            }
            Event::ContainerCreated {
                scenario,
                iteration,
                container,
                id,
            } => {
                if let Some(it) = iteration_mut(rec, *scenario, *iteration) {
                    it.containers.insert(container.clone(), id.clone());
                }
            }
            Event::StepStarted {
                at,
                label,
                action,
                container,
                container_id,
                ..
            } => {
                if let Some(it) = iteration_mut(rec, at.scenario, at.iteration) {
                    it.steps.push(StepRecord {
                        index: at.step,
                        label: label.clone(),
                        action: action.clone(),
                        started: t,
                        finished: t,
                        observed_until: t,
                        // Until the journal says how it ended.
                        outcome: StepOutcome::Interrupted,
                        container: container.clone(),
                        container_id: container_id.clone(),
                        observation: None,
                        measures: vec![],
                        facts: Default::default(),
                        forensics: None,
                        samples: vec![],
                        leaks: None,
                    });
                }
            }
            Event::Measure { at, measure } => {
                if let Some(s) = step_mut(rec, *at) {
                    s.measures.push(measure.clone());
                }
            }
            Event::Fact { at, name, value } => {
                if let Some(s) = step_mut(rec, *at) {
                    s.facts.insert(name.clone(), value.clone());
                }
            }
            Event::Sample { at, sample } => {
                if let Some(s) = step_mut(rec, *at) {
                    s.samples.push(sample.clone());
                }
            }
            Event::Leaks { at, findings } => {
                if let Some(s) = step_mut(rec, *at) {
                    s.leaks = Some(findings.clone());
                }
            }
            Event::StepFinished {
                at,
                outcome,
                forensics,
            } => {
                if let Some(s) = step_mut(rec, *at) {
                    s.outcome = outcome.clone();
                    s.finished = t;
                    s.observed_until = t;
                    s.forensics.clone_from(forensics);
                }
            }
            Event::Observation {
                at,
                container_id,
                observation,
            } => {
                if let Some(s) = step_mut(rec, *at) {
                    s.observation = Some(observation.clone());
                    s.container_id.get_or_insert_with(|| container_id.clone());
                }
            }
            Event::StepSettled { at } => {
                if let Some(s) = step_mut(rec, *at) {
                    s.observed_until = t;
                }
            }
            Event::DaemonEvent {
                scenario,
                iteration,
                record,
            } => {
                // Copies (churn) are counted in the journal, not kept: their events belong to no step.
                if record
                    .attributes
                    .contains_key(crate::record::COPY_ATTRIBUTE)
                {
                    return;
                }
                if let Some(it) = iteration_mut(rec, *scenario, *iteration) {
                    it.events.push(record.clone());
                }
            }
            Event::KernelLine {
                scenario,
                iteration,
                line,
            } => {
                if let Some(it) = iteration_mut(rec, *scenario, *iteration) {
                    it.kernel.push(line.clone());
                }
            }
            // The harness's own warnings decide nothing; they are for whoever reads the journal.
            Event::Warning { .. } => {}
            Event::SourceGap {
                scenario,
                iteration,
                gap,
            } => {
                if let Some(it) = iteration_mut(rec, *scenario, *iteration) {
                    it.gaps.push(gap.clone());
                }
            }
            Event::ChangeMade {
                change,
                scope,
                handle,
            } => {
                changes.insert(*change, (rec.changes.len(), *scope));
                rec.changes.push(ChangeRecord {
                    id: *change,
                    description: handle.to_string(),
                    undone: None,
                });
                if let (true, Some((scenario, iteration))) = (handle.is_fault(), scope.iteration())
                {
                    if let Some(it) = iteration_mut(rec, scenario, iteration) {
                        faults.insert(*change, (scenario, iteration, it.faults.len()));
                        it.faults.push(FaultWindow {
                            description: handle.to_string(),
                            from: t,
                            until: None,
                        });
                    }
                }
            }
            Event::ChangeHandle { change, handle } => {
                if let Some((i, _)) = changes.get(change) {
                    rec.changes[*i].description = handle.to_string();
                }
            }
            Event::ChangeUndone { change, ok, detail } => {
                if let Some((scenario, iteration, i)) = faults.get(change).copied() {
                    if let Some(w) =
                        iteration_mut(rec, scenario, iteration).and_then(|it| it.faults.get_mut(i))
                    {
                        w.until = Some(t);
                    }
                }
                let Some((i, scope)) = changes.get(change).copied() else {
                    return;
                };
                let c = &mut rec.changes[i];
                c.undone = Some(if *ok {
                    Ok(detail.clone())
                } else {
                    Err(detail.clone())
                });
                let line = format!(
                    "{}{}: {detail}",
                    if *ok { "" } else { "FAILED to undo " },
                    c.description
                );
                let Some((scenario, iteration)) = scope.iteration() else {
                    return;
                };
                if let Some(it) = iteration_mut(rec, scenario, iteration) {
                    it.undone.push(line);
                }
            }
            Event::ContainerOutput {
                scenario,
                iteration,
                output,
            } => {
                if let Some(it) = iteration_mut(rec, *scenario, *iteration) {
                    it.outputs.push(output.clone());
                }
            }
            Event::IterationFinished { .. } => {}
            Event::ScenarioSkipped { scenario, reason } => {
                if let Some(s) = rec.scenarios.get_mut(*scenario) {
                    s.interrupted = false;
                    s.skipped = Some(reason.clone());
                    s.started = t;
                }
            }
            Event::ScenarioUndecided { scenario, reason } => {
                if let Some(s) = rec.scenarios.get_mut(*scenario) {
                    s.interrupted = false;
                    s.undecided = Some(reason.clone());
                    s.started = t;
                }
            }
            Event::ScenarioFinished {
                scenario,
                error,
                interrupted,
            } => {
                if let Some(s) = rec.scenarios.get_mut(*scenario) {
                    s.interrupted = *interrupted;
                    s.error.clone_from(error);
                    s.elapsed = t.saturating_sub(s.started);
                }
            }
            Event::RunFinished { interrupted } => {
                rec.interrupted.clone_from(interrupted);
                self.finished = true;
            }
        }
    }

    /// The verdict of the plan's scenario `index` from what is folded so far, and its wall time:
    /// how a live display names a scenario's verdict once its end is folded in (the same
    /// judgement as the journal's, which a later entry never changes for a finished scenario).
    pub fn verdict_of(&self, index: usize) -> Option<(ScenarioVerdict, Duration)> {
        let plan = self.plans.get(index)?;
        let mut rec = self.rec.scenarios.get(index)?.clone();
        for it in &mut rec.iterations {
            crate::record::place_kernel_lines(&mut it.kernel);
        }
        Some((crate::verdict::judge(plan, &rec), rec.elapsed))
    }

    /// The plan and the record; `end` says how the journal's text ended. A journal that breaks
    /// its format is not trusted: the run ends with the reason, and no scenario passes or is
    /// skipped — each is `unknown`, naming the reason (the text before the break may have been
    /// mangled too).
    pub fn finish(self, end: End) -> Result<Folded> {
        let Folder {
            mut rec,
            plans,
            finished,
            ..
        } = self;
        if plans.is_empty() {
            return Err(Error::input(
                "the journal has no plan: the run ended before it started any scenario",
            ));
        }
        if let End::Broken(reason) = &end {
            let reason = format!("{reason}: the journal breaks its format there, so no verdict of this run is trusted");
            untrusted(&mut rec, &reason);
            rec.interrupted = Some(reason);
        } else if !finished && rec.interrupted.is_none() {
            rec.interrupted = Some(if end == End::Cut {
                "the journal ends mid-line: the run was killed".into()
            } else {
                "the journal ends before the run finished: the run was killed or is still going"
                    .into()
            });
        }
        for it in rec
            .scenarios
            .iter_mut()
            .flat_map(|s| s.iterations.iter_mut())
        {
            crate::record::place_kernel_lines(&mut it.kernel);
        }
        Ok(Folded { plans, record: rec })
    }
}

/// Marks every scenario of a journal that broke its format as not decided: one that ran is
/// interrupted with the reason as its error, one journaled as skipped is undecided.
fn untrusted(rec: &mut RunRecord, reason: &str) {
    for s in &mut rec.scenarios {
        if s.skipped.take().is_some() || s.undecided.is_some() {
            s.undecided = Some(reason.to_string());
            continue;
        }
        s.interrupted = true;
        s.error = Some(match s.error.take() {
            Some(e) => format!("{reason}; {e}"),
            None => reason.to_string(),
        });
    }
}

/// Folds a journal's entries into the plan and the run record.
pub fn fold(journal: &Journaled) -> Result<Folded> {
    let mut f = Folder::default();
    for e in &journal.entries {
        f.push(e);
    }
    f.finish(if journal.cut { End::Cut } else { End::Complete })
}

/// Reads and folds a journal file, entry by entry.
pub fn fold_path(path: &std::path::Path) -> Result<Folded> {
    let mut f = Folder::default();
    let end = super::read::scan_path(path, |e| f.push(&e))?;
    f.finish(end)
}

/// Reads and folds a journal from `input` (named `name` in messages), entry by entry: what
/// [`fold_path`] does with a file, for a journal in memory or arriving on a stream.
pub fn fold_reader(input: impl std::io::BufRead, name: &str) -> Result<Folded> {
    let mut f = Folder::default();
    let end = super::read::scan(input, name, |e| f.push(&e))?;
    f.finish(end)
}
