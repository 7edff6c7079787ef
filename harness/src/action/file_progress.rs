//! `file_progress`: does a container make progress, seen from the host without the daemon? Reads
//! a file inside the container (e.g. a counter the application rewrites) through the process the
//! harness holds (`/proc/PID/root`, checked to still be the container's), then waits up to
//! `within` for its content to change. Works while dockerd is down — e.g. to see an application
//! blocked on its full log pipe. The verdict is the `probe` fact (`up`: it changed, `down`: it did
//! not), which the `probe` expectation judges; `time_to_progress` is how long the change took.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tokio::time::Instant;

use super::{ActionKind, Execute};
use crate::ctx::Ctx;
use crate::scenario::Scenario;
use crate::units::HumanDuration;

/// Arguments of `file_progress`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileProgress {
    /// The container (it must be running; observed running in an earlier step).
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// The file's absolute path inside the container.
    pub path: String,
    /// How long to wait for the content to change (default 5s).
    #[serde(default)]
    pub within: Option<HumanDuration>,
}

impl FileProgress {
    fn within(&self) -> Duration {
        self.within
            .map(HumanDuration::get)
            .unwrap_or(Duration::from_secs(5))
    }
}

impl ActionKind for FileProgress {
    const NAME: &'static str = "file_progress";
    const ANCHORS_ITSELF: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn problems(&self) -> Vec<String> {
        if self.path.starts_with('/') {
            vec![]
        } else {
            vec![format!(
                "file_progress: path {:?} must be absolute (as the container sees it)",
                self.path
            )]
        }
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        self.within() + Duration::from_secs(30)
    }
}

impl Execute for FileProgress {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let proc = ctx.process(&self.container.value).await?;
        let read = |proc: crate::host::ContainerProcess, path: String| async move {
            crate::host::blocking(
                "reading a file in a container",
                Duration::from_secs(5),
                move || proc.read_file(&path),
            )
            .await?
        };
        let first = read(proc.clone(), self.path.clone()).await?;
        // In the background, the next step starts only now: progress is counted from this read.
        ctx.anchor_taken();
        let shown = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            s.trim().chars().take(80).collect::<String>()
        };
        ctx.fact("content_before", shown(&first));
        let t = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = read(proc.clone(), self.path.clone()).await?;
            if now != first {
                ctx.measure("time_to_progress", t.elapsed());
                ctx.fact("content_after", shown(&now));
                ctx.fact("progress", "yes");
                ctx.fact("probe", "up");
                return Ok(());
            }
            if t.elapsed() >= self.within() {
                ctx.fact("content_after", shown(&now));
                ctx.fact("progress", "hung");
                ctx.fact("probe", "down");
                return Ok(());
            }
        }
    }
}
