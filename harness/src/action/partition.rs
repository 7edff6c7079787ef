//! `partition`: drop traffic between a container and another container (or an address, optionally
//! one TCP port), in one or both directions, with iptables rules inside the container's network
//! namespace (joined through the descriptor held since the container was observed), each carrying
//! the comment `shakedown:<run id>` and journaled before it is inserted. Healed when `duration`
//! ends (and always at the end of the step).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::window::{self, ProbeSpec, Window};
use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::host::{Cmd, ContainerProcess};
use crate::journal::Change;
use crate::ledger::ChangeId;
use crate::net::rule_comment;
use crate::scenario::Scenario;
use crate::units::HumanDuration;

/// Which traffic a partition drops.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Both ways (default).
    #[default]
    Both,
    /// From the container out.
    Egress,
    /// Into the container.
    Ingress,
}

/// Arguments of `partition`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The container whose namespace gets the rules.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// The other side: a scenario container...
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub to: Option<Spanned<String>>,
    /// ...or an address or CIDR.
    #[serde(default)]
    pub address: Option<String>,
    /// Only this TCP port of the other side.
    #[serde(default)]
    pub port: Option<u16>,
    /// Direction (default both).
    #[serde(default)]
    pub direction: Direction,
    /// How long the partition lasts.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

impl ActionKind for Partition {
    const NAME: &'static str = "partition";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        let mut v = vec![&self.container];
        v.extend(self.to.as_ref());
        v.extend(self.probe.iter().flat_map(ProbeSpec::refs));
        v
    }

    fn problems(&self) -> Vec<String> {
        match (&self.to, &self.address) {
            (None, None) => vec!["partition: give `to` (a container) or `address`".into()],
            (Some(_), Some(_)) => vec!["partition: give `to` or `address`, not both".into()],
            _ => vec![],
        }
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        window::deadline(self.duration, self.probe.as_ref(), Duration::from_secs(30))
    }
}

impl Execute for Partition {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let proc = ctx.process(&self.container.value).await?;
        let other = match (&self.to, &self.address) {
            (Some(c), _) => ctx.ip_of(&c.value).await?,
            (None, Some(a)) => a.clone(),
            (None, None) => anyhow::bail!("partition: nothing to partition from"),
        };
        let port = self.port.map(|p| p.to_string());
        let comment = rule_comment(ctx.run_id);
        let mut rules: Vec<Vec<String>> = vec![];
        if self.direction != Direction::Ingress {
            let mut r = vec!["OUTPUT", "-d", &other];
            if let Some(p) = &port {
                r.extend(["-p", "tcp", "--dport", p]);
            }
            rules.push(r.iter().map(|s| s.to_string()).collect());
        }
        if self.direction != Direction::Egress {
            let mut r = vec!["INPUT", "-s", &other];
            if let Some(p) = &port {
                r.extend(["-p", "tcp", "--sport", p]);
            }
            rules.push(r.iter().map(|s| s.to_string()).collect());
        }
        for r in &mut rules {
            r.extend(
                ["-m", "comment", "--comment", &comment, "-j", "DROP"]
                    .iter()
                    .map(|s| s.to_string()),
            );
        }
        ctx.fact(
            "mechanism",
            "iptables DROP rules in the container's network namespace",
        );
        let mut w = Window::open(ctx, self.probe.as_ref()).await?;
        let mut changes = vec![];
        for rule in rules {
            changes.push(add_rule(ctx, &proc, rule).await?);
        }
        w.injected(ctx, changes);
        w.hold(ctx, self.duration.get()).await;
        w.close(ctx).await
    }
}

/// Journals an iptables rule in the container's namespace (undone when the step ends), then
/// inserts it.
pub(crate) async fn add_rule(
    ctx: &Ctx<'_>,
    proc: &ContainerProcess,
    rule: Vec<String>,
) -> anyhow::Result<ChangeId> {
    let mut args = vec!["-w".to_string(), "5".into(), "-I".into()];
    args.extend(rule.iter().cloned());
    ctx.make(
        Change::IptablesRule {
            netns: Ctx::netns_ref(proc),
            rule,
        },
        Some(&proc.netns),
        Cmd::new("iptables", &args).netns(&proc.netns),
    )
    .await
}
