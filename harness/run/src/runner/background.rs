//! The iteration's background steps: futures of the iteration's own task, polled while the runner
//! awaits something, and the `join` step that waits for one.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ctx::Ctx;
use journal::{At, Event, Journal};
use model::record::{ErrorKind, Measure, StepOutcome};

/// A background step running: its index, whether it failed, and its context to merge back.
type BgFuture<'s, 'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (usize, bool, Ctx<'a>)> + Send + 's>>;

/// The iteration's background steps: those running (polled only while the runner awaits
/// something, all in the iteration's own task, so none outlives it) and those finished.
pub(super) struct Background<'s, 'a> {
    pub(super) running: futures_util::stream::FuturesUnordered<BgFuture<'s, 'a>>,
    /// Step index → whether it failed.
    finished: BTreeMap<usize, bool>,
    /// Contexts of finished steps, not merged back yet.
    contexts: Vec<Ctx<'a>>,
}

impl<'s, 'a> Background<'s, 'a> {
    pub(super) fn new() -> Self {
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
    pub(super) async fn drive<F: std::future::Future>(&mut self, fg: F) -> F::Output {
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
    pub(super) async fn wait_all(&mut self) {
        use futures_util::StreamExt;
        while let Some(d) = self.running.next().await {
            self.done(d);
        }
    }

    /// Merges finished steps' contexts back; whether any background step failed.
    pub(super) fn merge_into(&mut self, ctx: &mut Ctx<'a>) -> bool {
        for c in self.contexts.drain(..) {
            ctx.merge(c);
        }
        self.finished.values().any(|f| *f)
    }
}

/// A `join` step: waits for the background step `target` within `deadline`. Its own outcome is
/// the wait's; the joined step keeps its own outcome.
pub(super) async fn join(
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
