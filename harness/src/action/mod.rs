//! Actions: what a step does. Each action is one file with its arguments (as written in scenarios) and
//! how it runs; this file only lists them for the scenario format and dispatches.

mod inspect;
mod kill;
mod sleep;
mod start;
mod stop;
mod wait;

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::record::{EventRecord, Measure};
use crate::runner::Ctx;
use crate::scenario::Scenario;

pub use inspect::Inspect;
pub use kill::Kill;
pub use sleep::Sleep;
pub use start::Start;
pub use stop::Stop;
pub use wait::Wait;

/// A step's action, written as a one-key map: `action: {stop: {container: web, timeout: 5s}}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create (on first use) and start a container.
    Start(Start),
    /// `docker stop`: the stop signal, then SIGKILL after the grace period.
    Stop(Stop),
    /// Send a signal to the container's PID 1 through the daemon (`docker kill -s`).
    Kill(Kill),
    /// Wait until the container exits.
    Wait(Wait),
    /// Do nothing for a while.
    Sleep(Sleep),
    /// Only observe a container (for expectations on its state).
    Inspect(Inspect),
}

/// What every action provides; [`Action`] dispatches to it.
pub trait ActionKind {
    /// Name as written in scenarios.
    const NAME: &'static str;
    /// Containers the action refers to, with their locations, for validation.
    fn container_refs(&self) -> Vec<&Spanned<String>>;
    /// Problems with the arguments that parsing cannot catch.
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
    /// Deadline when the step gives none.
    fn default_deadline(&self, scenario: &Scenario) -> Duration;
    /// Events the action's effect produces, which the runner waits for before judging
    /// (so that daemon-side timings are complete).
    fn implied_events(&self) -> &'static [&'static str] {
        &[]
    }
    /// Runs the action.
    fn run(
        &self,
        ctx: &mut Ctx<'_>,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
    /// Measures derived from the daemon's events of this step (and the iteration's earlier events).
    fn daemon_measures(&self, _step: &[&EventRecord], _all: &[EventRecord]) -> Vec<Measure> {
        Vec::new()
    }
}

macro_rules! dispatch {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            Action::Start($a) => $e,
            Action::Stop($a) => $e,
            Action::Kill($a) => $e,
            Action::Wait($a) => $e,
            Action::Sleep($a) => $e,
            Action::Inspect($a) => $e,
        }
    };
}

fn name_of<A: ActionKind>(_: &A) -> &'static str {
    A::NAME
}

impl Action {
    /// The action's name (`start`, `stop`, ...).
    pub fn name(&self) -> &'static str {
        dispatch!(self, a => name_of(a))
    }

    /// `stop web`, `sleep`: a default step label.
    pub fn describe(&self) -> String {
        match self.container_refs().first() {
            Some(c) => format!("{} {}", self.name(), c.value),
            None => self.name().to_string(),
        }
    }

    /// Containers referred to.
    pub fn container_refs(&self) -> Vec<&Spanned<String>> {
        dispatch!(self, a => a.container_refs())
    }

    /// The container the step's observations are about.
    pub fn container(&self) -> Option<&str> {
        self.container_refs().first().map(|c| c.value.as_str())
    }

    /// Argument problems.
    pub fn problems(&self) -> Vec<String> {
        dispatch!(self, a => a.problems())
    }

    /// Default deadline.
    pub fn default_deadline(&self, scenario: &Scenario) -> Duration {
        dispatch!(self, a => a.default_deadline(scenario))
    }

    /// Events implied by the action.
    pub fn implied_events(&self) -> &'static [&'static str] {
        dispatch!(self, a => a.implied_events())
    }

    /// Runs it.
    pub async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        dispatch!(self, a => a.run(ctx).await)
    }

    /// Daemon-side measures.
    pub fn daemon_measures(&self, step: &[&EventRecord], all: &[EventRecord]) -> Vec<Measure> {
        dispatch!(self, a => a.daemon_measures(step, all))
    }
}

/// The daemon's time between the first `from` event and the first `to` event after it, in nanoseconds.
pub(crate) fn span(events: &[&EventRecord], from: &str, to: &str) -> Option<i64> {
    let a = events.iter().find(|e| e.action == from)?;
    let b = events
        .iter()
        .find(|e| e.action == to && e.time_nano >= a.time_nano)?;
    Some(b.time_nano - a.time_nano)
}
