//! The processes of one daemon directory `D`, and how they are killed.
//!
//! A managed daemon shares the host with everything else, so a process is ours only by an exact
//! identity, never because its command line merely mentions `D` (a `tail -f D/dockerd.log` or an
//! editor must survive a sweep):
//!
//! - dockerd: the pid *and* start time recorded in `D/dockerd.identity` when it was spawned;
//! - its children (containerd, docker-proxy);
//! - a containerd orphaned by a dead dockerd: executable `containerd` with `--config` or
//!   `--address` naming a path inside `D/exec/containerd`;
//! - shims: executable `containerd-shim*` with `-namespace` exactly `shakedown-<id>` (or its
//!   `-plugins` namespace);
//! - container processes: a cgroup path component equal to one of the ids in `D/data/containers`
//!   (`<id>` with the cgroupfs driver, `docker-<id>.scope` with systemd);
//! - and descendants of all of those. Never the caller or its ancestors, pid 0 or 1, or zombies.
//!
//! Selection is a pure function over a snapshot of the process table ([`select`]) so these rules
//! are tested without a daemon.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use procfs::ProcessCGroup;

use super::state::{Identity, DOCKERD_FILE};
use super::{at_or_under, SCAN_DEADLINE};
use host::blocking;
use host::proc::{self, Stat};

/// One row of the process table: what selection looks at.
#[derive(Clone, Debug)]
pub(super) struct ProcEntry {
    /// Its pid, parent, state, start time (with the pid, its [`Identity`]) and command name.
    pub(super) stat: Stat,
    /// Arguments. Read only where `comm` makes the process a candidate (containerd and its
    /// shims), so a process wedged with its memory map locked elsewhere cannot stall a scan.
    pub(super) cmdline: Vec<String>,
    /// Its cgroup in every hierarchy.
    pub(super) cgroups: Vec<ProcessCGroup>,
}

impl ProcEntry {
    fn cgroup_components(&self) -> impl Iterator<Item = &str> {
        self.cgroups
            .iter()
            .flat_map(|c| c.pathname.split('/').filter(|s| !s.is_empty()))
    }
}

/// Whether comm names a process whose arguments selection needs.
fn is_candidate_comm(comm: &str) -> bool {
    comm == "containerd" || comm.starts_with("containerd-shim")
}

/// One process, None when it is gone.
pub(super) fn read_entry(pid: u32) -> Option<ProcEntry> {
    let p = procfs::process::Process::new(pid.try_into().ok()?).ok()?;
    let stat = proc::stat_of(&p)?;
    let cmdline = if is_candidate_comm(&stat.comm) {
        p.cmdline().unwrap_or_default()
    } else {
        Vec::new()
    };
    Some(ProcEntry {
        stat,
        cmdline,
        cgroups: p.cgroups().map(|c| c.0).unwrap_or_default(),
    })
}

/// The host's process table (as far as it can be read).
pub(super) fn read_table() -> Vec<ProcEntry> {
    proc::pids().into_iter().filter_map(read_entry).collect()
}

/// What identifies the processes of one daemon directory, read from its records.
#[derive(Clone, Debug, Default)]
pub(super) struct Owned {
    /// Identities dockerd may have: the recorded one, and the pid of `D/docker.pid` with the
    /// recorded start time (a pidfile alone is never trusted).
    pub(super) dockerd: Vec<Identity>,
    /// `D/exec/containerd`, where the containerd dockerd starts keeps its config and socket.
    pub(super) containerd_dir: PathBuf,
    /// The containerd namespaces dockerd was given.
    pub(super) namespaces: Vec<String>,
    /// Full ids of the daemon's containers.
    pub(super) containers: HashSet<String>,
}

