//! How each kind of change is undone, from its journaled handle alone (plus, in the run that made
//! it, the namespace descriptor it still holds). Undoing is exact and idempotent: a change that is
//! already gone is reported as such, and nothing that merely looks like ours is touched — an
//! interface needs our alias, a rule our comment, a qdisc our handle, a process its start time, a
//! namespace its inode and its container.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use docker::{DockerClient, LABEL_RUN};
use host::{Cmd, NetnsHandle};
use journal::{Change, DaemonRef, NetnsRef, Rlimit};

/// What undoing needs from its surroundings: the live run's target, or `shakedown clean`'s
/// reconstruction of a dead run's.
pub trait UndoEnv: Sync {
    /// A client for the daemon at `host`, if it can be reached.
    fn docker(&self, host: &str) -> impl Future<Output = Option<DockerClient>> + Send;
    /// The namespace, found again by its identity and container; `Ok(None)` when it no longer
    /// exists (its rules and qdiscs went with it).
    fn netns(
        &self,
        r: &NetnsRef,
    ) -> impl Future<Output = Result<Option<NetnsHandle>, String>> + Send;
    /// Starts a daemon the harness stopped, the way it ran before.
    fn start_daemon(&self, d: &DaemonRef) -> impl Future<Output = Result<String, String>> + Send;
    /// Stops a managed daemon and removes its directory, bridge and everything in it.
    fn remove_managed(
        &self,
        dir: &Path,
        id: &str,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// How long undoing one change may take before it is reported as failed.
const UNDO_DEADLINE: Duration = Duration::from_secs(30);

/// Undoes one change. `held` is the namespace descriptor the run kept, if any.
pub async fn undo_change(
    change: &Change,
    held: Option<&NetnsHandle>,
    run_id: &str,
    env: &impl UndoEnv,
) -> Result<String, String> {
    match tokio::time::timeout(UNDO_DEADLINE, undo_inner(change, held, run_id, env)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no result within {UNDO_DEADLINE:?}")),
    }
}

async fn undo_inner(
    change: &Change,
    held: Option<&NetnsHandle>,
    run_id: &str,
    env: &impl UndoEnv,
) -> Result<String, String> {
    match change {
        Change::ManagedDaemon { dir, id } => env.remove_managed(dir, id).await,
        Change::Container { daemon, name, id } => {
            let docker = reach(env, daemon).await?;
            let id = match id {
                Some(id) => id.clone(),
                // Created (perhaps) without our knowing its id: only a container of that name
                // carrying this run's label is ours.
                None => match docker
                    .list_labeled(&format!("{LABEL_RUN}={run_id}"))
                    .await
                    .map_err(|e| format!("{e:#}"))?
                    .into_iter()
                    .find(|(_, n, _)| n == name)
                {
                    Some((id, _, _)) => id,
                    None => return Ok("was never created".into()),
                },
            };
            docker
                .remove(&id)
                .await
                .map(|()| "removed".to_string())
                .map_err(|e| format!("{e:#}"))
        }
        Change::Network { daemon, name } => {
            let docker = reach(env, daemon).await?;
            let labels = docker.network_labels(name).await;
            remove_ours(labels, run_id, docker.remove_network(name)).await
        }
        Change::Volume { daemon, name } => {
            let docker = reach(env, daemon).await?;
            let labels = docker.volume_labels(name).await;
            remove_ours(labels, run_id, docker.remove_volume(name)).await
        }
        Change::ContainerPaused { daemon, id } => {
            let docker = reach(env, daemon).await?;
            restore(&docker, id, &["paused"], "unpaused", docker.unpause(id)).await
        }
        Change::ContainerStopped { daemon, id } => {
            let docker = reach(env, daemon).await?;
            restore(
                &docker,
                id,
                &["exited", "created"],
                "started again",
                docker.start(id),
            )
            .await
        }
        Change::DaemonNofile {
            pid,
            start_time,
            soft,
            hard,
        } => set_limit_back("dockerd", Rlimit::Nofile, *pid, *start_time, *soft, *hard).await,
        Change::DaemonLimit {
            process,
            resource,
            pid,
            start_time,
            soft,
            hard,
        } => set_limit_back(process, *resource, *pid, *start_time, *soft, *hard).await,
        Change::DaemonCgroup { path, original, .. } => remove_cgroup(path, original, run_id).await,
        Change::DaemonFrozen { pid, start_time } => {
            let identity = host::proc::stat(*pid);
            match identity {
                Some(s) if s.start_time == *start_time && s.state != 'Z' => {
                    nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(*pid as i32),
                        nix::sys::signal::Signal::SIGCONT,
                    )
                    .map_err(|e| format!("SIGCONT to pid {pid}: {e}"))?;
                    Ok(format!("thawed dockerd (pid {pid})"))
                }
                _ => Ok(format!("dockerd (pid {pid}) is gone")),
            }
        }
        Change::CgroupFrozen {
            container_id,
            control,
            nested,
        } => {
            // Only a freezer whose path names the container (and, nested, is the harness's own
            // `shakedown-*` child): nothing that merely looks like ours.
            let ours = control.to_string_lossy().contains(container_id.as_str())
                && (!nested
                    || control
                        .parent()
                        .and_then(|d| d.file_name())
                        .is_some_and(|n| n.to_string_lossy().starts_with("shakedown-")));
            if !ours {
                return Err(format!("{} is not the harness's", control.display()));
            }
            let freezer = host::Freezer {
                control: control.clone(),
            };
            let nested = *nested;
            let thaw = host::blocking(
                "thawing a container's cgroup",
                Duration::from_secs(10),
                move || -> std::io::Result<&'static str> {
                    match freezer.set(false) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            return Ok("its cgroup is gone")
                        }
                        Err(e) => return Err(e),
                    }
                    if nested {
                        freezer.remove_nested()?;
                        return Ok("thawed and removed");
                    }
                    Ok("thawed")
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            match thaw {
                Ok(what) => Ok(format!("{what} {}", control.display())),
                Err(e) => Err(format!("thawing {}: {e}", control.display())),
            }
        }
        Change::DaemonStopped { daemon } => env.start_daemon(daemon).await,
        Change::IptablesRule { netns, rule } => {
            let Some(ns) = namespace(held, netns, env).await? else {
                return Ok(format!(
                    "its namespace {} is gone, and the rule with it",
                    netns.id
                ));
            };
            let with = |op: &str| {
                let mut a = vec!["-w".to_string(), "5".into(), op.into()];
                a.extend(rule.iter().cloned());
                Cmd::new("iptables", &a).netns(&ns)
            };
            match with("-D").run().await {
                Ok(_) => Ok("removed the rule".into()),
                Err(e) => match with("-C").output().await {
                    // `-C` exits 1 when no such rule exists: it is gone.
                    Ok(f) if f.code == Some(1) => Ok("the rule was not there".into()),
                    _ => Err(e.to_string()),
                },
            }
        }
        Change::Qdisc { netns, dev, handle } => {
            let Some(ns) = namespace(held, netns, env).await? else {
                return Ok(format!(
                    "its namespace {} is gone, and the qdisc with it",
                    netns.id
                ));
            };
            // The kernel deletes a root qdisc by handle only if the handle matches.
            match Cmd::new(
                "tc",
                &["qdisc", "del", "dev", dev, "root", "handle", handle],
            )
            .netns(&ns)
            .run()
            .await
            {
                Ok(_) => Ok(format!("removed qdisc {handle}")),
                Err(e) => {
                    let shown = Cmd::new("tc", &["qdisc", "show", "dev", dev])
                        .netns(&ns)
                        .output()
                        .await;
                    match shown {
                        Ok(f) if f.success && !qdisc_listed(&f.stdout, handle) => {
                            Ok(format!("qdisc {handle} was not there"))
                        }
                        Ok(f) if !f.success && f.stderr.contains("Cannot find device") => {
                            Ok(format!("{dev} is gone, and the qdisc with it"))
                        }
                        _ => Err(e.to_string()),
                    }
                }
            }
        }
        Change::Link { name, alias } => delete_link(name, alias).await,
        Change::NetnsPin { path } => {
            let p = path.clone();
            host::blocking(
                "unmounting a netns pin",
                Duration::from_secs(10),
                move || {
                    let r = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
                    let _ = std::fs::remove_file(&p);
                    match r {
                        Ok(()) => Ok(format!("unmounted {}", p.display())),
                        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {
                            Ok(format!("{} was not mounted", p.display()))
                        }
                        Err(e) => Err(format!("unmounting {}: {e}", p.display())),
                    }
                },
            )
            .await
            .map_err(|e| e.to_string())?
        }
        Change::FsImage { path } => remove_file_ours(path, run_id, "removing an image file").await,
        Change::FillFile { path } => remove_file_ours(path, run_id, "removing a fill").await,
        Change::LoopDevice { image, .. } => host::loopfs::detach_image(image).await,
        Change::FsMount { point, .. } => {
            let p = point.clone();
            host::blocking("unmounting a filesystem", UNDO_DEADLINE, move || {
                host::loopfs::unmount_all(&p)
            })
            .await
            .map_err(|e| e.to_string())?
            .map(|n| match n {
                0 => format!("{} was not mounted", point.display()),
                n => format!("unmounted {} ({n} mount(s))", point.display()),
            })
        }
    }
}

