//! Least exposure on a shared host: the state directory and what the harness writes in it are
//! root-only (0700 directories, 0600 files, as Docker keeps its data-root) — journals, run
//! directories and their locks, a managed daemon's directory, forensics bundles kept there — and a
//! state directory made looser before is tightened by the next run; what is written where the user
//! asked (`--journal FILE`, `--json FILE`, `--artifacts DIR`) follows the user's umask. Real runs on
//! managed daemons; the oracle is the modes on disk.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{exposed, scenario, shakedown, text};

/// `shakedown run` with the umask 022, so what follows the umask is predictable.
fn run_cmd(state: &Path) -> Command {
    let mut c = shakedown(state);
    c.arg("run");
    // SAFETY: umask(2) only, async-signal-safe, between fork and exec.
    unsafe {
        c.pre_exec(|| {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
            Ok(())
        });
    }
    c
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A scenario that keeps a container (and so its managed daemon) up for a few seconds.
fn short(dir: &Path) -> PathBuf {
    scenario(
        dir,
        "short",
        "name: short\ncontainers:\n  c: {command: [sleep, \"60\"]}\nsteps:\n  - action: {start: {container: c}}\n  - action: {sleep: {duration: 4s}}\n  - action: {remove: {container: c}}\n",
    )
}

/// The managed daemon directory of a run in `state`, once its socket is there.
fn wait_for_daemon_dir(state: &Path, child: &mut std::process::Child) -> PathBuf {
    let t0 = Instant::now();
    loop {
        if let Some(d) = common::managed_dir(state) {
            return d;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("the run ended ({st}) before its daemon was seen");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no managed daemon within 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_run_leaves_nothing_in_the_state_directory_for_others() {
    let top = tempfile::tempdir().unwrap();
    let state = top.path().join("state");
    let out = top.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let file = short(top.path());
    let mut child = run_cmd(&state)
        .arg(&file)
        .args(["--forensics", "always", "--artifacts"])
        .arg(state.join("artifacts"))
        .arg("--json")
        .arg(out.join("r.json"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // While the daemon lives: its directory, the run's directory, lock and journal.
    let daemon = wait_for_daemon_dir(&state, &mut child);
    assert_eq!(mode(&daemon), 0o700, "{}", daemon.display());
    for name in ["owner.pid", "daemon.json", "options.json"] {
        assert_eq!(mode(&daemon.join(name)), 0o600, "{name}");
    }
    let during = exposed(&state);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        during.is_empty(),
        "open to others during the run: {during:#?}"
    );

    // After it: the journal, the run's directory, the forensics bundle kept in the state
    // directory (a remote run keeps its artifacts there).
    let after = exposed(&state);
    assert!(after.is_empty(), "open to others after the run: {after:#?}");
    // Nothing below is reachable: the state directory and every directory in it are 0700.
    assert_eq!(mode(&state), 0o700);
    for e in std::fs::read_dir(&state).unwrap().flatten() {
        let want = if e.path().is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&e.path()), want, "{}", e.path().display());
    }
    let runs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(mode(&runs[0].join("journal.jsonl")), 0o600);
    assert_eq!(mode(&runs[0].join("lock")), 0o600);
    let bundles: Vec<PathBuf> = std::fs::read_dir(state.join("artifacts"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        !bundles.is_empty(),
        "no forensics bundle: {}",
        text(&output)
    );
    assert!(bundles[0].join("reason.txt").is_file());
    // The report the user asked for follows the umask.
    assert_eq!(mode(&out.join("r.json")), 0o644);
}

#[test]
fn a_looser_state_directory_is_tightened_and_the_users_files_keep_the_umask() {
    let top = tempfile::tempdir().unwrap();
    let state = top.path().join("state");
    std::fs::create_dir_all(state.join("runs")).unwrap();
    for d in [&state, &state.join("runs")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = top.path().join("out");
    let file = scenario(
        top.path(),
        "quick",
        "name: quick\nsteps:\n  - action: {sleep: {duration: 1ms}}\n",
    );
    let output = run_cmd(&state)
        .arg(&file)
        .arg("--journal")
        .arg(out.join("j/journal.jsonl"))
        .arg("--json")
        .arg(out.join("r.json"))
        .args(["--forensics", "always", "--artifacts"])
        .arg(out.join("artifacts"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("runs")), 0o700);
    let after = exposed(&state);
    assert!(after.is_empty(), "open to others after the run: {after:#?}");
    // Written where the user asked: the umask (022) decides.
    assert_eq!(mode(&out.join("j")), 0o755);
    assert_eq!(mode(&out.join("j/journal.jsonl")), 0o644);
    assert_eq!(mode(&out.join("r.json")), 0o644);
    let bundle = std::fs::read_dir(out.join("artifacts"))
        .unwrap()
        .flatten()
        .next()
        .expect("a forensics bundle")
        .path();
    assert_eq!(mode(&bundle), 0o755);
    assert_eq!(mode(&bundle.join("reason.txt")), 0o644);
}