impl Owned {
    /// Reads `D/dockerd.identity`, `D/docker.pid` and `D/data/containers` (blocking file I/O).
    pub(super) fn read(dir: &Path, id: &str) -> Owned {
        let mut dockerd: Vec<Identity> = Identity::read(&dir.join(DOCKERD_FILE))
            .into_iter()
            .collect();
        let pidfile = fs::read_to_string(dir.join("docker.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if let (Some(pid), Some(recorded)) = (pidfile, dockerd.first().copied()) {
            if pid != recorded.pid {
                dockerd.push(Identity {
                    pid,
                    start: recorded.start,
                });
            }
        }
        Owned {
            dockerd,
            containerd_dir: dir.join("exec/containerd"),
            namespaces: vec![format!("shakedown-{id}"), format!("shakedown-{id}-plugins")],
            containers: container_ids(dir),
        }
    }

    fn is_dockerd(&self, p: &ProcEntry) -> bool {
        self.dockerd.contains(&p.stat.identity())
    }

    /// A containerd whose config or socket lies inside `D/exec/containerd`.
    fn is_containerd(&self, p: &ProcEntry) -> bool {
        proc::program(&p.cmdline) == "containerd"
            && ["config", "address"].iter().any(|f| {
                proc::flag(&p.cmdline, f)
                    .is_some_and(|v| at_or_under(Path::new(v), &self.containerd_dir))
            })
    }

    /// A shim serving exactly one of our namespaces.
    fn is_shim(&self, p: &ProcEntry) -> bool {
        proc::program(&p.cmdline).starts_with("containerd-shim")
            && proc::flag(&p.cmdline, "namespace")
                .is_some_and(|ns| self.namespaces.iter().any(|n| n == ns))
    }

    /// A process in the cgroup of one of our containers.
    fn in_container(&self, p: &ProcEntry) -> bool {
        p.cgroup_components().any(|c| self.is_container_cgroup(c))
    }

    /// Whether one component of a cgroup path is one of our containers' cgroups.
    fn is_container_cgroup(&self, component: &str) -> bool {
        host::process::container_of_cgroup(component).is_some_and(|id| self.containers.contains(id))
    }
}

/// Container ids of a daemon: the names under `D/data/containers` (64 hex digits).
fn container_ids(dir: &Path) -> HashSet<String> {
    fs::read_dir(dir.join("data/containers"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| host::process::is_container_id(n))
        .collect()
}

/// Which of a daemon's processes to select.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scope {
    /// Only its containers' processes (so dockerd's own stop is quick afterwards).
    Containers,
    /// Everything: dockerd, containerd, shims, docker-proxy, containers.
    Everything,
}

/// Why a process was selected, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Why {
    Dockerd,
    ChildOfDockerd,
    Containerd,
    Shim,
    Container,
    Descendant,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Why::Dockerd => "the recorded dockerd",
            Why::ChildOfDockerd => "child of dockerd",
            Why::Containerd => "containerd of D/exec/containerd",
            Why::Shim => "shim of our namespace",
            Why::Container => "in a container",
            Why::Descendant => "descendant",
        })
    }
}

/// The processes in `table` that belong to the daemon described by `owned`, by pid, with the
/// reason each was chosen. `caller` and its ancestors, pid 0 and 1 and zombies are never chosen.
pub(super) fn select(
    owned: &Owned,
    table: &[ProcEntry],
    caller: u32,
    scope: Scope,
) -> BTreeMap<u32, Why> {
    let by_pid: HashMap<u32, &ProcEntry> = table.iter().map(|p| (p.stat.pid, p)).collect();
    let mut protected: HashSet<u32> = HashSet::from([0, 1]);
    let mut cur = caller;
    while protected.insert(cur) {
        match by_pid.get(&cur) {
            Some(p) => cur = p.stat.ppid,
            None => break,
        }
    }

    let dockerds: HashSet<u32> = table
        .iter()
        .filter(|p| owned.is_dockerd(p))
        .map(|p| p.stat.pid)
        .collect();
    let shims: HashSet<u32> = table
        .iter()
        .filter(|p| owned.is_shim(p))
        .map(|p| p.stat.pid)
        .collect();
    let mut chosen: BTreeMap<u32, Why> = BTreeMap::new();
    for p in table {
        let (pid, ppid) = (p.stat.pid, p.stat.ppid);
        let why = match scope {
            Scope::Everything if dockerds.contains(&pid) => Some(Why::Dockerd),
            Scope::Everything if dockerds.contains(&ppid) => Some(Why::ChildOfDockerd),
            Scope::Everything if owned.is_containerd(p) => Some(Why::Containerd),
            Scope::Everything if shims.contains(&pid) => Some(Why::Shim),
            _ if owned.in_container(p) => Some(Why::Container),
            // A container's init is the shim's child, and the shim is not in its cgroup.
            Scope::Containers if shims.contains(&ppid) => Some(Why::Container),
            _ => None,
        };
        if let Some(why) = why {
            chosen.insert(pid, why);
        }
    }
    // Descendants, to a fixed point (the table is not ordered by ancestry).
    loop {
        let before = chosen.len();
        for p in table {
            if chosen.contains_key(&p.stat.ppid) {
                chosen.entry(p.stat.pid).or_insert(Why::Descendant);
            }
        }
        if chosen.len() == before {
            break;
        }
    }
    chosen.retain(|pid, _| {
        !protected.contains(pid) && by_pid.get(pid).is_some_and(|p| p.stat.alive())
    });
    chosen
}

