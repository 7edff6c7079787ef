//! Live progress, fed by the journal as entries are appended (the display is one more consumer of
//! the run's events). Three ways to show it ([`Mode`]):
//!
//! - `tty`: one indicatif line per running scenario with its current step, and a line per
//!   finished scenario printed above them;
//! - `lines` (stderr is a file or a pipe: CI logs): a line per finished scenario — verdict, wall
//!   time, name — as it finishes, and a heartbeat naming the running steps at most every
//!   [`HEARTBEAT`] while something runs;
//! - `none`: nothing.
//!
//! The verdict of a finished scenario is the judge's, from the entries folded so far — the same
//! judgement as the report's.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use journal::{Entry, Event};
use judge::journal::Folder;
use model::units::format_duration;

/// The longest a `lines` display stays silent while a step runs.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// How progress is shown on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Live lines redrawn in place (a terminal).
    Tty,
    /// Plain lines appended (a file, a pipe, a CI log).
    Lines,
    /// Nothing.
    None,
}

impl Mode {
    /// `tty` when stderr is a terminal, else `lines`.
    pub fn auto() -> Mode {
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            Mode::Tty
        } else {
            Mode::Lines
        }
    }
}

/// What the display knows of the run so far.
#[derive(Default)]
struct State {
    /// Scenario index → (name, steps × repeat), from the plan.
    plan: Vec<(String, u64)>,
    /// The run folded so far, to judge a scenario once it finishes.
    folder: Folder,
    /// Running steps: (scenario, iteration, step) → (scenario name, step label, since).
    running: BTreeMap<(usize, u32, usize), (String, String, Instant)>,
    /// When the last line was written (`lines`).
    last_line: Option<Instant>,
}

/// Progress on stderr.
pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
    state: Mutex<State>,
    bars: Mutex<HashMap<usize, ProgressBar>>,
    stop: Arc<AtomicBool>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new(Mode::auto())
    }
}

impl Progress {
    /// A progress display on stderr, shown as `mode` says.
    pub fn new(mode: Mode) -> Self {
        let multi = MultiProgress::new();
        if mode != Mode::Tty {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        Progress {
            mode,
            multi,
            state: Mutex::new(State::default()),
            bars: Mutex::new(HashMap::new()),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Writes one line: above the live bars on a terminal, appended otherwise.
    fn line(&self, text: &str) {
        match self.mode {
            Mode::Tty => {
                let _ = self.multi.println(text);
            }
            Mode::Lines => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{text}");
                let _ = err.flush();
            }
            Mode::None => {}
        }
    }

    /// Updates the display for one journal entry.
    pub fn on(&self, entry: &Entry) {
        if self.mode == Mode::None {
            return;
        }
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if let Event::RunStarted(_) = &entry.event {
            // A new run (qualify's rounds follow one another through one display).
            *st = State::default();
        }
        st.folder.push(entry);
        match &entry.event {
            Event::Plan { scenarios } => {
                st.plan = scenarios
                    .iter()
                    .map(|s| {
                        (
                            s.scenario.name.clone(),
                            s.scenario.steps.len() as u64 * u64::from(s.repeat),
                        )
                    })
                    .collect();
            }
            Event::ScenarioStarted { scenario } => {
                if self.mode != Mode::Tty {
                    return;
                }
                let Some((name, len)) = st.plan.get(*scenario).cloned() else {
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
                let label = if at.iteration > 0 {
                    format!("#{} {label}", at.iteration + 1)
                } else {
                    label.clone()
                };
                let name = st
                    .plan
                    .get(at.scenario)
                    .map(|p| p.0.clone())
                    .unwrap_or_default();
                st.running.insert(
                    (at.scenario, at.iteration, at.step),
                    (name, label.clone(), Instant::now()),
                );
                if let Some(bar) = self
                    .bars
                    .lock()
                    .ok()
                    .and_then(|b| b.get(&at.scenario).cloned())
                {
                    bar.inc(1);
                    bar.set_message(label);
                }
            }
            Event::StepFinished { at, .. } => {
                st.running.remove(&(at.scenario, at.iteration, at.step));
            }
            Event::ScenarioSkipped { scenario, reason } => {
                let name = st
                    .plan
                    .get(*scenario)
                    .map(|p| p.0.clone())
                    .unwrap_or_default();
                self.line(&format!("SKIP    [{:>8}] {name}: {reason}", "-"));
                st.last_line = Some(Instant::now());
            }
            Event::ScenarioFinished { scenario, .. } => {
                st.running.retain(|k, _| k.0 != *scenario);
                if let Some(bar) = self.bars.lock().ok().and_then(|mut b| b.remove(scenario)) {
                    bar.finish_and_clear();
                }
                if let Some((v, elapsed)) = st.folder.verdict_of(*scenario) {
                    self.line(&format!(
                        "{:<7} [{:>8}] {}",
                        v.outcome.label(),
                        format_duration(elapsed),
                        v.name
                    ));
                    st.last_line = Some(Instant::now());
                }
            }
            _ => {}
        }
    }

    /// This display as a journal listener, to subscribe to a run's events; in `lines` mode it
    /// also starts the heartbeat, which [`Progress::clear`] stops.
    pub fn listener(self: &Arc<Self>) -> journal::Listener {
        if self.mode == Mode::Lines {
            let me = Arc::downgrade(self);
            let stop = self.stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(500));
                    match me.upgrade() {
                        Some(p) => p.heartbeat(Instant::now()),
                        None => return,
                    }
                }
            });
        }
        let p = self.clone();
        Arc::new(move |e| p.on(e))
    }

    /// Writes a heartbeat line when steps are running and nothing was written for [`HEARTBEAT`].
    fn heartbeat(&self, now: Instant) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.running.is_empty() {
            return;
        }
        let since = st.last_line.get_or_insert(now);
        if now.duration_since(*since) < HEARTBEAT {
            return;
        }
        let steps: Vec<String> = st
            .running
            .values()
            .map(|(name, label, t)| {
                format!(
                    "{name}: {label} ({})",
                    format_duration(Duration::from_secs(now.duration_since(*t).as_secs()))
                )
            })
            .collect();
        self.line(&format!("…       running: {}", steps.join("; ")));
        st.last_line = Some(now);
    }

    /// Removes every line still shown, and stops the heartbeat.
    pub fn clear(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(mut b) = self.bars.lock() {
            for (_, bar) in b.drain() {
                bar.finish_and_clear();
            }
        }
    }
}
