//! The iteration's sources, journaled as they arrive and read fail-closed: the daemon's event
//! stream (filtered by the iteration's label, attributed by container id, subscribed again after a
//! daemon restart, made complete by a catch-up query of the daemon's event log) and the kernel log.
//! A source that cannot be read opens a gap in the journal; checks depending on it then are
//! `unknown`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use docker::{DockerClient, RawEvent};
use host::kmsg::Report;
use journal::{Event, Journal};
use model::record::{EventRecord, KernelLine, Source, SourceGap};

/// How many recent copies' event keys are kept to drop duplicates (the daemon logs 256).
const RECENT: usize = 1024;

/// How often a lost event stream is subscribed again.
const RESUBSCRIBE_EVERY: Duration = Duration::from_millis(200);

/// What the pump and the runner share.
struct Seen {
    keys: HashSet<(i64, String, String)>,
    /// Recent keys of copies' events (bounded: a churn's events must not grow memory).
    recent: std::collections::VecDeque<(i64, String, String)>,
    all: Vec<EventRecord>,
    last_unix: f64,
    /// The stream was lost at this time (run clock, Unix time), for this reason.
    lost: Option<(Duration, f64, String)>,
}

/// Journals events as they arrive (each once) and remembers them for the iteration.
#[derive(Clone)]
struct Sink {
    seen: Arc<Mutex<Seen>>,
    journal: Journal,
    scenario: usize,
    iteration: u32,
}

impl Sink {
    fn add(&self, ev: RawEvent) {
        let Ok(mut s) = self.seen.lock() else { return };
        let key = (ev.time_nano, ev.id.clone(), ev.action.clone());
        let copy = ev.attributes.contains_key(docker::LABEL_COPY);
        if copy {
            // Copies' events are journaled, not kept (a churn must not grow memory); duplicates
            // from a catch-up are within the daemon's last 256 events, so a bounded window finds
            // them.
            if s.recent.contains(&key) {
                return;
            }
            if s.recent.len() == RECENT {
                s.recent.pop_front();
            }
            s.recent.push_back(key);
        } else if !s.keys.insert(key) {
            return;
        }
        s.last_unix = s.last_unix.max(ev.time_nano as f64 / 1e9);
        let rec = EventRecord {
            t: self.journal.offset(ev.received.into_std()),
            time_nano: ev.time_nano,
            action: ev.action,
            id: ev.id,
            container: ev.container,
            attributes: ev.attributes,
        };
        if !copy {
            s.all.push(rec.clone());
        }
        self.journal.emit(Event::DaemonEvent {
            scenario: self.scenario,
            iteration: self.iteration,
            record: rec,
        });
    }

    fn gap(&self, from: Duration, until: Option<Duration>, reason: String) {
        self.journal.emit(Event::SourceGap {
            scenario: self.scenario,
            iteration: self.iteration,
            gap: SourceGap {
                source: Source::Events,
                from,
                until,
                reason,
            },
        });
    }

    /// Closes an open gap: events are complete again from now on.
    fn recovered(&self) {
        let lost = self.seen.lock().ok().and_then(|mut s| s.lost.take());
        if let Some((from, _, why)) = lost {
            self.gap(
                from,
                Some(self.journal.now()),
                format!("the event stream was lost: {why}"),
            );
        }
    }
}

/// The iteration's event stream, pumped into the journal by a task of its own.
pub struct Events<'a> {
    docker: &'a DockerClient,
    label: String,
    since: f64,
    sink: Sink,
    pump: tokio::task::JoinHandle<()>,
}

impl<'a> Events<'a> {
    /// Subscribes to the events of containers carrying `label` (`key=value`), from now.
    pub fn subscribe(
        docker: &'a DockerClient,
        label: String,
        journal: Journal,
        scenario: usize,
        iteration: u32,
    ) -> Self {
        let since = host::unix_now();
        let sink = Sink {
            seen: Arc::new(Mutex::new(Seen {
                keys: HashSet::new(),
                recent: Default::default(),
                all: Vec::new(),
                last_unix: since,
                lost: None,
            })),
            journal,
            scenario,
            iteration,
        };
        let pump = tokio::spawn(pump(docker.clone(), label.clone(), since, sink.clone()));
        Events {
            docker,
            label,
            since,
            sink,
            pump,
        }
    }

    /// Journals a time during which events may be missing.
    pub fn gap(&self, from: Duration, until: Duration, reason: String) {
        self.sink.gap(from, Some(until), reason);
    }

    /// The barrier: every event the daemon logged from `since_unix` (or from the loss of the
    /// stream) until now is fetched from its event log, so nothing emitted before now is still on
    /// its way. `Err` says why it could not be confirmed.
    pub async fn barrier(&self, since_unix: f64, deadline: Duration) -> Result<(), String> {
        let lost_at = self
            .sink
            .seen
            .lock()
            .ok()
            .and_then(|s| s.lost.as_ref().map(|l| l.1));
        let from = lost_at
            .map_or(since_unix, |l| since_unix.min(l))
            .max(self.since);
        let until = host::unix_now();
        let got = self
            .docker
            .events_between(&self.label, from, until, deadline)
            .await
            .map_err(|e| {
                format!("could not confirm the daemon's events up to the end of the step: {e:#}")
            })?;
        for ev in got {
            self.sink.add(ev);
        }
        self.sink.recovered();
        Ok(())
    }

    /// Whether an event `action` of container `id` arrived at or after `from`.
    pub fn has(&self, id: &str, action: &str, from: Duration) -> bool {
        self.sink.seen.lock().is_ok_and(|s| {
            s.all
                .iter()
                .any(|e| e.id == id && e.action == action && e.t >= from)
        })
    }

