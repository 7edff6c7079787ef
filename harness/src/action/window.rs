//! The fault window shared by network faults and dependency outages: probe before, inject, keep
//! probing while the fault lasts, heal (always — also when the step's deadline drops this future),
//! probe until the target answers again. Measures `time_to_failure` (injection to the first failed
//! probe), `time_to_recovery` (heal to the first good probe) and median latencies `rtt_before`,
//! `rtt_during`, `rtt_after`, `rtt_added` (during − before) and `rtt_residual` (after − before).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::anyhow;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tokio::time::Instant;

use crate::net::{probe_once, ProbeKind};
use crate::record::Sample;
use crate::runner::Ctx;
use crate::units::HumanDuration;

/// A probe from a container (or the host) to a container's port.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// The container whose network namespace the probe runs in (default: the host).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// The container probed.
    #[schemars(with = "String")]
    pub to: Spanned<String>,
    /// Its TCP port.
    pub port: u16,
    /// Check an HTTP answer instead of a bare TCP connect.
    #[serde(default)]
    pub http: Option<HttpCheck>,
    /// Time between probes (default 200ms).
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// Deadline of one probe (default 1s).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// How long to wait for recovery after healing (default 15s).
    #[serde(default)]
    pub recovery: Option<HumanDuration>,
}

/// An HTTP check.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// Path (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// Expected status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
}

impl ProbeSpec {
    /// Containers it names.
    pub fn refs(&self) -> Vec<&Spanned<String>> {
        let mut v = vec![&self.to];
        v.extend(self.from.as_ref());
        v
    }

    fn kind(&self) -> ProbeKind {
        match &self.http {
            None => ProbeKind::Tcp,
            Some(h) => ProbeKind::Http {
                path: h.path.clone().unwrap_or_else(|| "/".into()),
                status: h.status.unwrap_or(200),
            },
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(1))
    }

    fn interval(&self) -> Duration {
        self.interval
            .map(|d| d.get())
            .unwrap_or(Duration::from_millis(200))
    }

    /// The time a probe window may add to a step beyond the fault itself.
    pub fn allowance(&self) -> Duration {
        self.recovery
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(15))
            + self.timeout() * 8
    }
}

/// The default deadline of a fault step: the fault, the probe window around it, and `margin`.
pub fn deadline(duration: HumanDuration, probe: Option<&ProbeSpec>, margin: Duration) -> Duration {
    duration.get() + probe.map(ProbeSpec::allowance).unwrap_or_default() + margin
}

/// A resolved probe: source namespace and target address.
pub struct Probe {
    from_pid: Option<u32>,
    addr: SocketAddr,
    spec: ProbeSpec,
}

impl Probe {
    /// Resolves container names to a namespace pid and an address.
    pub async fn resolve(ctx: &Ctx<'_>, spec: &ProbeSpec) -> anyhow::Result<Probe> {
        let ip = ctx.ip_of(&spec.to.value).await?;
        let addr: SocketAddr = format!("{ip}:{}", spec.port).parse()?;
        let from_pid = match &spec.from {
            None => None,
            Some(f) => Some(pid_of(ctx, &f.value).await?),
        };
        Ok(Probe {
            from_pid,
            addr,
            spec: spec.clone(),
        })
    }

    /// One attempt, recorded as a sample of `phase`.
    pub async fn sample(&self, ctx: &mut Ctx<'_>, phase: &str) -> bool {
        let (pid, addr, kind, timeout) = (
            self.from_pid,
            self.addr,
            self.spec.kind(),
            self.spec.timeout(),
        );
        let t = ctx.t0.elapsed();
        let r = tokio::task::spawn_blocking(move || probe_once(pid, addr, kind, timeout))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let ok = r.is_ok();
        ctx.samples.push(Sample {
            t,
            phase: phase.into(),
            ok,
            latency: r.as_ref().ok().map(Duration::as_secs_f64),
            error: r.err(),
        });
        ok
    }
}

/// The host PID of a running scenario container's process 1 (its network namespace).
pub async fn pid_of(ctx: &Ctx<'_>, name: &str) -> anyhow::Result<u32> {
    let id = ctx.id(name)?;
    ctx.docker
        .observe(&id)
        .await?
        .pid
        .filter(|p| *p > 0)
        .map(|p| p as u32)
        .ok_or_else(|| anyhow!("container {name:?} is not running"))
}

/// How to undo a fault; undone on drop too, so a step cut off by its deadline still heals.
pub struct Healing {
    heal: Option<Box<dyn FnOnce() -> anyhow::Result<String> + Send>>,
}

impl Healing {
    /// A fault undone by `f`.
    pub fn new(f: impl FnOnce() -> anyhow::Result<String> + Send + 'static) -> Self {
        Healing {
            heal: Some(Box::new(f)),
        }
    }

    /// Undoes the fault now.
    pub fn heal(mut self) -> anyhow::Result<String> {
        match self.heal.take() {
            Some(f) => f(),
            None => Ok(String::new()),
        }
    }
}

impl Drop for Healing {
    fn drop(&mut self) {
        if let Some(f) = self.heal.take() {
            if let Err(e) = f() {
                tracing::warn!("healing a fault: {e:#}");
            }
        }
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(crate::verdict::percentile(v, 50.0))
}

/// Runs a fault for `duration` with an optional probe around it. `inject` applies the fault and
/// returns how to heal it.
pub async fn run(
    ctx: &mut Ctx<'_>,
    probe: Option<&ProbeSpec>,
    duration: Duration,
    inject: impl FnOnce() -> anyhow::Result<Healing>,
) -> anyhow::Result<()> {
    let probe = match probe {
        Some(p) => Some(Probe::resolve(ctx, p).await?),
        None => None,
    };
    if let Some(p) = &probe {
        for _ in 0..3 {
            p.sample(ctx, "before").await;
            tokio::time::sleep(p.spec.interval()).await;
        }
    }
    let injected = Instant::now();
    let healing = inject()?;
    ctx.fact(
        "injected_at",
        format!("{:.3}", ctx.t0.elapsed().as_secs_f64()),
    );
    let mut failed_after = None;
    while injected.elapsed() < duration {
        match &probe {
            Some(p) => {
                let t = injected.elapsed();
                if !p.sample(ctx, "during").await && failed_after.is_none() {
                    failed_after = Some(t);
                }
                let left = duration.saturating_sub(injected.elapsed());
                tokio::time::sleep(p.spec.interval().min(left)).await;
            }
            None => tokio::time::sleep(duration.saturating_sub(injected.elapsed())).await,
        }
    }
    let note = healing.heal()?;
    let healed = Instant::now();
    ctx.fact(
        "healed_at",
        format!("{:.3}", ctx.t0.elapsed().as_secs_f64()),
    );
    if !note.is_empty() {
        ctx.fact("healed", note);
    }
    if let Some(t) = failed_after {
        ctx.measure("time_to_failure", t);
    }
    let Some(p) = probe else { return Ok(()) };
    let recovery = p
        .spec
        .recovery
        .map(|d| d.get())
        .unwrap_or(Duration::from_secs(15));
    loop {
        if p.sample(ctx, "after").await {
            ctx.measure("time_to_recovery", healed.elapsed());
            break;
        }
        if healed.elapsed() > recovery {
            ctx.fact("recovered", "no");
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
