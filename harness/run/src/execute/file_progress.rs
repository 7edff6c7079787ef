//! Runs `file_progress` (its arguments, and what it does: `action/file_progress.rs`).

use std::time::Duration;

use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use model::action::FileProgress;
use model::expect::ProbeState;
use model::fact::Fact;

impl Execute for FileProgress {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let proc = ctx.process(&self.container.value).await?;
        let read = |proc: host::ContainerProcess, path: String| async move {
            host::blocking(
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
        ctx.fact(Fact::ContentBefore(shown(&first)));
        let t = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = read(proc.clone(), self.path.clone()).await?;
            if now != first {
                ctx.measure("time_to_progress", t.elapsed());
                ctx.fact(Fact::ContentAfter(shown(&now)));
                ctx.fact(Fact::Progress(true));
                ctx.fact(Fact::Probe(Some(ProbeState::Up)));
                return Ok(());
            }
            if t.elapsed() >= self.within() {
                ctx.fact(Fact::ContentAfter(shown(&now)));
                ctx.fact(Fact::Progress(false));
                ctx.fact(Fact::Probe(Some(ProbeState::Down)));
                return Ok(());
            }
        }
    }
}
