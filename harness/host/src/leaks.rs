//! Leak detection: what containers leave behind — veth interfaces, ports of the engine's bridge,
//! network namespaces kept by nsfs mounts, overlay/shm mounts under the daemon's directories,
//! shim processes of its containerd namespace, container cgroups — taken when an iteration begins
//! and again at `check_leaks`; what appeared in between and is still there is a leak.
//!
//! Scoped: on a daemon the harness knows, only that daemon's objects are compared (its bridges'
//! ports and veths, nsfs mounts under its exec-root or of its containers' namespaces, mounts under
//! its directories, shims of its containerd namespace, cgroups of its containers), so other runs
//! and the host's own Docker cannot disturb the verdict. A host-wide comparison must be asked for.
//! Fail closed: a kind that cannot be read is `unavailable`, which makes its checks `unknown`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::mounts::{self, Mount};
use crate::{blocking, proc, Cmd, NetnsId, SCAN_DEADLINE};
use model::record::LeakFinding;

/// What a snapshot looks at.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Compare the whole host instead of one daemon's objects.
    pub host_wide: bool,
    /// The daemon's bridges.
    pub bridges: Vec<String>,
    /// The directory under which its mounts live (a managed daemon's own directory, or a
    /// daemon's data-root).
    pub dir: Option<PathBuf>,
    /// Its data-root (its bind mount on itself is the daemon's, not a leak; its `containers/`
    /// lists the daemon's container ids).
    pub data_root: Option<PathBuf>,
    /// Its exec-root (where it keeps its containers' network namespace files).
    pub exec_root: Option<PathBuf>,
    /// Its containerd namespace.
    pub namespace: Option<String>,
    /// Ids of the containers the iteration created.
    pub containers: BTreeSet<String>,
    /// Network namespaces of the iteration's containers.
    pub netns: BTreeSet<NetnsId>,
    /// Why the daemon's objects cannot be told apart from others' (no daemon known).
    pub unknown: Option<String>,
}

/// Kinds of leaks, each a named set in a snapshot.
pub const KINDS: [&str; 6] = ["veth", "bridge_port", "netns", "mount", "shim", "cgroup"];

/// What was there at one moment: kind → names, or why the kind could not be read.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<String, Result<BTreeSet<String>, String>>);

/// Whether `path` is `dir` or below it, by path components.
fn under(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
}

fn dir_names(p: &Path) -> std::io::Result<BTreeSet<String>> {
    Ok(std::fs::read_dir(p)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect())
}

