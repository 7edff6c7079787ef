//! `container_freeze`: freeze a container's cgroup from the host, behind the daemon's back (the
//! cgroup freezer: `freezer.state` on cgroup v1, `cgroup.freeze` on v2) — a process that does not
//! run and, on cgroup v1, does not even die of SIGKILL until thawed: the container that does not
//! stop. Recorded in the ledger before it is made (undo: thaw) and thawed when the iteration ends
//! at the latest. Records what the kernel then says: the freezer's state, and PID 1's state
//! letter and wait channel (`/proc/PID/stat`, `/proc/PID/wchan`).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tokio::time::Instant;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::host::Freezer;
use crate::journal::Change;
use crate::scenario::Scenario;

/// Arguments of `container_freeze`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerFreeze {
    /// The container's name in the scenario (it must be running).
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Freeze a child cgroup the harness creates inside the container's and moves its
    /// processes into, instead of the container's own (cgroup v1 only; default false). The runtime then
    /// sees its container thawed: runc's thaw before SIGKILL does not reach the process, so
    /// `docker stop` cannot complete — the frozen container of the field report.
    #[serde(default)]
    pub nested: bool,
}

impl ActionKind for ContainerFreeze {
    const NAME: &'static str = "container_freeze";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }
}

impl Execute for ContainerFreeze {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let proc = ctx.process(&self.container.value).await?;
        let p = proc.clone();
        let freezer = crate::host::blocking(
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
        let set = crate::host::blocking("freezing a cgroup", Duration::from_secs(5), move || {
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
            let state = crate::host::blocking(
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
        ctx.fact("freezer_state", &state);
        let pid = proc.pid;
        let (stat, wchan) = crate::host::blocking(
            "reading a frozen process's state",
            Duration::from_secs(5),
            move || {
                (
                    crate::proc::stat(pid).map(|s| s.state),
                    std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default(),
                )
            },
        )
        .await?;
        ctx.fact("process_state", stat.map(String::from).unwrap_or_default());
        ctx.fact("process_wchan", wchan.trim());
        if !Freezer::is_frozen(&state) {
            anyhow::bail!(
                "{} still says {state} 10 s after freezing",
                freezer.control.display()
            );
        }
        Ok(())
    }
}