    /// The events of container `id` received within `[from, until]`, and every event of the
    /// iteration.
    pub fn snapshot(
        &self,
        id: &str,
        from: Duration,
        until: Duration,
    ) -> (Vec<EventRecord>, Vec<EventRecord>) {
        let all = self
            .sink
            .seen
            .lock()
            .map(|s| s.all.clone())
            .unwrap_or_default();
        let step = model::record::events_of(&all, id, from, until)
            .cloned()
            .collect();
        (step, all)
    }
}

impl Drop for Events<'_> {
    fn drop(&mut self) {
        self.pump.abort();
        let lost = self.sink.seen.lock().ok().and_then(|mut s| s.lost.take());
        if let Some((from, _, why)) = lost {
            self.sink
                .gap(from, None, format!("the event stream was lost: {why}"));
        }
    }
}

/// Reads the stream, journaling each event; a stream that ends is subscribed again (from the last
/// event seen), and the time without one is remembered.
async fn pump(docker: DockerClient, label: String, since: f64, sink: Sink) {
    let mut from = since;
    loop {
        let mut rx = docker.events(&label, from);
        let why = loop {
            match rx.recv().await {
                Some(Ok(ev)) => {
                    sink.add(ev);
                    sink.recovered();
                }
                Some(Err(e)) => break format!("{e:#}"),
                None => break "the event stream ended".to_string(),
            }
        };
        if let Ok(mut s) = sink.seen.lock() {
            if s.lost.is_none() {
                s.lost = Some((sink.journal.now(), host::unix_now(), why));
            }
            from = s.last_unix;
        }
        tokio::time::sleep(RESUBSCRIBE_EVERY).await;
    }
}

/// The kernel log during an iteration (only where the daemon is on this host), pumped into the
/// journal by a task of its own.
pub struct KernelWatch {
    pump: Option<tokio::task::JoinHandle<()>>,
    caught_up: Option<Arc<host::kmsg::Watcher>>,
    journal: Journal,
    scenario: usize,
    iteration: u32,
}

fn kernel_gap(journal: &Journal, scenario: usize, iteration: u32, closed: bool, reason: String) {
    let now = journal.now();
    journal.emit(Event::SourceGap {
        scenario,
        iteration,
        gap: SourceGap {
            source: Source::KernelLog,
            from: now,
            until: closed.then_some(now),
            reason,
        },
    });
}

impl KernelWatch {
    /// Starts watching, or journals why the kernel log cannot be read for this iteration.
    pub fn start(docker: &DockerClient, journal: Journal, scenario: usize, iteration: u32) -> Self {
        let local = docker.host().starts_with("unix://") || docker.host().starts_with('/');
        let mut w = KernelWatch {
            pump: None,
            caught_up: None,
            journal: journal.clone(),
            scenario,
            iteration,
        };
        if !local {
            let why = format!("the daemon at {} is not on this host", docker.host());
            kernel_gap(&journal, scenario, iteration, false, why);
            return w;
        }
        let (watcher, mut rx) = match host::kmsg::Watcher::start() {
            Ok(started) => started,
            Err(e) => {
                kernel_gap(
                    &journal,
                    scenario,
                    iteration,
                    false,
                    format!("cannot read /dev/kmsg: {e}"),
                );
                return w;
            }
        };
        let watcher = Arc::new(watcher);
        w.caught_up = Some(watcher.clone());
        w.pump = Some(tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                let delivered = scopeguard(&watcher);
                match r {
                    Report::Record(rec) => journal.emit(Event::KernelLine {
                        scenario,
                        iteration,
                        line: KernelLine {
                            t: journal.now(),
                            usec: rec.usec,
                            at: None,
                            priority: rec.priority,
                            class: model::kernel::classify(&rec.text),
                            text: rec.text,
                        },
                    }),
                    Report::Lost => kernel_gap(
                        &journal,
                        scenario,
                        iteration,
                        true,
                        "kernel log records were overwritten before they were read".into(),
                    ),
                    Report::Failed(why) => {
                        kernel_gap(&journal, scenario, iteration, false, why);
                        return;
                    }
                }
                drop(delivered);
            }
            // The watcher's thread ended without saying why.
            kernel_gap(
                &journal,
                scenario,
                iteration,
                false,
                "the kernel log watcher stopped".into(),
            );
        }));
        w
    }

    /// Waits (at most `deadline`) until every kernel record logged before now has been read and
    /// journaled; a watcher that does not catch up opens a gap.
    pub async fn catch_up(&self, deadline: Duration) {
        let (Some(w), Some(pump)) = (&self.caught_up, &self.pump) else {
            return;
        };
        let now = std::time::Instant::now();
        let t = tokio::time::Instant::now();
        while !w.caught_up_with(now) {
            if t.elapsed() >= deadline || pump.is_finished() {
                kernel_gap(
                    &self.journal,
                    self.scenario,
                    self.iteration,
                    true,
                    format!("the kernel log watcher did not catch up within {deadline:?}"),
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Read means sent; give the pump the moment it needs to journal what was sent.
        w.wait_delivered(Duration::from_secs(1)).await;
    }
}

/// Counts a report as handled when dropped (after it was journaled).
struct Delivered<'a>(&'a host::kmsg::Watcher);

impl Drop for Delivered<'_> {
    fn drop(&mut self) {
        self.0.delivered();
    }
}

fn scopeguard(w: &host::kmsg::Watcher) -> Delivered<'_> {
    Delivered(w)
}

impl Drop for KernelWatch {
    fn drop(&mut self) {
        if let Some(p) = self.pump.take() {
            p.abort();
        }
    }
}
