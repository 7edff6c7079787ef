//! The mounts a daemon leaves under its directory.

use std::fs;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};

use super::{blocking, SCAN_DEADLINE};

/// Mount points at or under `dir`, from /proc/self/mountinfo, deepest first.
pub(super) fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|mp| PathBuf::from(unescape_mountinfo(mp)))
        .filter(|mp| mp.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
pub(super) fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
