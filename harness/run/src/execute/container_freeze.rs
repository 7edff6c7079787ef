//! Runs `container_freeze` (its arguments, and what it does: `action/container_freeze.rs`).

use std::time::Duration;

use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use host::Freezer;
use journal::Change;
use model::action::ContainerFreeze;
use model::fact::Fact;

impl Execute for ContainerFreeze {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let proc = ctx.process(&self.container.value).await?;
        let p = proc.clone();
        let freezer = host::blocking(
            "finding a container's freezer",
            Duration::from_secs(5),
            move || p.freezer(),
        )
        .await??;
        let freezer = if self.nested {
            let name = format!(
                "shakedown-{}",
                ctx.run_id.chars().take(8).collect::<String>()
            );
            freezer.nested(&name).ok_or_else(|| {
                anyhow::anyhow!(
                    "container_freeze: `nested` needs the cgroup v1 freezer ({} is v2's)",
                    freezer.control.display()
                )
            })?
        } else {
            freezer
        };
        let change = ctx
            .change(
                ctx.iteration_scope(),
                Change::CgroupFrozen {
                    container_id: proc.container_id.clone(),
                    control: freezer.control.clone(),
                    nested: self.nested,
                },
                None,
            )
            .await?;
        let t = Instant::now();
        let (f, nested, pid) = (freezer.clone(), self.nested, proc.pid);
        let set = host::blocking("freezing a cgroup", Duration::from_secs(5), move || {
            if nested {
                f.create_with(pid)?;
            }
            f.set(true)
        })
        .await;
        if let Err(e) = set.map_err(anyhow::Error::from).and_then(|r| Ok(r?)) {
            let _ = ctx.undo(change).await;
            return Err(e.context(format!("freezing {}", freezer.control.display())));
        }
        // Freezing takes a moment (v1 passes through FREEZING): wait for the kernel to say so.
        let state = loop {
            let f = freezer.clone();
            let state = host::blocking(
                "reading a freezer's state",
                Duration::from_secs(5),
                move || f.state(),
            )
            .await??;
            if Freezer::is_frozen(&state) || t.elapsed() > Duration::from_secs(10) {
                break state;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        ctx.measure("frozen_after", t.elapsed());
        ctx.fact(Fact::FreezerState(state.clone()));
        let pid = proc.pid;
        let (stat, wchan) = host::blocking(
            "reading a frozen process's state",
            Duration::from_secs(5),
            move || {
                (
                    host::proc::stat(pid).map(|s| s.state),
                    std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default(),
                )
            },
        )
        .await?;
        ctx.fact(Fact::ProcessState(
            stat.map(String::from).unwrap_or_default(),
        ));
        ctx.fact(Fact::ProcessWchan(wchan.trim().to_string()));
        if !Freezer::is_frozen(&state) {
            anyhow::bail!(
                "{} still says {state} 10 s after freezing",
                freezer.control.display()
            );
        }
        Ok(())
    }
}
