//! `shakedown clean` after a SIGKILLed run removes the dead run's daemon by exact identities only:
//! dockerd, its containerd, the shim and the container's processes go, while bystanders that merely
//! name files of the daemon's directory (a `tail -f D/dockerd.log`, a process with a path of `D`
//! in its arguments and its working directory in `D`) keep running. Once with the dead run's
//! dockerd still up (it is stopped gracefully), once with dockerd killed as well, so that the shim,
//! the container and any containerd left are found by their own identities.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{shakedown, text};
use rstest::rstest;

/// The one managed daemon directory of a run.
fn daemon_dir(state: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(state.join("managed"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

/// The pid of the first container of the daemon in `dir`.
fn container_pid(dir: &Path) -> u32 {
    let host = format!("unix://{}", dir.join("docker.sock").display());
    let out = Command::new("docker")
        .args(["-H", &host, "ps", "-q", "--no-trunc"])
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let out = Command::new("docker")
        .args(["-H", &host, "inspect", "-f", "{{.State.Pid}}", &id])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Still running, as opposed to gone or a zombie (pid 1 may reap late here).
fn live(pid: u32) -> bool {
    shakedown::proc::alive(pid)
}

fn still_running(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

#[rstest]
#[case::dockerd_still_up(false)]
#[case::dockerd_killed_too(true)]
fn clean_kills_the_daemon_but_not_bystanders_that_name_its_files(#[case] kill_dockerd: bool) {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut run = common::start_long_run(state.path(), dir.path());
    let d = daemon_dir(state.path());

    // What belongs to the daemon, found independently of the harness's own selection.
    let identity = std::fs::read_to_string(d.join("dockerd.identity")).unwrap();
    let dockerd: u32 = identity.split_whitespace().next().unwrap().parse().unwrap();
    let procs = shakedown::proc::all();
    let containerd = procs
        .iter()
        .find(|p| p.ppid == dockerd && p.comm == "containerd")
        .map(|p| p.pid);
    let id = d.file_name().unwrap().to_string_lossy().to_string();
    let namespace = format!("-namespace shakedown-{id} ");
    let shims: Vec<u32> = procs
        .iter()
        .filter(|p| p.comm.starts_with("containerd-shim") && p.cmdline.contains(&namespace))
        .map(|p| p.pid)
        .collect();
    assert!(!shims.is_empty(), "no shim of shakedown-{id}");
    let sleeper = container_pid(&d);
    let mut ours = vec![dockerd, sleeper];
    ours.extend(containerd);
    ours.extend(&shims);
    for pid in &ours {
        assert!(live(*pid), "pid {pid} is not running before the test");
    }

    // Bystanders: they name files of D, one also works in D.
    let mut tail = Command::new("tail")
        .arg("-f")
        .arg(d.join("dockerd.log"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut editor = Command::new("perl")
        .args(["-e", "sleep 3600"])
        .arg(d.join("options.json"))
        .current_dir(&d)
        .spawn()
        .unwrap();

    run.kill().unwrap();
    run.wait().unwrap();
    if kill_dockerd {
        let pid = nix::unistd::Pid::from_raw(dockerd as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        let t0 = Instant::now();
        while live(dockerd) && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // The premise: the shim and the container outlive dockerd.
        assert!(live(sleeper) && shims.iter().all(|p| live(*p)));
    }
    let out = shakedown(state.path())
        .arg("clean")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        // Killed processes may stay zombies for a moment; give them a little time.
        let t0 = Instant::now();
        while ours.iter().any(|p| live(*p)) && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let left: Vec<u32> = ours.iter().copied().filter(|p| live(*p)).collect();
        assert!(
            left.is_empty(),
            "daemon processes left: {left:?}\n{}",
            text(&out)
        );
        assert!(!d.exists(), "{} left", d.display());
        assert!(common::mounts_under(state.path()).is_empty());
    }));
    let (tail_ok, editor_ok) = (still_running(&mut tail), still_running(&mut editor));
    for mut c in [tail, editor] {
        let _ = c.kill();
        let _ = c.wait();
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert!(tail_ok, "the tail -f bystander was killed\n{}", text(&out));
    assert!(editor_ok, "the editor bystander was killed\n{}", text(&out));
    // And nothing else that mentions the state directory is left.
    let procs = common::processes_mentioning(&state.path().to_string_lossy());
    assert!(procs.is_empty(), "processes left: {procs:?}");
}
