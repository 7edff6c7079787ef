//! Runs `leak_veth` (its arguments, and what it does: `action/leak_veth.rs`).

use super::Execute;
use crate::ctx::Ctx;
use host::Cmd;
use journal::Change;
use model::action::LeakVeth;
use model::fact::Fact;

impl Execute for LeakVeth {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let bridge = ctx
            .leak_scope(false)
            .await
            .bridges
            .first()
            .cloned()
            .ok_or_else(|| {
                anyhow::anyhow!("leak_veth needs the daemon's bridge (a daemon the harness knows)")
            })?;
        let tag: String = ctx.run_id.chars().rev().take(5).collect();
        let alias = format!("shakedown:{}", ctx.run_id);
        let mut names = vec![];
        for i in 0..self.count.unwrap_or(1) {
            let (a, b) = (format!("sdleak{tag}{i}"), format!("sdpeer{tag}{i}"));
            let change = ctx
                .change(
                    ctx.iteration_scope(),
                    Change::Link {
                        name: a.clone(),
                        alias: alias.clone(),
                    },
                    None,
                )
                .await?;
            let made = async {
                Cmd::new(
                    "ip",
                    &["link", "add", &a, "type", "veth", "peer", "name", &b],
                )
                .run()
                .await?;
                // The alias is what undoing checks before it deletes anything.
                Cmd::new("ip", &["link", "set", &a, "alias", &alias])
                    .run()
                    .await?;
                Cmd::new("ip", &["link", "set", &a, "master", &bridge, "up"])
                    .run()
                    .await
            }
            .await;
            if let Err(e) = made {
                let _ = ctx.undo(change).await;
                return Err(e.into());
            }
            names.push(a);
        }
        ctx.fact(Fact::Veths(names.clone()));
        Ok(())
    }
}
