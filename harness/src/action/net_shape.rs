//! Shaping faults on a container's `eth0`: `net_delay` (delay, jitter, correlation), `net_loss`,
//! `net_rate`, `net_corrupt`, `net_duplicate`. Each uses the kernel's netem where the kernel has it;
//! without netem, delay is served by the harness through NFQUEUE, loss becomes an iptables
//! `statistic` rule, rate is always `tbf`, and corrupt/duplicate are a clear error naming the missing
//! kernel feature. The mechanism chosen is the step's `mechanism` fact. Qdiscs carry a handle of
//! ours and rules the run's comment; each is journaled before it is added.

use std::time::Duration;

use anyhow::bail;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::window::{self, ProbeSpec, Window};
use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::host::{Cmd, ContainerProcess};
use crate::journal::Change;
use crate::ledger::ChangeId;
use crate::net::{has_netem, rule_comment, DelayQueue};
use crate::scenario::Scenario;
use crate::units::HumanDuration;

/// What a shaping fault does to the packets.
#[derive(Clone, Debug)]
enum Shape {
    Delay {
        delay: Duration,
        jitter: Duration,
        correlation: Option<f64>,
    },
    Loss(f64),
    Rate(String),
    Corrupt(f64),
    Duplicate(f64),
}

/// The handle of the root qdiscs we add: the kernel deletes a root qdisc by handle only when the
/// handle matches, so undoing can never remove someone else's.
const QDISC_HANDLE: &str = "5d1:";
/// The NFQUEUE queue number the delay uses.
const QUEUE: u16 = 4242;

/// Journals a root qdisc with our handle on the container's eth0 (undone when the step ends),
/// then adds it.
async fn add_qdisc(
    ctx: &Ctx<'_>,
    proc: &ContainerProcess,
    kind_and_args: &[String],
) -> anyhow::Result<ChangeId> {
    let mut args = strings(&[
        "qdisc",
        "add",
        "dev",
        "eth0",
        "root",
        "handle",
        QDISC_HANDLE,
    ]);
    args.extend(kind_and_args.iter().cloned());
    ctx.make(
        Change::Qdisc {
            netns: Ctx::netns_ref(proc),
            dev: "eth0".into(),
            handle: QDISC_HANDLE.into(),
        },
        Some(&proc.netns),
        Cmd::new("tc", &args).netns(&proc.netns),
    )
    .await
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

async fn apply(
    ctx: &mut Ctx<'_>,
    container: &Spanned<String>,
    shape: Shape,
    duration: HumanDuration,
    probe: Option<&ProbeSpec>,
) -> anyhow::Result<()> {
    let proc = ctx.process(&container.value).await?;
    let netem_ok = has_netem(&proc.netns).await;
    let pct = |p: f64| format!("{p}%");
    // What to add, decided before the window opens (so an impossible fault fails at once).
    enum Plan {
        Qdisc(Vec<String>),
        Rule(Vec<String>),
        Queue { delay: Duration, jitter: Duration },
    }
    let plan = match (shape, netem_ok) {
        (
            Shape::Delay {
                delay,
                jitter,
                correlation,
            },
            true,
        ) => {
            ctx.fact("mechanism", "netem");
            let mut a = vec![
                "netem".to_string(),
                "delay".into(),
                format!("{}us", delay.as_micros()),
            ];
            if !jitter.is_zero() {
                a.push(format!("{}us", jitter.as_micros()));
                if let Some(c) = correlation {
                    a.push(pct(c));
                }
            }
            Plan::Qdisc(a)
        }
        (Shape::Delay { delay, jitter, .. }, false) => {
            ctx.fact(
                "mechanism",
                "nfqueue (no netem in this kernel): egress packets held by the harness",
            );
            Plan::Queue { delay, jitter }
        }
        (Shape::Loss(p), true) => {
            ctx.fact("mechanism", "netem");
            Plan::Qdisc(vec!["netem".into(), "loss".into(), pct(p)])
        }
        (Shape::Loss(p), false) => {
            ctx.fact("mechanism", "iptables statistic (no netem in this kernel)");
            let prob = format!("{}", p / 100.0);
            let comment = rule_comment(ctx.run_id);
            Plan::Rule(strings(&[
                "OUTPUT",
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                &prob,
                "-m",
                "comment",
                "--comment",
                &comment,
                "-j",
                "DROP",
            ]))
        }
        (Shape::Rate(rate), _) => {
            ctx.fact("mechanism", "tbf");
            Plan::Qdisc(strings(&[
                "tbf", "rate", &rate, "burst", "32kbit", "latency", "400ms",
            ]))
        }
        (Shape::Corrupt(p), true) => {
            ctx.fact("mechanism", "netem");
            Plan::Qdisc(vec!["netem".into(), "corrupt".into(), pct(p)])
        }
        (Shape::Duplicate(p), true) => {
            ctx.fact("mechanism", "netem");
            Plan::Qdisc(vec!["netem".into(), "duplicate".into(), pct(p)])
        }
        (Shape::Corrupt(_) | Shape::Duplicate(_), false) => bail!(
            "this fault needs the kernel's netem qdisc (CONFIG_NET_SCH_NETEM), which this kernel \
             does not have (`tc qdisc add ... netem` answers \"Specified qdisc kind is unknown\")"
        ),
    };
    let mut w = Window::open(ctx, probe).await?;
    let change = match plan {
        Plan::Qdisc(args) => add_qdisc(ctx, &proc, &args).await?,
        Plan::Rule(rule) => super::partition::add_rule(ctx, &proc, rule).await?,
        Plan::Queue { delay, jitter } => {
            // The queue's thread first, then the rule that feeds it; undoing removes the rule,
            // then releases what the thread holds.
            let ns = proc.netns.clone();
            let q = crate::host::blocking(
                "starting the NFQUEUE thread",
                Duration::from_secs(10),
                move || DelayQueue::start(&ns, QUEUE, delay, jitter),
            )
            .await??;
            let comment = rule_comment(ctx.run_id);
            let rule = strings(&[
                "OUTPUT",
                "-m",
                "comment",
                "--comment",
                &comment,
                "-j",
                "NFQUEUE",
                "--queue-num",
                &QUEUE.to_string(),
                "--queue-bypass",
            ]);
            match super::partition::add_rule(ctx, &proc, rule).await {
                Ok(id) => {
                    ctx.ledger.attach(id, Box::new(move || q.finish()));
                    id
                }
                Err(e) => {
                    let _ = crate::host::blocking(
                        "stopping the NFQUEUE thread",
                        Duration::from_secs(10),
                        move || q.finish(),
                    )
                    .await;
                    return Err(e);
                }
            }
        }
    };
    w.injected(ctx, vec![change]);
    w.hold(ctx, duration.get()).await;
    w.close(ctx).await
}

fn deadline(duration: HumanDuration, probe: &Option<ProbeSpec>) -> Duration {
    window::deadline(duration, probe.as_ref(), Duration::from_secs(30))
}

fn refs<'a>(c: &'a Spanned<String>, probe: &'a Option<ProbeSpec>) -> Vec<&'a Spanned<String>> {
    let mut v = vec![c];
    v.extend(probe.iter().flat_map(ProbeSpec::refs));
    v
}

fn percent_problem(name: &str, p: f64) -> Vec<String> {
    if (0.0..=100.0).contains(&p) {
        vec![]
    } else {
        vec![format!("{name}: percent must be between 0 and 100")]
    }
}

/// Arguments of `net_delay`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetDelay {
    /// The container whose outgoing packets are delayed.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Added delay.
    pub delay: HumanDuration,
    /// ± jitter.
    #[serde(default)]
    pub jitter: Option<HumanDuration>,
    /// Jitter correlation in percent (netem only).
    #[serde(default)]
    pub correlation: Option<f64>,
    /// How long.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

impl ActionKind for NetDelay {
    const NAME: &'static str = "net_delay";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        refs(&self.container, &self.probe)
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        deadline(self.duration, &self.probe)
    }
}

