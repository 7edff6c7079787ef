//! Live progress: one indicatif line per running scenario with its current step. indicatif hides its
//! bars when stderr is not a terminal, so CI logs stay clean.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::runner::Observer;

/// Progress lines on stderr.
pub struct Progress {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
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
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl Observer for Progress {
    fn scenario_started(&self, name: &str, steps: usize, repeat: u32) {
        let bar = self
            .multi
            .add(ProgressBar::new((steps as u64) * u64::from(repeat)));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:.bold} [{pos}/{len}] {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut b) = self.bars.lock() {
            b.insert(name.to_string(), bar);
        }
    }

    fn step_started(&self, scenario: &str, iteration: u32, label: &str) {
        if let Some(bar) = self.bars.lock().ok().and_then(|b| b.get(scenario).cloned()) {
            bar.inc(1);
            bar.set_message(if iteration > 0 {
                format!("#{} {label}", iteration + 1)
            } else {
                label.to_string()
            });
        }
    }

    fn scenario_finished(&self, name: &str) {
        if let Some(bar) = self.bars.lock().ok().and_then(|mut b| b.remove(name)) {
            bar.finish_and_clear();
        }
    }
}
