//! Runs `fill_disk` (its arguments, and what it does: `action/fill_disk.rs`).

use std::path::PathBuf;
use std::time::Duration;

use super::Execute;
use crate::ctx::Ctx;
use journal::Change;
use ledger::ChangeId;
use model::action::{FillDisk, FillTarget};

/// Writing one fill file: a `fallocate`, or at worst the zeros of a small image.
const FILL_DEADLINE: Duration = Duration::from_secs(60);
/// At most this many files per fill (each a halving of what the filesystem refused).
const MAX_FILES: usize = 64;

impl Execute for FillDisk {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        if self.release {
            return release(ctx, &self.target.value).await;
        }
        let (point, dir) = fill_point(ctx, &self.target.value).await?;
        let want = self.free.map(|f| f.bytes()).unwrap_or(0);
        let scope = ctx.scope_until(self.duration.is_some());
        let mut changes: Vec<ChangeId> = Vec::new();
        let mut chunk: Option<u64> = None;
        let mut free = u64::MAX;
        // `fallocate` in halving chunks (no data written), then zeros for the last blocks.
        for k in 0..MAX_FILES {
            free = space(&point).await?;
            if free <= want {
                break;
            }
            let need = free - want;
            let bytes = chunk.map_or(need, |c| c.min(need));
            let last = bytes <= 64 << 10;
            let path = fill_path(ctx, &dir, &format!("{k}"));
            changes.push(
                ctx.change(scope, Change::FillFile { path: path.clone() }, None)
                    .await?,
            );
            let got = host::blocking("writing a fill file", FILL_DEADLINE, move || {
                if last {
                    host::loopfs::top_up(&path, bytes)
                } else {
                    host::loopfs::fill_file(&path, bytes)
                }
            })
            .await?;
            match got {
                Ok(_) if last => {
                    free = space(&point).await?;
                    break;
                }
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ENOSPC as i32) => {
                    chunk = Some(bytes / 2);
                }
                Err(e) => anyhow::bail!("filling {}: {e}", point.display()),
            }
        }
        tracing::debug!(point = %point.display(), free, want, files = changes.len(), "filled");
        if let Some(d) = self.duration {
            tokio::time::sleep(d.get()).await;
            for id in changes.into_iter().rev() {
                ctx.undo(id).await?;
            }
        }
        Ok(())
    }
}

/// What the filesystem at `point` has left for root, in bytes.
async fn space(point: &std::path::Path) -> anyhow::Result<u64> {
    let p = point.to_path_buf();
    let (free, _) = host::blocking("reading free space", FILL_DEADLINE, move || {
        host::loopfs::space(&p)
    })
    .await??;
    Ok(free)
}

/// What a fill of `target` fills: the mount point of the filesystem the harness made for the
/// scenario, and the directory on it the fill writes in (its root, or a volume's directory; never
/// anything outside that filesystem).
pub(super) async fn fill_point(
    ctx: &mut Ctx<'_>,
    target: &FillTarget,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let point = ctx.data_fs.clone().ok_or_else(|| {
        anyhow::anyhow!("the scenario has no data_root filesystem made by the harness")
    })?;
    let FillTarget::Volume(v) = target else {
        return Ok((point.clone(), point));
    };
    let name = ctx.ensure_volume(v).await?;
    // The local driver keeps a volume in the data-root (`--data-root` is `mnt/data`).
    let dir = point.join("data").join("volumes").join(&name).join("_data");
    let (d, p) = (dir.clone(), point.clone());
    let real = host::blocking("finding a volume's directory", FILL_DEADLINE, move || {
        std::fs::canonicalize(&d)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("volume {v:?} ({name}) is not at {}: {e}", dir.display()))?;
    if !real.starts_with(&p) {
        anyhow::bail!(
            "volume {v:?} resolves to {}, outside the scenario's filesystem",
            real.display()
        );
    }
    Ok((point, real))
}

/// A fill's path on `point`, named by the run and the step.
pub(super) fn fill_path(ctx: &Ctx<'_>, dir: &std::path::Path, suffix: &str) -> PathBuf {
    dir.join(format!(
        "shakedown-fill-{}-{}.{}.{}-{suffix}",
        ctx.run_id, ctx.at.scenario, ctx.at.iteration, ctx.at.step
    ))
}

/// Removes what earlier fills of `target` in the iteration wrote.
pub(super) async fn release(ctx: &mut Ctx<'_>, target: &FillTarget) -> anyhow::Result<()> {
    let (_, dir) = fill_point(ctx, target).await?;
    let fills = ctx.ledger.outstanding(
        |c| matches!(c, Change::FillFile { path } if path.parent() == Some(dir.as_path())),
    );
    if fills.is_empty() {
        anyhow::bail!(
            "nothing of {} is filled by this run (use fill_disk or fill_inodes first)",
            target.name()
        );
    }
    for (id, _) in fills.into_iter().rev() {
        ctx.undo(id).await?;
    }
    Ok(())
}
