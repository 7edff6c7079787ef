//! The mount table as `/proc/self/mountinfo` shows it: the one parser for every reader (leak
//! snapshots, a managed daemon's unmounts).
//!
//! Parsed here rather than with `procfs`, which keeps mount points in their escaped form (`\040`
//! for a space) and gives up on the whole table when one line is not UTF-8.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The mounted root within its file system (`net:[INODE]` for a namespace).
    pub root: String,
    /// Where it is mounted, unescaped (any bytes, as the kernel has it).
    pub point: PathBuf,
    /// The file system type.
    pub fstype: String,
}

/// The calling process's mount table. Blocking (an unreadable table is an error, never empty):
/// call it through [`super::blocking`].
pub fn read() -> std::io::Result<Vec<Mount>> {
    Ok(parse(&std::fs::read("/proc/self/mountinfo")?))
}

/// Parses the text of a mountinfo file; a line without a root, a mount point and the `-` that
/// ends its optional fields is skipped.
pub fn parse(info: &[u8]) -> Vec<Mount> {
    info.split(|&b| b == b'\n').filter_map(line).collect()
}

fn line(l: &[u8]) -> Option<Mount> {
    // id parent major:minor root point options [optional fields...] - fstype source super-options
    let f: Vec<&[u8]> = l.split(|&b| b == b' ').collect();
    let dash = 6 + f.get(6..)?.iter().position(|x| *x == b"-")?;
    Some(Mount {
        root: String::from_utf8_lossy(&unescape(f[3])).into_owned(),
        point: PathBuf::from(OsString::from_vec(unescape(f[4]))),
        fstype: String::from_utf8_lossy(f.get(dash + 1)?).into_owned(),
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` (three octal digits, the first
/// at most 3: one byte).
fn unescape(s: &[u8]) -> Vec<u8> {
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn mount_points_are_unescaped() {
        let info = b"36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n\
                     37 35 0:5 / /x/D/data rw - overlay overlay rw\n\
                     38 35 0:5 / /back\\134slash\\777 rw - tmpfs tmpfs rw\n";
        let points: Vec<PathBuf> = parse(info).into_iter().map(|m| m.point).collect();
        assert_eq!(
            points,
            vec![
                PathBuf::from("/mnt/a b"),
                PathBuf::from("/x/D/data"),
                PathBuf::from("/back\\slash\\777"),
            ]
        );
    }

    #[test]
    fn an_escaped_mount_point_round_trips() {
        // What the kernel writes for a mount point (seq_path escapes " \t\n\\"), any bytes.
        let point: &[u8] = b"/var/lib/a b\tc\nd\\e/\xff\xfe/end ";
        let escaped: Vec<u8> = point
            .iter()
            .flat_map(|&b| match b {
                b' ' | b'\t' | b'\n' | b'\\' => format!("\\{b:03o}").into_bytes(),
                _ => vec![b],
            })
            .collect();
        let mut info = b"40 30 0:50 /root\\040dir ".to_vec();
        info.extend_from_slice(&escaped);
        info.extend_from_slice(b" rw shared:5 - overlay overlay rw,lowerdir=a\nnot a mount line\n");
        let m = parse(&info);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(
            m[0].point,
            PathBuf::from(OsString::from_vec(point.to_vec()))
        );
        assert_eq!(
            (m[0].root.as_str(), m[0].fstype.as_str()),
            ("/root dir", "overlay")
        );
    }

    #[test]
    fn this_process_has_a_root_mount() {
        let table = read().unwrap();
        assert!(table.iter().any(|m| m.point == Path::new("/")), "{table:?}");
    }
}
