//! Bounded, PID-safe work on the host. Every external command and every blocking call (reads of
//! `/proc` that take another process's locks, unmounts, recursive deletes) has a deadline and runs
//! off the async workers, so a wedged host can fail a step but never hang the harness; network
//! namespaces are entered through descriptors held since the container was observed, and
//! processes are signalled through pidfds, so a recycled PID can never redirect a fault or a heal.

pub mod forensics;
pub mod leaks;
pub mod net;

/// Wall-clock now, seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// This host's name, for labels that tell which harness created an object.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

pub mod cmd;
pub mod kmsg;
pub mod loopfs;
pub mod memcg;
pub mod mounts;
pub mod netns;
pub mod pidfd;
pub mod private;
pub mod proc;
pub mod process;

use std::time::Duration;

pub use cmd::Cmd;
pub use netns::{NetnsHandle, NetnsId};
pub use pidfd::PidFd;
pub use process::{ContainerProcess, Freezer};

/// Why a piece of host work did not give a result.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// It did not finish within its deadline (it may still be running on an abandoned thread, or
    /// the command was killed).
    #[error("{what}: no result within {}", model::units::format_duration(*.deadline))]
    Timeout {
        /// What was being done.
        what: String,
        /// The deadline.
        deadline: Duration,
    },
    /// A command could not be started.
    #[error("{what}: cannot run: {source}")]
    Spawn {
        /// The command line.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A command ran and exited unsuccessfully.
    #[error("{what}: exited with {status}: {stderr}")]
    Failed {
        /// The command line.
        what: String,
        /// Its exit status, as text.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// The worker thread could not be created or panicked.
    #[error("{what}: {why}")]
    Worker {
        /// What was being done.
        what: String,
        /// What went wrong.
        why: String,
    },
}

/// Runs blocking work on a detached thread of its own and waits for it at most `deadline`. A call
/// that wedges in the kernel (a `/proc/PID/cmdline` read of a process holding its mmap lock, an
/// unmount of a busy file system) leaks its thread instead of hanging the caller or keeping the
/// runtime from shutting down.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HostError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("shakedown-host".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| HostError::Worker {
            what: what.to_string(),
            why: format!("cannot start a thread: {e}"),
        })?;
    match tokio::time::timeout(deadline, rx).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(HostError::Worker {
            what: what.to_string(),
            why: "the worker thread panicked".into(),
        }),
        Err(_) => Err(HostError::Timeout {
            what: what.to_string(),
            deadline,
        }),
    }
}

/// Default deadline of one quick host command (`ip`, `tc`, `iptables -w`).
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(10);
/// Default deadline of one scan of `/proc` or of the mount table.
pub const SCAN_DEADLINE: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blocking_work_is_cut_off_at_its_deadline() {
        let t = std::time::Instant::now();
        let r = blocking("sleeping", Duration::from_millis(100), || {
            std::thread::sleep(Duration::from_secs(5));
        })
        .await;
        assert!(matches!(r, Err(HostError::Timeout { .. })), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_eq!(
            blocking("adding", Duration::from_secs(5), || 2 + 2)
                .await
                .unwrap(),
            4
        );
        let panicked = blocking("panicking", Duration::from_secs(5), || -> u8 {
            panic!("boom")
        })
        .await;
        assert!(
            matches!(panicked, Err(HostError::Worker { .. })),
            "{panicked:?}"
        );
    }

    #[test]
    fn blocking_gives_up_at_its_deadline_and_lets_the_runtime_go() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let t0 = std::time::Instant::now();
        let res = rt.block_on(blocking("wedged", Duration::from_millis(100), || {
            std::thread::sleep(Duration::from_secs(5))
        }));
        assert!(res.unwrap_err().to_string().contains("no result within"));
        assert_eq!(
            rt.block_on(blocking("quick", Duration::from_secs(5), || 7))
                .unwrap(),
            7
        );
        // A spawn_blocking task would hold the runtime's shutdown for the full 5 s.
        drop(rt);
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    }
}
