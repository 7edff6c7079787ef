//! dockerd killed by the kernel's OOM killer, on a managed daemon: `daemon_oom` moves it into a
//! memory cgroup of the harness's and makes it allocate past the bound. The oracle is the kernel:
//! this test reads the cgroup itself while the run goes (dockerd's pid in `cgroup.procs`), the
//! kernel's own "Killed process N (dockerd)" line for that very pid from /dev/kmsg, and dockerd's
//! pid afterwards (a new one); after the run, and after `shakedown clean` of a run killed while
//! dockerd sat in the cgroup, no cgroup of the harness is left.

mod common;

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{check_of, run_json, scenario, shakedown, text};

/// The memory hierarchy the harness makes its cgroups in (cgroup v1 here, else v2's).
fn memory_root() -> PathBuf {
    let v1 = Path::new("/sys/fs/cgroup/memory");
    if v1.join("memory.limit_in_bytes").exists() {
        v1.to_path_buf()
    } else {
        PathBuf::from("/sys/fs/cgroup")
    }
}

/// The harness's OOM cgroups now, with the processes in each.
fn oom_cgroups() -> Vec<(PathBuf, Vec<u32>)> {
    std::fs::read_dir(memory_root())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("shakedown-oom-")
        })
        .map(|e| {
            let procs = std::fs::read_to_string(e.path().join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            (e.path(), procs)
        })
        .collect()
}

/// The pids of the live dockerds started under `state`.
fn dockerds(state: &Path) -> Vec<u32> {
    common::processes_mentioning(&state.display().to_string())
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains("(dockerd) ") && !s.contains(") Z "))
        })
        .collect()
}

/// Every message in the kernel's ring buffer now (/dev/kmsg, read without blocking).
fn kernel_messages() -> Vec<String> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .expect("/dev/kmsg");
    let (mut out, mut buf) = (vec![], vec![0u8; 8192]);
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = String::from_utf8_lossy(&buf[..n]).into_owned();
                out.push(
                    rec.split_once(';')
                        .map_or(rec.clone(), |(_, m)| m.to_string()),
                );
            }
            // EPIPE: a record was overwritten while reading; go on with the next.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(_) => break,
        }
    }
    out
}

/// What the watcher saw: dockerd pids, and the harness's cgroups with a dockerd of `state` in them.
#[derive(Default)]
struct Seen {
    dockerds: Vec<u32>,
    bounded: Vec<(PathBuf, u32)>,
}

fn watch(state: &Path, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Seen> {
    let state = state.to_path_buf();
    std::thread::spawn(move || {
        let mut seen = Seen::default();
        while !stop.load(Ordering::Relaxed) {
            let ds = dockerds(&state);
            for d in &ds {
                if !seen.dockerds.contains(d) {
                    seen.dockerds.push(*d);
                }
            }
            for (path, procs) in oom_cgroups() {
                for p in procs.into_iter().filter(|p| ds.contains(p)) {
                    if !seen.bounded.contains(&(path.clone(), p)) {
                        seen.bounded.push((path.clone(), p));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        seen
    })
}

#[test]
fn the_kernel_oom_kills_dockerd_and_live_restore_keeps_the_container() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = common::builtin().join("daemon-oom-killed.yaml");
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch(state.path(), stop.clone());
    let (out, report) = run_json(state.path(), dir.path(), &[&file], &[]);
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // dockerd sat in a cgroup of the harness's, then the kernel killed that very process.
    let (cgroup, victim) = seen
        .bounded
        .first()
        .cloned()
        .expect("dockerd never seen bounded");
    let killed = format!("Killed process {victim} (dockerd)");
    let kernel = kernel_messages();
    assert!(
        kernel.iter().any(|m| m.contains(&killed)),
        "no kernel line says {killed:?}"
    );
    let name = cgroup.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        kernel
            .iter()
            .any(|m| m.contains("oom-kill:") && m.contains(&name) && m.contains("task=dockerd")),
        "no oom-kill line for {name}"
    );
    // A new dockerd served the rest of the run.
    assert!(
        seen.dockerds.iter().any(|d| *d != victim),
        "dockerds seen: {:?}",
        seen.dockerds
    );
    assert!(!cgroup.exists(), "{} is left", cgroup.display());
    let c = check_of(
        &report,
        "daemon-oom-killed",
        "dockerd OOM-killed",
        "kernel_log",
    );
    assert_eq!(c["outcome"], "pass", "{c}");
    let c = check_of(&report, "daemon-oom-killed", "web survived", "unchanged");
    assert_eq!(c["outcome"], "pass", "{c}");
}

#[test]
fn a_run_killed_while_dockerd_is_bounded_is_cleaned_up() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "held-oom",
        "name: held-oom\nrequires: {disruptive: true}\nsteps:\n\
         \x20 - action: {daemon_oom: {hold: 120s}}\n",
    );
    let mut child = common::spawn_run(state.path(), &file);
    let t = Instant::now();
    let cgroup = loop {
        let ds = dockerds(state.path());
        if let Some((path, _)) = oom_cgroups()
            .into_iter()
            .find(|(_, procs)| procs.iter().any(|p| ds.contains(p)))
        {
            break path;
        }
        if t.elapsed() > Duration::from_secs(120) || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            let _ = shakedown(state.path()).arg("clean").output();
            panic!("dockerd was never seen in a cgroup of the harness");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    // Killed: the cgroup is still there, dockerd in it.
    assert!(cgroup.exists());
    let out = shakedown(state.path()).arg("clean").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("memory cgroup"), "{said}");
    assert!(!cgroup.exists(), "{} is left after clean", cgroup.display());
    assert!(
        dockerds(state.path()).is_empty(),
        "a dockerd of the killed run still runs"
    );
}
