//! The fault window shared by network faults and dependency outages: probe before, inject, keep
//! probing while the fault lasts, heal (through the ledger — so also when the step's deadline
//! drops this future, the runner undoes the fault when the step ends), probe until the target
//! answers again. Measures `time_to_failure` (injection to the first failed
//! probe), `time_to_recovery` (heal to the first good probe) and median latencies `rtt_before`,
//! `rtt_during`, `rtt_after`, `rtt_added` (during − before) and `rtt_residual` (after − before).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::ctx::Ctx;
use host::net::{probe_once, ProbeError, ProbeKind};
use host::NetnsHandle;
use ledger::ChangeId;
use model::action::window::ProbeSpec;
use model::fact::Fact;
use model::record::{Sample, Source};

/// What a probe checks: a bare TCP connect, or an HTTP answer.
fn probe_kind(spec: &ProbeSpec) -> ProbeKind {
    match &spec.http {
        None => ProbeKind::Tcp,
        Some(h) => ProbeKind::Http {
            path: h.path.clone().unwrap_or_else(|| "/".into()),
            status: h.status.unwrap_or(200),
        },
    }
}

/// A resolved probe: source namespace (held by descriptor) and target address.
pub struct Probe {
    from: Option<NetnsHandle>,
    addr: SocketAddr,
    spec: ProbeSpec,
}

impl Probe {
    /// Resolves container names to a namespace and an address.
    pub async fn resolve(ctx: &mut Ctx<'_>, spec: &ProbeSpec) -> anyhow::Result<Probe> {
        let ip = ctx.ip_of(&spec.to.value).await?;
        let addr: SocketAddr = format!("{ip}:{}", spec.port).parse()?;
        let from = match &spec.from {
            None => None,
            Some(f) => Some(ctx.process(&f.value).await?.netns),
        };
        Ok(Probe {
            from,
            addr,
            spec: spec.clone(),
        })
    }

    /// One attempt, recorded as a sample of `phase`: `Some(answered)`, or `None` when the harness
    /// could not run it (then a gap of the probe source is journaled: what depends on it is
    /// `unknown`).
    pub async fn sample(&self, ctx: &mut Ctx<'_>, phase: &str) -> Option<bool> {
        let (from, addr, kind, timeout) = (
            self.from.clone(),
            self.addr,
            probe_kind(&self.spec),
            self.spec.timeout(),
        );
        let t = ctx.now();
        let r = host::blocking("a probe", timeout * 3 + Duration::from_secs(2), move || {
            probe_once(from.as_ref(), addr, kind, timeout)
        })
        .await
        .unwrap_or_else(|e| Err(ProbeError::Harness(e.to_string())));
        let (ok, error, unreadable) = match &r {
            Ok(_) => (Some(true), None, false),
            Err(ProbeError::Target(e)) => (Some(false), Some(e.clone()), false),
            Err(ProbeError::Harness(e)) => (None, Some(e.clone()), true),
        };
        if let Some(why) = error.as_ref().filter(|_| unreadable) {
            ctx.gap(
                Source::Probe,
                t,
                ctx.now(),
                format!("a probe could not be run: {why}"),
            );
        }
        ctx.sample(Sample {
            t,
            phase: phase.into(),
            ok: ok == Some(true),
            latency: r.as_ref().ok().map(Duration::as_secs_f64),
            error,
            unreadable,
        });
        ok
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(judge::verdict::percentile(v, 50.0))
}

/// A fault window: probe before, inject (the caller records each change in the ledger, then makes
/// it), hold while probing, heal by undoing those changes, probe until the target answers again.
/// If the step is cut off by its deadline, its changes are still in the ledger and the runner
/// undoes them when the step ends.
pub struct Window {
    probe: Option<Probe>,
    injected: Option<Instant>,
    failed_after: Option<Duration>,
    changes: Vec<ChangeId>,
}

impl Window {
    /// Resolves the probe and takes the samples before the fault.
    pub async fn open(ctx: &mut Ctx<'_>, spec: Option<&ProbeSpec>) -> anyhow::Result<Window> {
        let probe = match spec {
            Some(p) => Some(Probe::resolve(ctx, p).await?),
            None => None,
        };
        if let Some(p) = &probe {
            for _ in 0..3 {
                p.sample(ctx, "before").await;
                tokio::time::sleep(p.spec.interval()).await;
            }
        }
        Ok(Window {
            probe,
            injected: None,
            failed_after: None,
            changes: vec![],
        })
    }

    /// Marks the fault as injected now; `changes` are undone when the window heals.
    pub fn injected(&mut self, ctx: &mut Ctx<'_>, changes: Vec<ChangeId>) {
        self.injected = Some(Instant::now());
        self.changes = changes;
        ctx.fact(Fact::InjectedAt(ctx.now().as_secs_f64()));
    }

    /// Keeps the fault for `duration` since injection, probing.
    pub async fn hold(&mut self, ctx: &mut Ctx<'_>, duration: Duration) {
        let injected = self.injected.unwrap_or_else(Instant::now);
        while injected.elapsed() < duration {
            match &self.probe {
                Some(p) => {
                    let t = injected.elapsed();
                    if p.sample(ctx, "during").await == Some(false) && self.failed_after.is_none() {
                        self.failed_after = Some(t);
                    }
                    let left = duration.saturating_sub(injected.elapsed());
                    tokio::time::sleep(p.spec.interval().min(left)).await;
                }
                None => tokio::time::sleep(duration.saturating_sub(injected.elapsed())).await,
            }
        }
    }

    /// Heals (undoes the fault's changes, newest first), then probes until recovery and records
    /// the window's measures.
    pub async fn close(self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let mut notes = vec![];
        for id in self.changes.iter().rev() {
            notes.push(ctx.undo(*id).await?);
        }
        let healed = Instant::now();
        ctx.fact(Fact::HealedAt(ctx.now().as_secs_f64()));
        if !notes.is_empty() {
            ctx.fact(Fact::Healed(notes.join("; ")));
        }
        if let Some(t) = self.failed_after {
            ctx.measure("time_to_failure", t);
        }
        let Some(p) = self.probe else { return Ok(()) };
        let recovery = p
            .spec
            .recovery
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(15));
        loop {
            if p.sample(ctx, "after").await == Some(true) {
                ctx.measure("time_to_recovery", healed.elapsed());
                break;
            }
            if healed.elapsed() > recovery {
                ctx.fact(Fact::Recovered(false));
                return Ok(());
            }
            tokio::time::sleep(p.spec.interval()).await;
        }
        for _ in 0..3 {
            tokio::time::sleep(p.spec.interval()).await;
            p.sample(ctx, "after").await;
        }
        let lat = |phase: &str, ctx: &Ctx<'_>| {
            let mut v: Vec<f64> = ctx
                .samples
                .iter()
                .filter(|s| s.phase == phase)
                .filter_map(|s| s.latency)
                .collect();
            median(&mut v)
        };
        let (b, d, a) = (lat("before", ctx), lat("during", ctx), lat("after", ctx));
        let secs = |v: f64| Duration::from_secs_f64(v.max(0.0));
        for (name, v) in [("rtt_before", b), ("rtt_during", d), ("rtt_after", a)] {
            if let Some(v) = v {
                ctx.measure(name, secs(v));
            }
        }
        if let (Some(b), Some(d)) = (b, d) {
            ctx.measure("rtt_added", secs(d - b));
        }
        if let (Some(b), Some(a)) = (b, a) {
            ctx.measure("rtt_residual", secs(a - b));
        }
        Ok(())
    }
}
