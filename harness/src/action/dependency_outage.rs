//! `dependency_outage`: a dependency container stops answering for a while — paused (frozen cgroup:
//! connections stay open but nothing answers) or stopped and started again (connections are closed) —
//! with an optional probe around it. Always brought back at the end of the step.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::window::{self, Healing, ProbeSpec};
use super::ActionKind;
use crate::runner::Ctx;
use crate::scenario::Scenario;
use crate::units::HumanDuration;

/// How the dependency goes away.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// `docker pause` (the cgroup freezer), then unpause.
    #[default]
    Pause,
    /// `docker stop -t 1`, then start.
    Stop,
}

/// Arguments of `dependency_outage`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DependencyOutage {
    /// The dependency.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Pause (default) or stop.
    #[serde(default)]
    pub mode: OutageMode,
    /// How long it is away.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

/// Runs a daemon call from the synchronous healing path (the runtime is multi-threaded).
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

impl ActionKind for DependencyOutage {
    const NAME: &'static str = "dependency_outage";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        let mut v = vec![&self.container];
        v.extend(self.probe.iter().flat_map(ProbeSpec::refs));
        v
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        window::deadline(self.duration, self.probe.as_ref(), Duration::from_secs(60))
    }

    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let id = ctx.id(&self.container.value)?;
        let docker = ctx.docker.clone();
        let mode = self.mode;
        ctx.fact("mechanism", format!("docker {mode:?}").to_lowercase());
        window::run(ctx, self.probe.as_ref(), self.duration.get(), move || {
            match mode {
                OutageMode::Pause => block_on(docker.pause(&id))?,
                OutageMode::Stop => block_on(docker.stop(
                    &id,
                    Some(Duration::from_secs(1)),
                    Duration::from_secs(30),
                ))?,
            }
            Ok(Healing::new(move || {
                match mode {
                    OutageMode::Pause => block_on(docker.unpause(&id))?,
                    OutageMode::Stop => block_on(docker.start(&id))?,
                }
                Ok(format!(
                    "{} the dependency",
                    if mode == OutageMode::Pause {
                        "unpaused"
                    } else {
                        "started"
                    }
                ))
            }))
        })
        .await
    }
}
