//! Runs the shaping faults `net_delay`, `net_loss`, `net_rate`, `net_corrupt` and `net_duplicate`
//! (their arguments, and what they do: `action/net_shape.rs`).

use std::time::Duration;

use anyhow::bail;
use serde_saphyr::Spanned;

use super::window::Window;
use super::Execute;
use crate::ctx::Ctx;
use host::net::{has_netem, rule_comment, DelayQueue};
use host::{Cmd, ContainerProcess};
use journal::Change;
use ledger::ChangeId;
use model::action::window::ProbeSpec;
use model::action::{NetCorrupt, NetDelay, NetDuplicate, NetLoss, NetRate};
use model::fact::Fact;
use model::units::HumanDuration;

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
            ctx.fact(Fact::Mechanism("netem".into()));
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
            ctx.fact(Fact::Mechanism(
                "nfqueue (no netem in this kernel): egress packets held by the harness".into(),
            ));
            Plan::Queue { delay, jitter }
        }
        (Shape::Loss(p), true) => {
            ctx.fact(Fact::Mechanism("netem".into()));
            Plan::Qdisc(vec!["netem".into(), "loss".into(), pct(p)])
        }
        (Shape::Loss(p), false) => {
            ctx.fact(Fact::Mechanism(
                "iptables statistic (no netem in this kernel)".into(),
            ));
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
            ctx.fact(Fact::Mechanism("tbf".into()));
            Plan::Qdisc(strings(&[
                "tbf", "rate", &rate, "burst", "32kbit", "latency", "400ms",
            ]))
        }
        (Shape::Corrupt(p), true) => {
            ctx.fact(Fact::Mechanism("netem".into()));
            Plan::Qdisc(vec!["netem".into(), "corrupt".into(), pct(p)])
        }
        (Shape::Duplicate(p), true) => {
            ctx.fact(Fact::Mechanism("netem".into()));
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
            let q = host::blocking(
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
                    let _ = host::blocking(
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

/// `net_loss`, `net_corrupt` and `net_duplicate`: a share of the packets, as the shape named.
macro_rules! percent_fault_run {
    ($($ty:ident => $shape:ident),*) => {$(
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
    )*};
}

percent_fault_run!(NetLoss => Loss, NetCorrupt => Corrupt, NetDuplicate => Duplicate);