/// Whether `pid` is a running containerd of the daemon in `dir` (for dockerd's stale
/// `containerd.pid`, read while dockerd itself is down).
pub(super) fn is_our_containerd(dir: &Path, id: &str, pid: i32) -> bool {
    let Some(p) = u32::try_from(pid).ok().and_then(read_entry) else {
        return false;
    };
    let owned = Owned::read(dir, id);
    p.stat.alive()
        && (owned.is_containerd(&p)
            || (p.stat.comm == "containerd"
                && read_entry(p.stat.ppid).is_some_and(|parent| owned.is_dockerd(&parent))))
}

/// Frozen (paused) tasks do not die from SIGKILL until thawed: thaw the container cgroups these
/// processes are in (never another cgroup, which someone else may have frozen on purpose).
/// Best effort, cgroup v1 freezer and v2 alike.
fn thaw(owned: &Owned, procs: &[&ProcEntry]) {
    let mut done = HashSet::new();
    for p in procs {
        for cg in &p.cgroups {
            let path = &cg.pathname;
            let ours = path.split('/').any(|c| owned.is_container_cgroup(c));
            if !ours || !done.insert((cg.controllers.clone(), path.clone())) {
                continue;
            }
            if cg.controllers.iter().any(|c| c == "freezer") {
                let _ = fs::write(
                    format!("/sys/fs/cgroup/freezer{path}/freezer.state"),
                    "THAWED",
                );
            } else if cg.controllers.is_empty() {
                for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                    let f = format!("{base}{path}/cgroup.freeze");
                    if Path::new(&f).exists() {
                        let _ = fs::write(f, "0");
                    }
                }
            }
        }
    }
}

/// One round: select the daemon's processes, thaw their container cgroups, SIGKILL them (each
/// only if it still has the start time it was selected with). Returns `(pid, description)`.
fn kill_round(dir: &Path, id: &str, scope: Scope) -> Vec<(u32, String)> {
    let owned = Owned::read(dir, id);
    let table = read_table();
    let chosen = select(&owned, &table, std::process::id(), scope);
    let procs: Vec<&ProcEntry> = table
        .iter()
        .filter(|p| chosen.contains_key(&p.stat.pid))
        .collect();
    thaw(&owned, &procs);
    let mut out = Vec::new();
    for p in procs {
        let (pid, comm) = (p.stat.pid, &p.stat.comm);
        if p.stat.identity().is_live() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        out.push((pid, format!("{comm}: {}", chosen[&pid])));
    }
    out
}

