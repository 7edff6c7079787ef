//! The mounts a daemon leaves under its directory (dockerd 20.10 leaves its data-root bound on
//! itself; overlay, shm and netns mounts can remain after a crash). Only mount points at or under
//! `D` by path components are touched: `/x/D2` is not under `/x/D`. The mount table is read with
//! [`host::mounts`], which unescapes mount points (`\040` for a space).

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};

use super::{at_or_under, SCAN_DEADLINE};
use host::blocking;
use host::mounts;

/// Mount points at or under `dir`, from /proc/self/mountinfo, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mounts::read()
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.point)
        .filter(|mp| at_or_under(mp, dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Lazily unmounts everything under `dir`, deepest first, until nothing is left (a detach can
/// uncover a mount underneath, e.g. the data-root bound on itself twice).
pub(super) async fn unmount_all(dir: &Path, report: &mut Vec<String>) {
    let d = dir.to_path_buf();
    let res = blocking("unmounting", SCAN_DEADLINE, move || {
        let mut lines = Vec::new();
        for _ in 0..20 {
            let mounts = mounts_under(&d);
            if mounts.is_empty() {
                return lines;
            }
            for mp in mounts {
                match umount2(&mp, MntFlags::MNT_DETACH) {
                    Ok(()) => lines.push(format!("unmounted {}", mp.display())),
                    Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
                    Err(e) => lines.push(format!("could not unmount {}: {e}", mp.display())),
                }
            }
        }
        let left = mounts_under(&d);
        if !left.is_empty() {
            lines.push(format!("mounts left under {}: {left:?}", d.display()));
        }
        lines
    })
    .await;
    match res {
        Ok(lines) => report.extend(lines),
        Err(e) => report.push(format!("{e:#}")),
    }
}