impl Execute for NetDelay {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let shape = Shape::Delay {
            delay: self.delay.get(),
            jitter: self.jitter.map(|j| j.get()).unwrap_or_default(),
            correlation: self.correlation,
        };
        apply(
            ctx,
            &self.container,
            shape,
            self.duration,
            self.probe.as_ref(),
        )
        .await
    }
}

/// Arguments of `net_loss`, `net_corrupt` and `net_duplicate`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetPercent {
    /// The container whose outgoing packets are affected.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Share of packets, 0-100.
    pub percent: f64,
    /// How long.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

macro_rules! percent_fault {
    ($ty:ident, $name:literal, $shape:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $ty(pub NetPercent);

        impl ActionKind for $ty {
            const NAME: &'static str = $name;

            fn container_refs(&self) -> Vec<&Spanned<String>> {
                refs(&self.0.container, &self.0.probe)
            }

            fn problems(&self) -> Vec<String> {
                percent_problem($name, self.0.percent)
            }

            fn default_deadline(&self, _: &Scenario) -> Duration {
                deadline(self.0.duration, &self.0.probe)
            }
        }

        impl Execute for $ty {
            async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
                let p = &self.0;
                apply(
                    ctx,
                    &p.container,
                    Shape::$shape(p.percent),
                    p.duration,
                    p.probe.as_ref(),
                )
                .await
            }
        }
    };
}

percent_fault!(
    NetLoss,
    "net_loss",
    Loss,
    "Arguments of `net_loss`: drop a share of outgoing packets."
);
percent_fault!(
    NetCorrupt,
    "net_corrupt",
    Corrupt,
    "Arguments of `net_corrupt` (netem only)."
);
percent_fault!(
    NetDuplicate,
    "net_duplicate",
    Duplicate,
    "Arguments of `net_duplicate` (netem only)."
);

/// Arguments of `net_rate`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetRate {
    /// The container whose outgoing traffic is limited.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Rate as tc writes it: `1mbit`, `500kbit`.
    pub rate: String,
    /// How long.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

impl ActionKind for NetRate {
    const NAME: &'static str = "net_rate";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        refs(&self.container, &self.probe)
    }

    fn problems(&self) -> Vec<String> {
        let ok = self
            .rate
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse::<f64>()
            .is_ok()
            && self.rate.ends_with("bit");
        if ok {
            vec![]
        } else {
            vec![format!(
                "net_rate: rate {:?} must look like 1mbit or 500kbit",
                self.rate
            )]
        }
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        deadline(self.duration, &self.probe)
    }
}

impl Execute for NetRate {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        apply(
            ctx,
            &self.container,
            Shape::Rate(self.rate.clone()),
            self.duration,
            self.probe.as_ref(),
        )
        .await
    }
}
