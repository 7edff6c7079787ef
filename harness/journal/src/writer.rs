//! Appending to the journal. Lines are serialized by the caller and written and flushed by a
//! thread of the journal's own, so a slow disk never stalls an async worker; a change to the host
//! waits until its line has reached the file ([`Journal::emit_durable`]), so a run killed right
//! after still names it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Entry, Event};

/// How long a durable write may take before the change it announces is refused.
const DURABLE_DEADLINE: Duration = Duration::from_secs(10);

/// Why the journal could not take a line.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Writing failed (the first failure, kept).
    #[error("writing the journal {path}: {why}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        why: String,
    },
    /// The writer did not confirm in time.
    #[error("the journal {path} did not confirm a write within {deadline:?}")]
    Timeout {
        /// The file.
        path: PathBuf,
        /// The deadline.
        deadline: Duration,
    },
}

type Ack = tokio::sync::oneshot::Sender<Result<(), String>>;

enum Msg {
    Line(String, Option<Ack>),
    Close(std::sync::mpsc::Sender<()>),
}

/// A consumer of the journal's entries as they are appended: a reporter (the terminal's progress,
/// …) subscribed by the binary; nothing below it calls a reporter.
pub type Listener = std::sync::Arc<dyn Fn(&Entry) + Send + Sync>;

struct Inner {
    path: PathBuf,
    start: Instant,
    /// The clock's value at `start` (non-zero for an appended journal).
    base: Duration,
    /// Sequence numbers are assigned and lines queued under this lock, so file order is seq order.
    queue: Mutex<(u64, Option<std::sync::mpsc::Sender<Msg>>)>,
    listeners: Mutex<Vec<Listener>>,
    failed: Arc<Mutex<Option<String>>>,
    closed: AtomicBool,
}

/// An open journal; clones append to the same file.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

