//! The rollback ledger: the one way the harness undoes what it did. Every change to the host or a
//! daemon is journaled before it is made, with the exact handle that undoes it
//! ([`journal::Change`]); the runner undoes what is due at the end of each step and
//! iteration — on pass, failure, deadline, Ctrl-C, SIGTERM and panic alike — and `shakedown clean`
//! replays the ledgers of dead runs with the same undo code ([`undo_change`]).

mod undo;

use std::sync::{Arc, Mutex};

use host::NetnsHandle;
use journal::{Change, ChangeScope, Event, Journal, JournalError};

pub use undo::{undo_change, UndoEnv};

/// A change's number in the run's ledger.
pub type ChangeId = u64;

/// Work that goes with undoing a change in this process (e.g. stopping the thread that serves an
/// NFQUEUE queue once its rule is gone).
pub type Finisher = Box<dyn FnOnce() -> String + Send>;

struct Open {
    id: ChangeId,
    scope: ChangeScope,
    change: Change,
    netns: Option<NetnsHandle>,
    finisher: Option<Finisher>,
}

#[derive(Default)]
struct State {
    next: ChangeId,
    open: Vec<Open>,
}

/// The run's ledger; clones share it.
#[derive(Clone)]
pub struct Ledger {
    journal: Journal,
    run_id: String,
    state: Arc<Mutex<State>>,
}

impl Ledger {
    /// An empty ledger writing to `journal`.
    pub fn new(journal: Journal, run_id: &str) -> Self {
        Ledger {
            journal,
            run_id: run_id.to_string(),
            state: Arc::default(),
        }
    }

    /// The run id (changes carry it in labels, comments, aliases and file names).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The journal it writes to.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Journals a change about to be made (durably: the caller makes it only after this returns
    /// `Ok`). `netns` is the held namespace a change inside one is undone through.
    pub async fn record(
        &self,
        scope: ChangeScope,
        change: Change,
        netns: Option<NetnsHandle>,
    ) -> Result<ChangeId, JournalError> {
        let id = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let id = s.next;
            s.next += 1;
            s.open.push(Open {
                id,
                scope,
                change: change.clone(),
                netns,
                finisher: None,
            });
            id
        };
        let r = self
            .journal
            .emit_durable(Event::ChangeMade {
                change: id,
                scope,
                handle: change,
            })
            .await;
        if let Err(e) = r {
            // Not journaled, so not to be made: forget it.
            self.take(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Runs `f` on an outstanding change, if it still is.
    fn with_open(&self, id: ChangeId, f: impl FnOnce(&mut Open)) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = s.open.iter_mut().find(|o| o.id == id) {
            f(o);
        }
    }

    /// Makes a change's handle more exact (e.g. a container's id once the daemon answered).
    pub async fn update(&self, id: ChangeId, change: Change) {
        self.with_open(id, |o| o.change = change.clone());
        let _ = self
            .journal
            .emit_durable(Event::ChangeHandle {
                change: id,
                handle: change,
            })
            .await;
    }

    /// Attaches in-process work to run after the change is undone.
    pub fn attach(&self, id: ChangeId, finisher: Finisher) {
        self.with_open(id, |o| o.finisher = Some(finisher));
    }

    fn take(&self, id: ChangeId) -> Option<Open> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let i = s.open.iter().position(|o| o.id == id)?;
        Some(s.open.remove(i))
    }

    /// Records that an action undid a change itself (e.g. `daemon_thaw`, churn removing its
    /// containers): it is no longer outstanding.
    pub fn resolved(&self, id: ChangeId, detail: &str) {
        if self.take(id).is_some() {
            self.journal.emit(Event::ChangeUndone {
                change: id,
                ok: true,
                detail: detail.to_string(),
            });
        }
    }

    /// Marks every outstanding change that matches as undone by an action; returns their ids.
    pub fn resolve_where(&self, pred: impl Fn(&Change) -> bool, detail: &str) -> Vec<ChangeId> {
        let ids: Vec<ChangeId> = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open
            .iter()
            .filter(|o| pred(&o.change))
            .map(|o| o.id)
            .collect();
        for id in &ids {
            self.resolved(*id, detail);
        }
        ids
    }

    /// Outstanding changes that match, oldest first.
    pub fn outstanding(&self, pred: impl Fn(&Change) -> bool) -> Vec<(ChangeId, Change)> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open
            .iter()
            .filter(|o| pred(&o.change))
            .map(|o| (o.id, o.change.clone()))
            .collect()
    }

    /// Undoes one change now; returns what undoing said. A change whose undo fails stays
    /// outstanding (for a later attempt or `shakedown clean`).
    pub async fn undo(&self, id: ChangeId, env: &impl UndoEnv) -> Option<Result<String, String>> {
        let open = self.take(id)?;
        Some(self.undo_open(open, env).await)
    }

    async fn undo_open(&self, mut open: Open, env: &impl UndoEnv) -> Result<String, String> {
        let r = undo_change(&open.change, open.netns.as_ref(), &self.run_id, env).await;
        let r = match (r, open.finisher.take()) {
            (Ok(detail), Some(f)) => {
                match host::blocking("finishing an undo", std::time::Duration::from_secs(30), f)
                    .await
                {
                    Ok(more) if more.is_empty() => Ok(detail),
                    Ok(more) => Ok(format!("{detail}; {more}")),
                    Err(e) => Err(format!("{detail}; {e}")),
                }
            }
            (r, _) => r,
        };
        let (ok, detail) = match &r {
            Ok(d) => (true, d.clone()),
            Err(e) => (false, e.clone()),
        };
        self.journal.emit(Event::ChangeUndone {
            change: open.id,
            ok,
            detail,
        });
        if !ok {
            // Keep it outstanding, without its in-process extras (already spent).
            self.state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .open
                .push(Open {
                    finisher: None,
                    ..open
                });
        }
        r
    }

    /// Undoes, newest first, every outstanding change due when `ending` ends and accepted by
    /// `filter`. Returns one line per change.
    pub async fn undo_due(
        &self,
        ending: ChangeScope,
        env: &impl UndoEnv,
        filter: impl Fn(&Change) -> bool,
    ) -> Vec<String> {
        let due: Vec<Open> = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let (due, keep): (Vec<Open>, Vec<Open>) = std::mem::take(&mut s.open)
                .into_iter()
                .partition(|o| o.scope.due_at(ending) && filter(&o.change));
            s.open = keep;
            due
        };
        let mut lines = Vec::new();
        for open in due.into_iter().rev() {
            let what = open.change.to_string();
            match self.undo_open(open, env).await {
                Ok(d) => lines.push(format!("{what}: {d}")),
                Err(e) => lines.push(format!("FAILED to undo {what}: {e}")),
            }
        }
        lines
    }
}