/// Sets a daemon process's limit back, on that very process (a process that is gone is done).
async fn set_limit_back(
    process: &str,
    resource: Rlimit,
    pid: u32,
    start_time: u64,
    soft: u64,
    hard: u64,
) -> Result<String, String> {
    let set = host::blocking("setting a daemon's limit back", UNDO_DEADLINE, move || {
        host::proc::set_limit(pid, start_time, resource, soft, hard)
    })
    .await
    .map_err(|e| e.to_string())?;
    match set {
        Ok(_) => Ok(format!(
            "set the {} limit of {process} (pid {pid}) back to {soft}",
            resource.name()
        )),
        Err(e) if host::proc::stat(pid).is_none_or(|s| s.start_time != start_time) => {
            Ok(format!("{process} (pid {pid}) is gone: {e}"))
        }
        Err(e) => Err(e),
    }
}

/// Moves what is left in the harness's memory cgroup back to `original` (dockerd, if it still
/// runs; anything it forked there), then removes the cgroup — only while its name is the
/// harness's and carries the run id.
async fn remove_cgroup(path: &Path, original: &Path, run_id: &str) -> Result<String, String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    if run_id.is_empty() || !name.is_some_and(|n| n.starts_with("shakedown-") && n.contains(run_id))
    {
        return Err(format!(
            "{} is not the harness's cgroup of run {run_id:?}: left alone",
            path.display()
        ));
    }
    let (p, o) = (path.to_path_buf(), original.to_path_buf());
    host::blocking("removing a memory cgroup", UNDO_DEADLINE, move || {
        let left = match host::memcg::procs(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(format!("{} was not there", p.display()))
            }
            r => r?,
        };
        let back = if o.is_dir() {
            o
        } else {
            p.parent()
                .unwrap_or(Path::new("/sys/fs/cgroup"))
                .to_path_buf()
        };
        for pid in &left {
            // A process that exits meanwhile leaves by itself.
            let _ = host::memcg::move_to(&back, *pid);
        }
        host::memcg::remove(&p, Duration::from_secs(10))?;
        Ok(match left.len() {
            0 => format!("removed {}", p.display()),
            n => format!(
                "moved {n} process(es) back to {} and removed {}",
                back.display(),
                p.display()
            ),
        })
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e: std::io::Error| format!("removing {}: {e}", path.display()))
}

