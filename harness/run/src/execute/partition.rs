//! Runs `partition` (its arguments, and what it does: `action/partition.rs`).

use super::window::Window;
use super::Execute;
use crate::ctx::Ctx;
use host::net::rule_comment;
use host::{Cmd, ContainerProcess};
use journal::Change;
use ledger::ChangeId;
use model::action::{Direction, Partition};
use model::fact::Fact;

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
        ctx.fact(Fact::Mechanism(
            "iptables DROP rules in the container's network namespace".into(),
        ));
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
