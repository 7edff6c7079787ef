//! Runs `pin_netns` (its arguments, and what it does: `action/pin_netns.rs`).

use std::time::Duration;

use anyhow::Context;
use nix::mount::{mount, MsFlags};

use super::Execute;
use crate::ctx::Ctx;
use journal::Change;
use model::action::{PinNetns, PINNED_DIR};
use model::fact::Fact;

impl Execute for PinNetns {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let proc = ctx.process(self.0.name()).await?;
        let target =
            std::path::Path::new(PINNED_DIR).join(format!("{}-{}", ctx.run_id, self.0.name()));
        let change = ctx
            .change(
                ctx.iteration_scope(),
                Change::NetnsPin {
                    path: target.clone(),
                },
                None,
            )
            .await?;
        // The namespace held by descriptor, not /proc/PID/ns/net: a recycled PID cannot swap it.
        let ns = proc.netns.clone();
        let t = target.clone();
        let made = host::blocking(
            "pinning a network namespace",
            Duration::from_secs(10),
            move || {
                std::fs::create_dir_all(PINNED_DIR)?;
                std::fs::File::create(&t).with_context(|| format!("creating {}", t.display()))?;
                let source = format!("/proc/self/fd/{}", ns.raw_fd());
                mount(
                    Some(source.as_str()),
                    &t,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .with_context(|| format!("bind-mounting {} on {}", ns.id(), t.display()))
            },
        )
        .await?;
        if let Err(e) = made {
            let _ = ctx.undo(change).await;
            return Err(e);
        }
        ctx.fact(Fact::Pinned(target.display().to_string()));
        Ok(())
    }
}