/// The namespace inode an nsfs mount root names (`net:[4026532345]`).
fn netns_inode(root: &str) -> Option<u64> {
    root.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Container cgroups: 64-hex-digit directories (or `docker-<id>.scope`) two levels deep under
/// each hierarchy, those of `ids` only unless `all`.
fn cgroups(ids: &BTreeSet<String>, all: bool) -> std::io::Result<BTreeSet<String>> {
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![root.to_path_buf()];
    dirs.extend(dir_names(root)?.into_iter().map(|d| root.join(d)));
    let mut out = BTreeSet::new();
    for d in dirs {
        for parent in dir_names(&d).unwrap_or_default() {
            let p = d.join(&parent);
            for child in dir_names(&p).unwrap_or_default() {
                if let Some(id) = crate::process::container_of_cgroup(&child) {
                    if all || ids.contains(id) {
                        out.insert(p.join(&child).to_string_lossy().to_string());
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `ip -j link show type veth`: (name, master).
async fn veths() -> Result<Vec<(String, Option<String>)>, String> {
    let out = Cmd::new("ip", &["-j", "link", "show", "type", "veth"])
        .run()
        .await
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| format!("parsing `ip -j link`: {e}"))?;
    let links = v
        .as_array()
        .ok_or_else(|| "`ip -j link` did not print a list".to_string())?;
    Ok(links
        .iter()
        .filter_map(|l| {
            Some((
                l["ifname"].as_str()?.to_string(),
                l["master"].as_str().map(str::to_string),
            ))
        })
        .collect())
}

/// What the blocking part of a snapshot reads.
struct HostLists {
    mounts: Result<Vec<Mount>, String>,
    ports: BTreeMap<String, Result<BTreeSet<String>, String>>,
    all_ports: Result<BTreeSet<String>, String>,
    daemon_ids: BTreeSet<String>,
    cgroups: Result<BTreeSet<String>, String>,
}

fn read_host(scope: &Scope) -> HostLists {
    let mounts = mounts::read().map_err(|e| format!("reading /proc/self/mountinfo: {e}"));
    let ports = scope
        .bridges
        .iter()
        .map(|b| {
            let r = dir_names(&Path::new("/sys/class/net").join(b).join("brif"))
                .map_err(|e| format!("reading the ports of bridge {b}: {e}"));
            (b.clone(), r)
        })
        .collect();
    let all_ports = (|| -> std::io::Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for dev in dir_names(Path::new("/sys/class/net"))? {
            for p in
                dir_names(&Path::new("/sys/class/net").join(&dev).join("brif")).unwrap_or_default()
            {
                out.insert(format!("{dev}:{p}"));
            }
        }
        Ok(out)
    })()
    .map_err(|e| format!("reading /sys/class/net: {e}"));
    let mut ids = scope.containers.clone();
    if let Some(root) = &scope.data_root {
        ids.extend(
            dir_names(&root.join("containers"))
                .unwrap_or_default()
                .into_iter()
                .filter(|n| crate::process::is_container_id(n)),
        );
    }
    let cgroups =
        cgroups(&ids, scope.host_wide).map_err(|e| format!("reading /sys/fs/cgroup: {e}"));
    HostLists {
        mounts,
        ports,
        all_ports,
        daemon_ids: ids,
        cgroups,
    }
}

/// Takes a snapshot; every read is bounded and runs off the async workers.
pub async fn snapshot(scope: &Scope) -> Snapshot {
    let s = scope.clone();
    let lists = blocking("reading the host's lists", SCAN_DEADLINE, move || {
        read_host(&s)
    })
    .await
    .map_err(|e| e.to_string());
    let procs = proc::scan().await.map_err(|e| e.to_string());
    let veths = veths().await;
    let unknown = |what: &str| -> Result<BTreeSet<String>, String> {
        Err(scope.unknown.clone().unwrap_or_else(|| {
            format!("the daemon's {what} are not known (compare the whole host with `scope: host`)")
        }))
    };
    let mut m = BTreeMap::new();
    let lists = match lists {
        Ok(l) => l,
        Err(e) => {
            for k in KINDS {
                m.insert(k.to_string(), Err(e.clone()));
            }
            return Snapshot(m);
        }
    };
    let bridges: BTreeSet<&str> = scope.bridges.iter().map(String::as_str).collect();
    // veth: the host ends enslaved to the daemon's bridges.
    m.insert(
        "veth".into(),
        match (&veths, scope.host_wide, bridges.is_empty()) {
            (Err(e), _, _) => Err(e.clone()),
            (Ok(v), true, _) => Ok(v.iter().map(|(n, _)| n.clone()).collect()),
            (Ok(_), false, true) => unknown("bridges"),
            (Ok(v), false, false) => Ok(v
                .iter()
                .filter(|(_, m)| m.as_deref().is_some_and(|m| bridges.contains(m)))
                .map(|(n, _)| n.clone())
                .collect()),
        },
    );
    m.insert(
        "bridge_port".into(),
        if scope.host_wide {
            lists.all_ports.clone()
        } else if bridges.is_empty() {
            unknown("bridges")
        } else {
            lists
                .ports
                .iter()
                .try_fold(BTreeSet::new(), |mut acc, (b, r)| {
                    for p in r.clone()? {
                        acc.insert(if lists.ports.len() > 1 {
                            format!("{b}:{p}")
                        } else {
                            p
                        });
                    }
                    Ok(acc)
                })
        },
    );
    let inodes: BTreeSet<u64> = scope.netns.iter().map(|n| n.inode).collect();
    m.insert(
        "netns".into(),
        match (&lists.mounts, scope.host_wide, &scope.exec_root) {
            (Err(e), _, _) => Err(e.clone()),
            (Ok(ms), true, _) => Ok(ms
                .iter()
                .filter(|e| e.fstype == "nsfs" && e.root.starts_with("net:"))
                .map(|e| e.point.display().to_string())
                .collect()),
            (Ok(_), false, None) => unknown("directories"),
            (Ok(ms), false, Some(exec)) => Ok(ms
                .iter()
                .filter(|e| e.fstype == "nsfs")
                .filter(|e| {
                    under(&e.point, exec)
                        || netns_inode(&e.root).is_some_and(|i| inodes.contains(&i))
                })
                .map(|e| e.point.display().to_string())
                .collect()),
        },
    );
    m.insert(
        "mount".into(),
        match (&lists.mounts, &scope.dir) {
            (Err(e), _) => Err(e.clone()),
            (Ok(ms), dir) if scope.host_wide || dir.is_some() => Ok(ms
                .iter()
                .filter(|e| matches!(e.fstype.as_str(), "overlay" | "tmpfs" | "shm"))
                .filter(|e| match dir {
                    Some(d) => under(&e.point, d) && Some(&e.point) != scope.data_root.as_ref(),
                    None => e.fstype == "overlay" || e.point.ends_with("shm"),
                })
                .map(|e| format!("{} {}", e.fstype, e.point.display()))
                .collect()),
            (Ok(_), _) => unknown("directories"),
        },
    );
    m.insert(
        "shim".into(),
        match (&procs, &scope.namespace) {
            (Err(e), _) => Err(e.clone()),
            (Ok(ps), _) if scope.host_wide => Ok(ps
                .iter()
                .filter(|p| p.comm.starts_with("containerd-shim") && p.state != 'Z')
                .map(|p| format!("{} {}", p.pid, p.cmdline))
                .collect()),
            (Ok(ps), Some(ns)) => Ok(proc::shims_in(ps, ns)
                .into_iter()
                .map(|p| format!("{} {}", p.pid, p.cmdline))
                .collect()),
            (Ok(_), None) => unknown("containerd namespace"),
        },
    );
    m.insert(
        "cgroup".into(),
        if scope.host_wide || !lists.daemon_ids.is_empty() || scope.data_root.is_some() {
            lists.cgroups.clone()
        } else {
            unknown("containers")
        },
    );
    Snapshot(m)
}

/// What is in `after` but not in `before`, by kind (every kind present); a kind missing from
/// either side is unavailable.
pub fn diff(before: &Snapshot, after: &Snapshot) -> BTreeMap<String, LeakFinding> {
    KINDS
        .iter()
        .map(|k| {
            let missing = || Err("not in the snapshot".to_string());
            let b = before.0.get(*k).cloned().unwrap_or_else(missing);
            let a = after.0.get(*k).cloned().unwrap_or_else(missing);
            let finding = match (b, a) {
                (Err(e), _) => LeakFinding::Unavailable(format!("baseline: {e}")),
                (_, Err(e)) => LeakFinding::Unavailable(e),
                (Ok(b), Ok(a)) => LeakFinding::Found(a.difference(&b).cloned().collect()),
            };
            (k.to_string(), finding)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(kinds: &[(&str, Result<&[&str], &str>)]) -> Snapshot {
        Snapshot(
            kinds
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        v.map(|names| names.iter().map(|n| n.to_string()).collect())
                            .map_err(str::to_string),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn diff_names_what_appeared_and_fails_closed() {
        let a = snap(&[("veth", Ok(&["veth1"])), ("netns", Ok(&[]))]);
        let b = snap(&[
            ("veth", Ok(&["veth1", "veth2"])),
            ("netns", Err("ip failed")),
        ]);
        let d = diff(&a, &b);
        assert_eq!(d["veth"], LeakFinding::Found(vec!["veth2".into()]));
        assert_eq!(d["netns"], LeakFinding::Unavailable("ip failed".into()));
        // A kind the snapshots do not have is unavailable, never empty.
        assert!(matches!(d["shim"], LeakFinding::Unavailable(_)));
        assert_eq!(d.len(), KINDS.len());
    }

    #[test]
    fn mountinfo_with_namespaces_and_escapes() {
        let text = "36 35 0:4 net:[4026532345] /run/shakedown/pinned-netns/r1-c rw shared:5 - nsfs nsfs rw\n\
                    40 30 0:50 / /var/lib/x\\040y/overlay rw - overlay overlay rw,lowerdir=a\n";
        let m = mounts::parse(text.as_bytes());
        assert_eq!(m[0].fstype, "nsfs");
        assert_eq!(netns_inode(&m[0].root), Some(4026532345));
        assert_eq!(m[1].point, PathBuf::from("/var/lib/x y/overlay"));
        assert!(under(&m[1].point, Path::new("/var/lib/x y")));
        assert!(!under(
            Path::new("/var/lib/x y2/o"),
            Path::new("/var/lib/x y")
        ));
    }

    #[tokio::test]
    async fn an_unknown_daemon_makes_scoped_kinds_unavailable() {
        let s = snapshot(&Scope {
            unknown: Some("no daemon".into()),
            ..Default::default()
        })
        .await;
        for k in ["veth", "bridge_port", "netns", "mount", "shim", "cgroup"] {
            assert!(s.0[k].is_err(), "{k}: {:?}", s.0[k]);
        }
        let host = snapshot(&Scope {
            host_wide: true,
            ..Default::default()
        })
        .await;
        assert!(
            host.0["mount"].is_ok() && host.0["shim"].is_ok(),
            "{host:?}"
        );
    }
}