impl Journal {
    /// Creates (truncates) the journal file, with its missing directories, with the umask, and
    /// starts its writer thread. The run's clock starts now.
    pub fn create(path: &Path) -> std::io::Result<Journal> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        Self::on_file(std::fs::File::create(path)?, path, false)
    }

    /// Starts the writer thread of a journal on `file`, created (empty) by the caller at `path`
    /// with the mode it chose (a run's journal in the state directory is root-only). The run's
    /// clock starts now. With `tee`, every line is also written to standard output as it is
    /// written to the file (`shakedown run --stream`: the SSH target's local side reads it).
    pub fn on_file(file: std::fs::File, path: &Path, tee: bool) -> std::io::Result<Journal> {
        Self::start(file, path, 0, Duration::ZERO, tee)
    }

    /// Opens a dead run's journal to append to it (`shakedown clean` records its undoing there).
    /// A last line cut by the kill is dropped first; numbering goes on after the last entry, and
    /// the clock goes on from the last entry's time (the dead run's clock is gone).
    pub fn append(path: &Path) -> std::io::Result<Journal> {
        let text = std::fs::read_to_string(path)?;
        let keep = match text.rfind('\n') {
            Some(i) => i + 1,
            None => 0,
        };
        let last = text[..keep]
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<Entry>(l).ok());
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(keep as u64)?;
        drop(file);
        let file = std::fs::OpenOptions::new().append(true).open(path)?;
        let (seq, t) = last.map(|e| (e.seq + 1, e.t)).unwrap_or_default();
        Self::start(file, path, seq, t, false)
    }

    fn start(
        file: std::fs::File,
        path: &Path,
        first_seq: u64,
        base: Duration,
        tee: bool,
    ) -> std::io::Result<Journal> {
        let (tx, rx) = std::sync::mpsc::channel::<Msg>();
        let failed: Arc<Mutex<Option<String>>> = Arc::default();
        let fail = failed.clone();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                let mut out = std::io::BufWriter::new(file);
                // A reader that went away (the SSH session closed) does not fail the journal:
                // the file is the record, the stream a copy.
                let mut copy = tee.then(std::io::stdout);
                while let Ok(msg) = rx.recv() {
                    match msg {
                        Msg::Line(line, ack) => {
                            let r = out
                                .write_all(line.as_bytes())
                                .and_then(|()| out.write_all(b"\n"))
                                .and_then(|()| out.flush())
                                .map_err(|e| e.to_string());
                            if let Some(o) = &mut copy {
                                let sent = writeln!(o, "{line}").and_then(|()| o.flush());
                                if sent.is_err() {
                                    copy = None;
                                }
                            }
                            if let Err(e) = &r {
                                if let Ok(mut f) = fail.lock() {
                                    f.get_or_insert_with(|| e.clone());
                                }
                            }
                            if let Some(ack) = ack {
                                let _ = ack.send(r);
                            }
                        }
                        Msg::Close(done) => {
                            let _ = out.flush();
                            let _ = done.send(());
                            return;
                        }
                    }
                }
                let _ = out.flush();
            })?;
        Ok(Journal {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                start: Instant::now(),
                base,
                queue: Mutex::new((first_seq, Some(tx))),
                listeners: Mutex::new(Vec::new()),
                failed,
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The run's clock: monotonic time since the journal was created.
    pub fn now(&self) -> Duration {
        self.inner.base + self.inner.start.elapsed()
    }

    /// The offset of a monotonic instant on the run's clock.
    pub fn offset(&self, at: Instant) -> Duration {
        self.inner.base + at.saturating_duration_since(self.inner.start)
    }

    /// Calls `f` with every entry as it is appended (the terminal progress display).
    pub fn subscribe(&self, f: impl Fn(&Entry) + Send + Sync + 'static) {
        self.subscribe_listener(std::sync::Arc::new(f));
    }

    /// Calls `listener` with every entry as it is appended.
    pub fn subscribe_listener(&self, listener: Listener) {
        if let Ok(mut l) = self.inner.listeners.lock() {
            l.push(listener);
        }
    }

    /// Appends an event that happened now.
    pub fn emit(&self, event: Event) {
        self.emit_at(self.now(), event);
    }

    /// Appends an event that happened at `t` on the run's clock.
    pub fn emit_at(&self, t: Duration, event: Event) {
        let _ = self.queue(t, event, None);
    }

    /// Appends an event and waits until its line has been written to the file: for changes to
    /// the host, which must be journaled before they are made.
    pub async fn emit_durable(&self, event: Event) -> Result<(), JournalError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if !self.queue(self.now(), event, Some(tx)) {
            return Err(self.write_error("the journal is closed".into()));
        }
        match tokio::time::timeout(DURABLE_DEADLINE, rx).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(self.write_error(e)),
            Ok(Err(_)) => Err(self.write_error("the journal writer stopped".into())),
            Err(_) => Err(JournalError::Timeout {
                path: self.inner.path.clone(),
                deadline: DURABLE_DEADLINE,
            }),
        }
    }

    fn write_error(&self, why: String) -> JournalError {
        JournalError::Write {
            path: self.inner.path.clone(),
            why,
        }
    }

    /// Queues one line; false when the journal is closed.
    fn queue(&self, t: Duration, event: Event, ack: Option<Ack>) -> bool {
        let Ok(mut q) = self.inner.queue.lock() else {
            return false;
        };
        let entry = Entry { seq: q.0, t, event };
        let Some(tx) = q.1.as_ref() else {
            return false;
        };
        let line = match serde_json::to_string(&entry) {
            Ok(l) => l,
            Err(e) => {
                if let Ok(mut f) = self.inner.failed.lock() {
                    f.get_or_insert_with(|| format!("serializing an event: {e}"));
                }
                return false;
            }
        };
        if tx.send(Msg::Line(line, ack)).is_err() {
            return false;
        }
        q.0 += 1;
        drop(q);
        if let Ok(listeners) = self.inner.listeners.lock() {
            for l in listeners.iter() {
                l(&entry);
            }
        }
        true
    }

    /// The first write failure, if any: a journal that failed is incomplete.
    pub fn failure(&self) -> Option<String> {
        self.inner.failed.lock().ok().and_then(|f| f.clone())
    }

    /// Flushes and stops the writer (waiting at most a few seconds); later events are dropped.
    pub fn close(&self) {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let tx = self.inner.queue.lock().ok().and_then(|mut q| q.1.take());
        if let Some(tx) = tx {
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            if tx.send(Msg::Close(done_tx)).is_ok() {
                let _ = done_rx.recv_timeout(Duration::from_secs(10));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_arrive_in_order_and_durable_writes_wait_for_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let j = Journal::create(&path).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        j.subscribe(move |e| s.lock().unwrap().push(e.seq));
        j.emit(Event::ScenarioStarted { scenario: 0 });
        j.emit_durable(Event::ChangeUndone {
            change: 1,
            ok: true,
            detail: "x".into(),
        })
        .await
        .unwrap();
        // Durable: on disk now, with the earlier line before it.
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("\"seq\":0") && lines[0].contains("scenario_started"));
        assert!(lines[1].contains("\"seq\":1") && lines[1].contains("change_undone"));
        j.close();
        assert!(j
            .emit_durable(Event::RunFinished { interrupted: None })
            .await
            .is_err());
        assert_eq!(*seen.lock().unwrap(), vec![0, 1]);
        assert!(j.failure().is_none());
    }
}
