//! Network faults applied from the host inside a container's network namespace — never by changing
//! the container's image: `iptables` (partition, loss) and `tc` (rate, and netem where the kernel has
//! it) run under `nsenter`, and where netem is missing, delay is served by the harness itself through
//! an NFQUEUE queue (packets held on a thread of ours for the delay, then accepted). The mechanism
//! chosen is recorded as the step's `mechanism` fact. Probes (TCP connect, HTTP) run from a
//! container's namespace on a dedicated thread (setns must never touch a tokio worker).

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The comment every rule of ours carries (`iptables -m comment`), so a rule is recognisably ours.
pub const RULE_COMMENT: &str = "shakedown";

/// Runs a host tool inside the network namespace of process `pid`.
pub fn nsenter(pid: u32, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("nsenter")
        .arg("-t")
        .arg(pid.to_string())
        .arg("-n")
        .args(args)
        .output()
        .context("running nsenter (util-linux)")?;
    if !out.status.success() {
        bail!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// Whether the kernel can do netem here (a module or built in): tried on the namespace's loopback.
pub fn has_netem(pid: u32) -> bool {
    let ok = nsenter(
        pid,
        &[
            "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
        ],
    )
    .is_ok();
    if ok {
        let _ = nsenter(pid, &["tc", "qdisc", "del", "dev", "lo", "root"]);
    }
    ok
}

/// Runs `f` on a new thread that has joined the network namespace of `pid`.
pub fn in_netns<R: Send + 'static>(
    pid: u32,
    f: impl FnOnce() -> R + Send + 'static,
) -> anyhow::Result<R> {
    std::thread::spawn(move || -> anyhow::Result<R> {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .with_context(|| format!("opening the network namespace of pid {pid}"))?;
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
        Ok(f())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
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

/// One probe attempt from inside a namespace (or the host): Ok(latency) or Err(why).
pub fn probe_once(
    from_pid: Option<u32>,
    addr: SocketAddr,
    kind: ProbeKind,
    timeout: Duration,
) -> Result<Duration, String> {
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
    match from_pid {
        None => attempt(),
        Some(pid) => in_netns(pid, attempt).unwrap_or_else(|e| Err(format!("{e:#}"))),
    }
}

/// A delay served in user space: an iptables rule sends the namespace's outgoing packets to an
/// NFQUEUE queue; a thread in that namespace holds each packet for the delay (± jitter) and then
/// accepts it. `--queue-bypass` lets packets through should the thread be gone.
pub struct DelayQueue {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<u64>>>,
    pid: u32,
    rule: Vec<String>,
}

impl DelayQueue {
    /// Starts the queue thread in `pid`'s namespace, then installs the rule.
    pub fn start(pid: u32, queue: u16, delay: Duration, jitter: Duration) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || -> anyhow::Result<u64> {
            let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
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
            let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(pid);
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
        let q = queue.to_string();
        let rule: Vec<String> = [
            "OUTPUT",
            "-m",
            "comment",
            "--comment",
            RULE_COMMENT,
            "-j",
            "NFQUEUE",
            "--queue-num",
            &q,
            "--queue-bypass",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut add: Vec<String> = vec!["iptables".into(), "-w".into(), "-I".into()];
        add.extend(rule.iter().cloned());
        let dq = DelayQueue {
            stop,
            thread: Some(thread),
            pid,
            rule,
        };
        nsenter(pid, &add.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(dq)
    }

    /// Removes the rule, releases every held packet, and returns how many packets were delayed.
    pub fn stop(mut self) -> anyhow::Result<u64> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> anyhow::Result<u64> {
        let mut del = vec!["iptables", "-w", "-D"];
        del.extend(self.rule.iter().map(String::as_str));
        let removed = nsenter(self.pid, &del);
        self.stop.store(true, Ordering::Relaxed);
        let passed = match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("the NFQUEUE thread panicked"))??,
            None => 0,
        };
        removed?;
        Ok(passed)
    }
}

impl Drop for DelayQueue {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.shutdown();
        }
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
        assert!(r.is_err());
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
