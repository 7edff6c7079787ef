//! The filesystems the harness makes for scenarios (`requires: {data_root: ...}`): a sparse image
//! file in the run's own directory, `mkfs`, a loop device, a mount at a path in that directory —
//! each step journaled in the ledger before it is made, with the handle that undoes it, and undone
//! from the ledger newest first when the scenario ends (or, for a dead run, by `shakedown clean`).
//! The host's own filesystems are never touched: the image, the device and the mount point are
//! the harness's own, named by the run.

use std::path::{Path, PathBuf};

use journal::{Change, ChangeScope};
use ledger::{ChangeId, Ledger, UndoEnv};
use model::scenario::DataRoot;

/// A filesystem made for a scenario.
pub struct MadeFs {
    /// Where it is mounted.
    pub point: PathBuf,
    /// Its changes, oldest first.
    changes: Vec<ChangeId>,
}

impl MadeFs {
    /// The managed daemon's `--data-root` on it (a directory of its own, so that the daemon's
    /// bind mount of its data-root does not stack on the mount point).
    pub fn data_root(&self) -> PathBuf {
        self.point.join("data")
    }

    /// Makes the `index`-th scenario's filesystem in `run_dir`. On failure what was made is
    /// undone again.
    pub async fn make(
        spec: &DataRoot,
        run_dir: &Path,
        index: usize,
        ledger: &Ledger,
        env: &impl UndoEnv,
    ) -> anyhow::Result<MadeFs> {
        let (point, image) = host::loopfs::layout(run_dir, index);
        let mut made = MadeFs {
            point: point.clone(),
            changes: Vec::new(),
        };
        match made.steps(spec, &image, ledger).await {
            Ok(()) => Ok(made),
            Err(e) => {
                let lines = made.undo(ledger, env).await;
                Err(e.context(format!(
                    "making the {} data-root in {} (undone: {})",
                    spec.fs.name(),
                    image.display(),
                    lines.join("; ")
                )))
            }
        }
    }

    async fn steps(
        &mut self,
        spec: &DataRoot,
        image: &Path,
        ledger: &Ledger,
    ) -> anyhow::Result<()> {
        let fs = spec.fs.name();
        let dir = image.parent().unwrap_or(image).to_path_buf();
        let size = spec.size.bytes();
        // The image is sparse, but a full filesystem on it holds `size` bytes of the state
        // directory's own: refused unless that much is free there beyond what a run needs.
        let run_dir = dir.parent().unwrap_or(&dir).to_path_buf();
        let (room, _) = host::blocking("reading free space", host::SCAN_DEADLINE, move || {
            host::loopfs::space(&run_dir)
        })
        .await??;
        let need = size.saturating_add(crate::clean::MIN_FREE_BYTES);
        if room < need {
            anyhow::bail!(
                "the state directory's filesystem has {} MiB free; a {} data-root filled up \
                 needs {} MiB there (point SHAKEDOWN_STATE_DIR elsewhere, or ask for less)",
                room >> 20,
                spec.size,
                need >> 20
            );
        }
        self.record(
            ledger,
            Change::FsImage {
                path: image.to_path_buf(),
            },
        )
        .await?;
        let (d, i) = (dir.clone(), image.to_path_buf());
        host::blocking("creating an image file", host::SCAN_DEADLINE, move || {
            host::private::create_dir_all(&d)?;
            host::loopfs::create_image(&i, size)
        })
        .await??;
        host::loopfs::mkfs(image, fs).await?;
        let loop_change = self
            .record(
                ledger,
                Change::LoopDevice {
                    image: image.to_path_buf(),
                    device: None,
                },
            )
            .await?;
        let device = host::loopfs::attach(image).await?;
        ledger
            .update(
                loop_change,
                Change::LoopDevice {
                    image: image.to_path_buf(),
                    device: Some(device.clone()),
                },
            )
            .await;
        let p = self.point.clone();
        host::blocking("creating a mount point", host::SCAN_DEADLINE, move || {
            host::private::create_dir_all(&p)
        })
        .await??;
        self.record(
            ledger,
            Change::FsMount {
                point: self.point.clone(),
                device: device.clone(),
            },
        )
        .await?;
        host::loopfs::mount(&device, &self.point, fs).await?;
        Ok(())
    }

    async fn record(&mut self, ledger: &Ledger, change: Change) -> anyhow::Result<ChangeId> {
        let id = ledger.record(ChangeScope::Run, change, None).await?;
        self.changes.push(id);
        Ok(id)
    }

    /// Takes it apart (unmount, detach, remove the image), newest first; one line per change.
    pub async fn undo(&mut self, ledger: &Ledger, env: &impl UndoEnv) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(id) = self.changes.pop() {
            match ledger.undo(id, env).await {
                Some(Ok(l)) => lines.push(l),
                Some(Err(e)) => lines.push(format!("FAILED: {e}")),
                None => {}
            }
        }
        lines
    }
}