/// Removes a file or directory the harness wrote, only while its path carries the run id.
async fn remove_file_ours(path: &Path, run_id: &str, what: &str) -> Result<String, String> {
    if run_id.is_empty() || !path.to_string_lossy().contains(run_id) {
        return Err(format!(
            "{} does not carry the run id {run_id:?}: left alone",
            path.display()
        ));
    }
    let p = path.to_path_buf();
    host::blocking(what, UNDO_DEADLINE, move || {
        let r = match std::fs::symlink_metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => Err(e),
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
            Ok(_) => std::fs::remove_file(&p),
        };
        r.map(|()| true)
    })
    .await
    .map_err(|e| e.to_string())?
    .map(|removed| {
        if removed {
            format!("removed {}", path.display())
        } else {
            format!("{} was not there", path.display())
        }
    })
    .map_err(|e| format!("removing {}: {e}", path.display()))
}

/// A client for the daemon a change lives in.
async fn reach(env: &impl UndoEnv, daemon: &str) -> Result<DockerClient, String> {
    env.docker(daemon)
        .await
        .ok_or_else(|| format!("the daemon at {daemon} cannot be reached"))
}

/// Removes a network or volume with `remove` only while its `labels` carry this run's label.
async fn remove_ours(
    labels: anyhow::Result<Option<std::collections::HashMap<String, String>>>,
    run_id: &str,
    remove: impl Future<Output = anyhow::Result<()>>,
) -> Result<String, String> {
    match labels.map_err(|e| format!("{e:#}"))? {
        None => Ok("was not there".into()),
        Some(l) if l.get(LABEL_RUN).map(String::as_str) != Some(run_id) => {
            Ok("does not carry this run's label: left alone".into())
        }
        Some(_) => remove
            .await
            .map(|()| "removed".to_string())
            .map_err(|e| format!("{e:#}")),
    }
}

