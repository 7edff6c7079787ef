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
        // A file not written yet is content too (none): its creation is progress, so a writer
        // that has only just started is not an error.
        let read = |proc: host::ContainerProcess, path: String| async move {
            host::blocking(
                "reading a file in a container",
                Duration::from_secs(5),
                move || match proc.read_file(&path) {
                    Ok(data) => Ok(Some(data)),
                    Err(e)
                        if e.root_cause()
                            .downcast_ref::<std::io::Error>()
                            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                },
            )
            .await?
        };
        let first = read(proc.clone(), self.path.clone()).await?;
        // In the background, the next step starts only now: progress is counted from this read.
        ctx.anchor_taken();
        let shown = |b: &Option<Vec<u8>>| match b {
            Some(b) => String::from_utf8_lossy(b).trim().chars().take(80).collect(),
            None => "(no such file)".to_string(),
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
