//! The kernel log during a scenario: a watcher reads new records from /dev/kmsg on a thread of its
//! own ([`model::kernel`] parses and classifies them).
//!
//! The watcher fails closed: it reports lost records and its own death, and it publishes up to
//! when it has read everything, so the runner can tell "no such line" from "not read".

use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use model::kernel::{parse_record, Record};

/// What the watcher thread reports.
#[derive(Debug)]
pub enum Report {
    /// A new record.
    Record(Record),
    /// Records were overwritten in the kernel's ring buffer before the watcher read them.
    Lost,
    /// The watcher stopped reading, with the reason: nothing after this is seen.
    Failed(String),
}

/// A running watcher; its reports arrive on the channel [`Watcher::start`] returns until it is
/// stopped (or dropped).
pub struct Watcher {
    stop: Arc<AtomicBool>,
    /// Reports the thread has sent.
    sent: Arc<AtomicU64>,
    /// Reports the consumer says it has handled ([`Watcher::delivered`]).
    handled: AtomicU64,
    /// When the thread last found nothing left to read (nanoseconds on `clock`): every record the
    /// kernel logged before that moment has been sent.
    caught_up: Arc<AtomicU64>,
    clock: std::time::Instant,
    thread: std::thread::JoinHandle<()>,
}

impl Watcher {
    /// Starts reading new records (not the backlog) from /dev/kmsg on a thread of its own.
    pub fn start() -> anyhow::Result<(Watcher, tokio::sync::mpsc::UnboundedReceiver<Report>)> {
        Self::start_on(std::path::Path::new("/dev/kmsg"))
    }

    /// Starts reading records from a kmsg-like device (tests use others).
    pub fn start_on(
        path: &std::path::Path,
    ) -> anyhow::Result<(Watcher, tokio::sync::mpsc::UnboundedReceiver<Report>)> {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags_nonblock()
            .open(path)?;
        // SEEK_END on /dev/kmsg skips the existing buffer: only lines from now on.
        f.seek(SeekFrom::End(0))?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let caught_up = Arc::new(AtomicU64::new(0));
        let clock = std::time::Instant::now();
        let sent = Arc::new(AtomicU64::new(0));
        let (flag, mark, count) = (stop.clone(), caught_up.clone(), sent.clone());
        let thread = std::thread::Builder::new()
            .name("kmsg".into())
            .spawn(move || {
                use std::os::fd::AsFd;
                // One record per read; the buffer must hold a whole record.
                let mut buf = vec![0u8; 16384];
                while !flag.load(Ordering::Relaxed) {
                    // Note the time before reading: a read that then finds nothing proves that
                    // everything logged before this moment has been read.
                    let before = clock.elapsed().as_nanos() as u64;
                    match f.read(&mut buf) {
                        Ok(0) => {
                            mark.store(before, Ordering::Release);
                            wait_readable(f.as_fd());
                        }
                        Ok(n) => {
                            if let Some(r) = parse_record(&String::from_utf8_lossy(&buf[..n])) {
                                if tx.send(Report::Record(r)).is_err() {
                                    return;
                                }
                                count.fetch_add(1, Ordering::AcqRel);
                            }
                        }
                        Err(e) if e.raw_os_error() == Some(libc_eagain()) => {
                            mark.store(before, Ordering::Release);
                            wait_readable(f.as_fd());
                        }
                        // EPIPE: records were overwritten before we read them; reading goes on.
                        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EPIPE as i32) => {
                            if tx.send(Report::Lost).is_err() {
                                return;
                            }
                            count.fetch_add(1, Ordering::AcqRel);
                        }
                        Err(e) => {
                            let _ = tx.send(Report::Failed(format!("reading the kernel log: {e}")));
                            return;
                        }
                    }
                }
            })?;
        Ok((
            Watcher {
                stop,
                sent,
                handled: AtomicU64::new(0),
                caught_up,
                clock,
                thread,
            },
            rx,
        ))
    }

    /// The consumer has handled one more report.
    pub fn delivered(&self) {
        self.handled.fetch_add(1, Ordering::AcqRel);
    }

    /// Waits (at most `deadline`) until the consumer has handled every report sent so far.
    pub async fn wait_delivered(&self, deadline: std::time::Duration) {
        let want = self.sent.load(Ordering::Acquire);
        let t = tokio::time::Instant::now();
        while self.handled.load(Ordering::Acquire) < want && t.elapsed() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Whether the thread still reads.
    pub fn alive(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Whether every record logged before `at` has been sent on the channel.
    pub fn caught_up_with(&self, at: std::time::Instant) -> bool {
        let mark = self.caught_up.load(Ordering::Acquire);
        at.checked_duration_since(self.clock)
            .is_none_or(|d| (d.as_nanos() as u64) < mark)
    }
}

/// Waits until the descriptor has something to read, at most 20 ms (so a stop is noticed).
fn wait_readable(fd: std::os::fd::BorrowedFd<'_>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    let _ = poll(&mut fds, PollTimeout::from(20u8));
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn libc_eagain() -> i32 {
    nix::errno::Errno::EAGAIN as i32
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
    }
}
