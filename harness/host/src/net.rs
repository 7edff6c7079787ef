//! Network faults applied from the host inside a container's network namespace — never by changing
//! the container's image: `iptables` (partition, loss) and `tc` (rate, and netem where the kernel has
//! it) run in the namespace the harness holds by descriptor (joined between fork and exec), and where
//! netem is missing, delay is served by the harness itself through an NFQUEUE queue (packets held on
//! a thread of ours for the delay, then accepted). The mechanism chosen is recorded as the step's
//! `mechanism` fact. Probes (TCP connect, HTTP) run from a container's namespace on a dedicated
//! thread (setns must never touch a tokio worker).

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::{Cmd, NetnsHandle};

/// The comment every rule of ours starts with (`iptables -m comment`); the run id follows, so a rule
/// is recognisably ours and its run's.
pub const RULE_COMMENT: &str = "shakedown";

/// The comment of this run's rules: `shakedown:<run id>`.
pub fn rule_comment(run_id: &str) -> String {
    format!("{RULE_COMMENT}:{run_id}")
}

/// Whether the kernel can do netem here (a module or built in): tried on the namespace's loopback
/// with a qdisc handle of ours, removed at once.
pub async fn has_netem(ns: &NetnsHandle) -> bool {
    let ok = Cmd::new(
        "tc",
        &[
            "qdisc", "add", "dev", "lo", "root", "handle", "5dfe:", "netem", "delay", "1ms",
        ],
    )
    .netns(ns)
    .run()
    .await
    .is_ok();
    if ok {
        let _ = Cmd::new(
            "tc",
            &["qdisc", "del", "dev", "lo", "root", "handle", "5dfe:"],
        )
        .netns(ns)
        .run()
        .await;
    }
    ok
}

/// What a probe checks.
#[derive(Clone, Debug)]
pub enum ProbeKind {
    /// A TCP connection is accepted.
    Tcp,
    /// An HTTP GET of `path` answers with `status`.
    Http {
        /// Path.
        path: String,
        /// Expected status.
        status: u16,
    },
}

/// Why a probe attempt did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// The target did not answer as expected: the probe's verdict is `down`.
    Target(String),
    /// The harness could not run the probe (could not join the namespace, no thread, no result
    /// in time): nothing is known about the target.
    Harness(String),
}

/// One probe attempt from inside a namespace (or the host): Ok(latency) or why not. Blocking.
pub fn probe_once(
    from: Option<&NetnsHandle>,
    addr: SocketAddr,
    kind: ProbeKind,
    timeout: Duration,
) -> Result<Duration, ProbeError> {
    let attempt = move || -> Result<Duration, String> {
        let t = Instant::now();
        let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
        match kind {
            ProbeKind::Tcp => Ok(t.elapsed()),
            ProbeKind::Http { path, status } => {
                use std::io::{Read, Write};
                s.set_read_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")
                    .map_err(|e| e.to_string())?;
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).map_err(|e| e.to_string())?;
                let line = String::from_utf8_lossy(&buf[..n]);
                let code: u16 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
                if code == status {
                    Ok(t.elapsed())
                } else {
                    Err(format!("HTTP {code}, expected {status}"))
                }
            }
        }
    };
    let r = match from {
        None => attempt(),
        Some(ns) => ns
            .run(attempt)
            .map_err(|e| ProbeError::Harness(format!("{e:#}")))?,
    };
    r.map_err(ProbeError::Target)
}

/// A delay served in user space: an iptables rule (recorded in the ledger) sends the namespace's
/// outgoing packets to an NFQUEUE queue; a thread in that namespace holds each packet for the
/// delay (± jitter) and then accepts it. `--queue-bypass` lets packets through should the thread
/// be gone. Stopping releases every held packet and returns how many were delayed.
pub struct DelayQueue {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<u64>>>,
}

impl DelayQueue {
    /// Starts the queue thread in the namespace; the caller installs the rule that feeds it.
    pub fn start(
        ns: &NetnsHandle,
        queue: u16,
        delay: Duration,
        jitter: Duration,
    ) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let fd = ns.clone();
        let thread = std::thread::spawn(move || -> anyhow::Result<u64> {
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET)?;
            let mut q = match nfq::Queue::open().and_then(|mut q| q.bind(queue).map(|_| q)) {
                Ok(q) => q,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("NFQUEUE {queue}: {e}")));
                    bail!("NFQUEUE: {e}");
                }
            };
            q.set_nonblocking(true);
            let _ = ready_tx.send(Ok(()));
            let mut held: VecDeque<(Instant, nfq::Message)> = VecDeque::new();
            let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(queue);
            let mut passed = 0u64;
            loop {
                let stopping = flag.load(Ordering::Relaxed);
                let mut idle = true;
                while let Ok(msg) = q.recv() {
                    idle = false;
                    // xorshift: jitter without a random-number crate.
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let j = if jitter.is_zero() {
                        0.0
                    } else {
                        ((seed % 2001) as f64 / 1000.0 - 1.0) * jitter.as_secs_f64()
                    };
                    let hold = Duration::from_secs_f64((delay.as_secs_f64() + j).max(0.0));
                    held.push_back((Instant::now() + hold, msg));
                }
                // Release in arrival order (no reordering, as netem without reorder).
                while held
                    .front()
                    .is_some_and(|(at, _)| stopping || *at <= Instant::now())
                {
                    let (_, mut msg) = held.pop_front().expect("front exists");
                    msg.set_verdict(nfq::Verdict::Accept);
                    q.verdict(msg)?;
                    passed += 1;
                    idle = false;
                }
                if stopping && held.is_empty() {
                    let _ = q.unbind(queue);
                    return Ok(passed);
                }
                if idle {
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!("{e} (the kernel needs CONFIG_NETFILTER_NETLINK_QUEUE)"),
            Err(_) => bail!("the NFQUEUE thread did not start"),
        }
        Ok(DelayQueue {
            stop,
            thread: Some(thread),
        })
    }

    /// Releases every held packet and stops the thread (blocking); returns what it says.
    pub fn finish(mut self) -> String {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(Ok(n))) => format!("released the NFQUEUE after delaying {n} packets"),
            Some(Ok(Err(e))) => format!("the NFQUEUE thread failed: {e:#}"),
            Some(Err(_)) => "the NFQUEUE thread panicked".into(),
            None => String::new(),
        }
    }
}

impl Drop for DelayQueue {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_a_closed_port_on_the_host() {
        let r = probe_once(
            None,
            "127.0.0.1:1".parse().unwrap(),
            ProbeKind::Tcp,
            Duration::from_millis(200),
        );
        assert!(matches!(r, Err(ProbeError::Target(_))), "{r:?}");
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ok = probe_once(
            None,
            l.local_addr().unwrap(),
            ProbeKind::Tcp,
            Duration::from_millis(500),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }
}
