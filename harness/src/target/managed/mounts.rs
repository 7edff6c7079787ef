//! The mounts a daemon leaves under its directory (dockerd 20.10 leaves its data-root bound on
//! itself; overlay, shm and netns mounts can remain after a crash). Only mount points at or under
//! `D` by path components are touched: `/x/D2` is not under `/x/D`.
//!
//! mountinfo is parsed here rather than with `procfs`, which keeps mount points in their escaped
//! form (`\040` for a space) and gives up on a line that is not UTF-8.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};

use super::{at_or_under, blocking, SCAN_DEADLINE};

/// Mount points at or under `dir`, from /proc/self/mountinfo, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = mount_points(&info)
        .into_iter()
        .filter(|mp| at_or_under(mp, dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// The mount point (fifth field) of every mountinfo line.
fn mount_points(info: &[u8]) -> Vec<PathBuf> {
    info.split(|&b| b == b'\n')
        .filter_map(|l| l.split(|&b| b == b' ').nth(4))
        .map(unescape)
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &[u8]) -> PathBuf {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let octal = s.get(i + 1..i + 4).filter(|d| {
            (b'0'..=b'3').contains(&d[0]) && d[1..].iter().all(|c| (b'0'..=b'7').contains(c))
        });
        match octal {
            Some(d) if s[i] == b'\\' => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            _ => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        let info = b"36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n\
                     37 35 0:5 / /x/D/data rw - overlay overlay rw\n\
                     38 35 0:5 / /back\\134slash\\777 rw - tmpfs tmpfs rw\n";
        assert_eq!(
            mount_points(info),
            vec![
                PathBuf::from("/mnt/a b"),
                PathBuf::from("/x/D/data"),
                PathBuf::from("/back\\slash\\777"),
            ]
        );
    }
}