/// Brings a container back from a fault with `call`, when it is still in a state the fault left it
/// in; leaves it as it is otherwise.
async fn restore(
    docker: &DockerClient,
    id: &str,
    faulted: &[&str],
    done: &str,
    call: impl Future<Output = anyhow::Result<()>>,
) -> Result<String, String> {
    let state = docker
        .observe(id)
        .await
        .map_err(|e| format!("{e:#}"))?
        .state;
    if faulted.contains(&state.as_str()) {
        call.await
            .map(|()| done.to_string())
            .map_err(|e| format!("{e:#}"))
    } else {
        Ok(format!("left as it is ({state})"))
    }
}

/// The namespace to undo a change in: the held descriptor, or the namespace found again.
async fn namespace(
    held: Option<&NetnsHandle>,
    r: &NetnsRef,
    env: &impl UndoEnv,
) -> Result<Option<NetnsHandle>, String> {
    match held {
        Some(h) if h.id() == r.id => Ok(Some(h.clone())),
        _ => env.netns(r).await,
    }
}

/// Whether `tc qdisc show` lists a qdisc with this handle.
fn qdisc_listed(show: &str, handle: &str) -> bool {
    show.lines()
        .any(|l| l.split_whitespace().nth(2) == Some(handle))
}

/// Deletes an interface the harness created, only while it carries our alias; waits (bounded)
/// until the kernel has let go of it.
async fn delete_link(name: &str, alias: &str) -> Result<String, String> {
    let sys = Path::new("/sys/class/net").join(name);
    let t = tokio::time::Instant::now();
    loop {
        let (s, a) = (sys.clone(), sys.join("ifalias"));
        let present = host::blocking(
            "reading /sys/class/net",
            Duration::from_secs(5),
            move || {
                s.exists()
                    .then(|| std::fs::read_to_string(a).unwrap_or_default())
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        match present {
            None => return Ok(format!("deleted interface {name}")),
            Some(found) if found.trim() != alias => {
                return Ok(format!(
                    "interface {name} does not carry our alias any more ({:?}): left alone",
                    found.trim()
                ))
            }
            Some(_) => {}
        }
        if t.elapsed() > Duration::from_secs(10) {
            return Err(format!("interface {name} still exists"));
        }
        let _ = Cmd::new("ip", &["link", "del", name]).run().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_runs_own_cgroup_is_removed() {
        // Not the harness's name, or another run's: left alone, whatever is there.
        let original = Path::new("/sys/fs/cgroup/memory");
        for path in [
            "/sys/fs/cgroup/memory/system.slice",
            "/sys/fs/cgroup/memory/shakedown-oom-otherrun-0-0",
            "/sys/fs/cgroup/memory/docker-abc123-0-0",
        ] {
            let r = remove_cgroup(Path::new(path), original, "abc123").await;
            assert!(r.is_err_and(|e| e.contains("left alone")), "{path}");
        }
        // Ours but gone already: done.
        let gone = Path::new("/nonexistent/shakedown-oom-abc123-0-0");
        let r = remove_cgroup(gone, original, "abc123").await;
        assert!(r.is_ok_and(|m| m.contains("was not there")));
    }

    #[test]
    fn qdisc_handles_are_matched_exactly() {
        let show = "qdisc netem 5d1: root refcnt 2 limit 1000 delay 200ms\nqdisc noqueue 0: dev lo root refcnt 2\n";
        assert!(qdisc_listed(show, "5d1:"));
        assert!(!qdisc_listed(show, "5d2:"));
        assert!(!qdisc_listed("qdisc noqueue 0: root refcnt 2\n", "5d1:"));
    }
}