/// SIGKILLs the processes of the daemon in `dir` until none is left or the deadline passes.
pub(super) async fn kill_processes(
    dir: &Path,
    id: &str,
    scope: Scope,
    deadline: Duration,
    report: &mut Vec<String>,
) {
    let t0 = Instant::now();
    let mut killed: HashSet<u32> = HashSet::new();
    loop {
        let (d, i) = (dir.to_path_buf(), id.to_string());
        let round = blocking("scanning /proc", SCAN_DEADLINE, move || {
            kill_round(&d, &i, scope)
        })
        .await;
        let targets = match round {
            Ok(t) => t,
            Err(e) => {
                report.push(format!("could not scan processes: {e:#}"));
                return;
            }
        };
        if targets.is_empty() {
            return;
        }
        if t0.elapsed() >= deadline {
            let left: Vec<String> = targets
                .iter()
                .map(|(pid, what)| format!("{pid} ({what})"))
                .collect();
            report.push(format!(
                "processes still alive after SIGKILL: {}",
                left.join(", ")
            ));
            return;
        }
        for (pid, what) in &targets {
            if killed.insert(*pid) {
                report.push(format!("killed pid {pid} ({what})"));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "/var/lib/shakedown/managed/0badc0de";
    const ID: &str = "0badc0de";
    const CID: &str = "4f7a0a3c1b2d4e5f60718293a4b5c6d7e8f9011223344556677889aabbccddee";
    const CALLER: u32 = 500;

    fn proc(pid: u32, ppid: u32, comm: &str, cmdline: &[&str]) -> ProcEntry {
        ProcEntry {
            stat: Stat {
                pid,
                ppid,
                state: 'S',
                start_time: 1000 + pid as u64,
                comm: comm.to_string(),
            },
            cmdline: cmdline.iter().map(|s| s.to_string()).collect(),
            cgroups: vec![cgroup("/user.slice")],
        }
    }

    fn cgroup(path: &str) -> ProcessCGroup {
        ProcessCGroup {
            hierarchy: 0,
            controllers: vec![],
            pathname: path.to_string(),
        }
    }

    fn in_cgroup(mut p: ProcEntry, path: &str) -> ProcEntry {
        p.cgroups = vec![
            ProcessCGroup {
                hierarchy: 4,
                controllers: vec!["memory".into()],
                pathname: path.to_string(),
            },
            cgroup("/"),
        ];
        p
    }

    fn owned() -> Owned {
        Owned {
            dockerd: vec![Identity {
                pid: 100,
                start: 1100,
            }],
            containerd_dir: PathBuf::from(format!("{D}/exec/containerd")),
            namespaces: vec![format!("shakedown-{ID}"), format!("shakedown-{ID}-plugins")],
            containers: HashSet::from([CID.to_string()]),
        }
    }

    fn pidfile_recycled() -> Owned {
        let mut o = owned();
        // What Owned::read makes of a pidfile naming pid 300: the recorded start time.
        o.dockerd.push(Identity {
            pid: 300,
            start: 1100,
        });
        o
    }

    /// A host with one managed daemon and bystanders around it.
    fn table() -> Vec<ProcEntry> {
        let (data, pidfile) = (format!("{D}/data"), format!("{D}/docker.pid"));
        let cfg = format!("{D}/exec/containerd/containerd.toml");
        let sock = format!("{D}/exec/containerd/containerd.sock");
        let log = format!("{D}/dockerd.log");
        let ns = format!("shakedown-{ID}");
        let other_ns = "shakedown-feedf00d";
        vec![
            proc(1, 0, "init", &["/sbin/init"]),
            proc(400, 1, "bash", &["bash"]),
            proc(CALLER, 400, "shakedown", &["shakedown", "clean"]),
            // Our daemon.
            proc(
                100,
                1,
                "dockerd",
                &["dockerd", "--data-root", &data, "--pidfile", &pidfile],
            ),
            proc(101, 100, "containerd", &["containerd", "--config", &cfg]),
            proc(
                102,
                100,
                "docker-proxy",
                &["docker-proxy", "-proto", "tcp", "-host-port", "8080"],
            ),
            proc(
                110,
                1,
                "containerd-shim",
                &[
                    "/usr/bin/containerd-shim-runc-v2",
                    "-namespace",
                    &ns,
                    "-id",
                    CID,
                    "-address",
                    &sock,
                ],
            ),
            in_cgroup(proc(111, 110, "sleep", &[]), &format!("/docker/{CID}")),
            in_cgroup(proc(112, 111, "sh", &[]), &format!("/docker/{CID}")),
            // A process that joined the container with `docker exec`: its cgroup, another parent.
            in_cgroup(
                proc(113, 1, "exec", &[]),
                &format!("/system.slice/docker-{CID}.scope"),
            ),
            // An orphaned containerd of ours (dockerd gone), by --address=.
            proc(
                120,
                1,
                "containerd",
                &["/usr/bin/containerd", &format!("--address={sock}")],
            ),
            // Bystanders.
            proc(200, 400, "tail", &["tail", "-f", &log]),
            proc(201, 400, "vim", &["vim", &format!("{D}/daemon.json")]),
            proc(202, 400, "sleep", &["sleep", "600"]), // cwd inside D: cwd is never looked at
            proc(
                203,
                1,
                "containerd-shim",
                &[
                    "containerd-shim-runc-v2",
                    "-namespace",
                    other_ns,
                    "-id",
                    &ns,
                    "-address",
                    &sock,
                ],
            ),
            in_cgroup(proc(204, 203, "sleep", &[]), "/docker/other"),
            in_cgroup(
                proc(205, 1, "sleep", &[]),
                &format!("/docker/{CID}-not-quite"),
            ),
            in_cgroup(proc(206, 1, "sleep", &[]), &format!("/docker/x{CID}")),
            proc(
                207,
                1,
                "containerd",
                &[
                    "containerd",
                    "--config",
                    &format!("{D}2/exec/containerd/c.toml"),
                ],
            ),
            proc(
                208,
                1,
                "containerd",
                &[
                    "containerd",
                    "--config",
                    &format!("{D}/exec/containerd/../../../x.toml"),
                ],
            ),
            proc(
                209,
                1,
                "cat",
                &["cat", "--config", &format!("{D}/exec/containerd/c.toml")],
            ),
            // A recycled pid: the pidfile's pid, now someone else's.
            proc(300, 1, "nginx", &["nginx"]),
            proc(301, 300, "nginx", &["nginx: worker"]),
        ]
    }

    fn pids(m: &BTreeMap<u32, Why>) -> Vec<u32> {
        m.keys().copied().collect()
    }

    #[test]
    fn selects_exactly_the_daemons_processes() {
        let got = select(&owned(), &table(), CALLER, Scope::Everything);
        assert_eq!(pids(&got), vec![100, 101, 102, 110, 111, 112, 113, 120]);
        assert_eq!(got[&100], Why::Dockerd);
        assert_eq!(got[&101], Why::ChildOfDockerd);
        assert_eq!(got[&102], Why::ChildOfDockerd);
        assert_eq!(got[&110], Why::Shim);
        assert_eq!(got[&111], Why::Container);
        assert_eq!(got[&113], Why::Container);
        assert_eq!(got[&120], Why::Containerd);
    }

    #[test]
    fn containers_scope_leaves_the_daemon_itself() {
        let got = select(&owned(), &table(), CALLER, Scope::Containers);
        assert_eq!(pids(&got), vec![111, 112, 113]);
    }

    #[test]
    fn a_recycled_pidfile_pid_is_not_dockerd() {
        let got = select(&pidfile_recycled(), &table(), CALLER, Scope::Everything);
        assert!(
            !got.contains_key(&300) && !got.contains_key(&301),
            "{got:?}"
        );
        // Without any recorded identity, nothing is taken for dockerd or its children.
        let mut o = owned();
        o.dockerd.clear();
        let got = select(&o, &table(), CALLER, Scope::Everything);
        assert!(
            !got.contains_key(&100) && !got.contains_key(&102),
            "{got:?}"
        );
        // But the same pid with the recorded start time is.
        let mut t = table();
        t.iter_mut()
            .find(|p| p.stat.pid == 300)
            .unwrap()
            .stat
            .start_time = 1100;
        let got = select(&pidfile_recycled(), &t, CALLER, Scope::Everything);
        assert_eq!(got.get(&300), Some(&Why::Dockerd));
        assert_eq!(got.get(&301), Some(&Why::ChildOfDockerd));
    }

    #[test]
    fn never_the_caller_its_ancestors_init_or_zombies() {
        let mut t = table();
        // The caller sits under our dockerd (absurd, but it must survive, and so must every
        // ancestor of it), and a containerd of ours is a zombie.
        t.iter_mut()
            .find(|p| p.stat.pid == CALLER)
            .unwrap()
            .stat
            .ppid = 100;
        let mut z = proc(150, 100, "containerd", &[]);
        z.stat.state = 'Z';
        t.push(z);
        let got = select(&owned(), &t, CALLER, Scope::Everything);
        for pid in [0, 1, 100, CALLER, 150] {
            assert!(!got.contains_key(&pid), "{pid} selected: {got:?}");
        }
        // The rest of the daemon still goes.
        assert_eq!(pids(&got), vec![101, 102, 110, 111, 112, 113, 120]);
    }

    #[test]
    fn records_are_read_from_the_directory() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        fs::create_dir_all(dir.join(format!("data/containers/{CID}"))).unwrap();
        fs::create_dir_all(dir.join("data/containers/not-an-id")).unwrap();
        Identity {
            pid: 100,
            start: 1100,
        }
        .write(&dir.join(DOCKERD_FILE))
        .unwrap();
        fs::write(dir.join("docker.pid"), "300").unwrap();
        let o = Owned::read(dir, ID);
        let start = |pid| Identity { pid, start: 1100 };
        assert_eq!(o.dockerd, vec![start(100), start(300)]);
        assert_eq!(o.containers, HashSet::from([CID.to_string()]));
        assert_eq!(o.namespaces[0], format!("shakedown-{ID}"));
        // Without the identity record the pidfile alone names no dockerd.
        fs::remove_file(dir.join(DOCKERD_FILE)).unwrap();
        assert!(Owned::read(dir, ID).dockerd.is_empty());
    }

    #[test]
    fn the_live_table_has_this_process_and_its_cgroups() {
        let table = read_table();
        let me = table
            .iter()
            .find(|p| p.stat.pid == std::process::id())
            .expect("this process in the table");
        assert!(me.stat.alive() && me.stat.start_time > 0 && !me.cgroups.is_empty());
        // Not a containerd or shim: its arguments are not read.
        assert!(me.cmdline.is_empty());
        let chosen = select(&Owned::default(), &table, me.stat.pid, Scope::Everything);
        assert!(chosen.is_empty(), "{chosen:?}");
    }
}
