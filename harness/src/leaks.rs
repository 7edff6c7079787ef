//! Leak detection: a snapshot of what containers leave on a host — veth interfaces, ports of the
//! engine's bridge, network namespaces pinned by nsfs mounts, overlay/shm mounts under the daemon's
//! directories, shim processes in its containerd namespace, container cgroups — taken before a
//! scenario and again after; what appeared in between and is still there is a leak.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a managed daemon keeps its things (what the snapshot looks at besides host-wide lists).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// The daemon's directory (data-root and exec-root are below it).
    pub dir: Option<PathBuf>,
    /// Its data-root, whose bind mount on itself belongs to the daemon.
    pub data_root: Option<PathBuf>,
    /// Its bridge.
    pub bridge: Option<String>,
    /// Its containerd namespace.
    pub namespace: Option<String>,
}

/// Kinds of leaks, each a named set in a snapshot.
pub const KINDS: [&str; 6] = ["veth", "bridge_port", "netns", "mount", "shim", "cgroup"];

/// What was on the host at one moment: kind → names.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<String, BTreeSet<String>>);

fn veths() -> BTreeSet<String> {
    let out = std::process::Command::new("ip")
        .args(["-j", "link", "show", "type", "veth"])
        .output();
    let Ok(out) = out else { return BTreeSet::new() };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l["ifname"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn dir_names(p: &Path) -> BTreeSet<String> {
    std::fs::read_dir(p)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Container cgroups: 64-hex-digit directories (or `docker-<id>.scope`) anywhere a cgroup driver
/// puts them, two levels deep under each hierarchy.
fn cgroups() -> BTreeSet<String> {
    let is_id = |n: &str| {
        let id = n
            .strip_prefix("docker-")
            .and_then(|s| s.strip_suffix(".scope"))
            .unwrap_or(n);
        id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit())
    };
    let mut out = BTreeSet::new();
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![root.to_path_buf()];
    dirs.extend(dir_names(root).into_iter().map(|d| root.join(d)));
    for d in dirs {
        for parent in dir_names(&d) {
            let p = d.join(&parent);
            for child in dir_names(&p) {
                if is_id(&child) {
                    out.insert(p.join(child).to_string_lossy().to_string());
                }
            }
        }
    }
    out
}

/// Takes a snapshot. Cheap enough to run before and after every iteration (a few /proc and /sys
/// reads and one `ip` call).
pub fn snapshot(scope: &Scope) -> Snapshot {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts: Vec<(String, String)> = mountinfo
        .lines()
        .filter_map(|l| {
            let point = l.split(' ').nth(4)?.to_string();
            let fs = l.split(" - ").nth(1)?.split(' ').next()?.to_string();
            Some((point, fs))
        })
        .collect();
    let mut m = BTreeMap::new();
    m.insert("veth".into(), veths());
    m.insert(
        "bridge_port".into(),
        scope
            .bridge
            .as_ref()
            .map(|b| dir_names(&Path::new("/sys/class/net").join(b).join("brif")))
            .unwrap_or_default(),
    );
    m.insert(
        "netns".into(),
        mounts
            .iter()
            .filter(|(_, fs)| fs == "nsfs")
            .map(|(p, _)| p.clone())
            .collect(),
    );
    let dir = scope.dir.as_ref().map(|d| d.to_string_lossy().to_string());
    let data_root = scope
        .data_root
        .as_ref()
        .map(|d| d.to_string_lossy().to_string());
    m.insert(
        "mount".into(),
        mounts
            .iter()
            .filter(|(p, fs)| {
                matches!(fs.as_str(), "overlay" | "tmpfs" | "shm")
                    && dir.as_ref().is_some_and(|d| p.starts_with(d.as_str()))
                    && Some(p) != data_root.as_ref()
            })
            .map(|(p, fs)| format!("{fs} {p}"))
            .collect(),
    );
    m.insert(
        "shim".into(),
        scope
            .namespace
            .as_ref()
            .map(|ns| {
                crate::proc::shims_in_namespace(ns)
                    .into_iter()
                    .map(|p| format!("{} {}", p.pid, p.cmdline))
                    .collect()
            })
            .unwrap_or_default(),
    );
    m.insert("cgroup".into(), cgroups());
    Snapshot(m)
}

/// What is in `after` but not in `before`, by kind (every kind present, possibly empty).
pub fn diff(before: &Snapshot, after: &Snapshot) -> BTreeMap<String, Vec<String>> {
    KINDS
        .iter()
        .map(|k| {
            let empty = BTreeSet::new();
            let b = before.0.get(*k).unwrap_or(&empty);
            let new = after
                .0
                .get(*k)
                .map(|a| a.difference(b).cloned().collect())
                .unwrap_or_default();
            (k.to_string(), new)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_what_appeared() {
        let mut a = Snapshot::default();
        a.0.insert("veth".into(), ["veth1".to_string()].into());
        let mut b = a.clone();
        b.0.get_mut("veth").unwrap().insert("veth2".into());
        let d = diff(&a, &b);
        assert_eq!(d["veth"], vec!["veth2".to_string()]);
        assert!(d["netns"].is_empty());
        assert_eq!(d.len(), KINDS.len());
    }
}
