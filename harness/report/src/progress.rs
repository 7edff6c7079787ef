//! Live progress, fed by the journal as entries are appended (the display is one more consumer of
//! the run's events): one indicatif line per running scenario with its current step. indicatif
//! hides its bars when stderr is not a terminal, so CI logs stay clean.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use journal::{Entry, Event};

/// Progress lines on stderr.
pub struct Progress {
    multi: MultiProgress,
    /// Scenario index → (name, steps × repeat), from the plan.
    plan: Mutex<Vec<(String, u64)>>,
    bars: Mutex<HashMap<usize, ProgressBar>>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// A progress display on stderr (hidden when stderr is not a terminal).
    pub fn new() -> Self {
        Progress {
            multi: MultiProgress::new(),
            plan: Mutex::new(Vec::new()),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Updates the display for one journal entry.
    pub fn on(&self, entry: &Entry) {
        match &entry.event {
            Event::Plan { scenarios } => {
                if let Ok(mut p) = self.plan.lock() {
                    *p = scenarios
                        .iter()
                        .map(|s| {
                            (
                                s.scenario.name.clone(),
                                s.scenario.steps.len() as u64 * u64::from(s.repeat),
                            )
                        })
                        .collect();
                }
            }
            Event::ScenarioStarted { scenario } => {
                let Some((name, len)) = self
                    .plan
                    .lock()
                    .ok()
                    .and_then(|p| p.get(*scenario).cloned())
                else {
                    return;
                };
                let bar = self.multi.add(ProgressBar::new(len));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix:.bold} [{pos}/{len}] {elapsed} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(name);
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut b) = self.bars.lock() {
                    b.insert(*scenario, bar);
                }
            }
            Event::StepStarted { at, label, .. } => {
                if let Some(bar) = self
                    .bars
                    .lock()
                    .ok()
                    .and_then(|b| b.get(&at.scenario).cloned())
                {
                    bar.inc(1);
                    bar.set_message(if at.iteration > 0 {
                        format!("#{} {label}", at.iteration + 1)
                    } else {
                        label.clone()
                    });
                }
            }
            Event::ScenarioFinished { scenario, .. } => {
                if let Some(bar) = self.bars.lock().ok().and_then(|mut b| b.remove(scenario)) {
                    bar.finish_and_clear();
                }
            }
            _ => {}
        }
    }

    /// This display as a journal listener, to subscribe to a run's events.
    pub fn listener(self: &std::sync::Arc<Self>) -> journal::Listener {
        let p = self.clone();
        std::sync::Arc::new(move |e| p.on(e))
    }

    /// Removes every line still shown.
    pub fn clear(&self) {
        if let Ok(mut b) = self.bars.lock() {
            for (_, bar) in b.drain() {
                bar.finish_and_clear();
            }
        }
    }
}
