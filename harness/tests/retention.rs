//! A long-lived host: finished runs' directories are removed on request (`clean --runs keep=N |
//! older-than=DURATION`), never a live run's or one with changes not undone, and a journal kept
//! outside the state directory survives its run's directory; a run refuses to start, naming the
//! path, when the state directory's filesystem is nearly full. Real runs on managed daemons, a
//! real small filesystem (a tmpfs of 64 MiB) for the full one; the oracle is the directory tree.

mod common;

use std::path::{Path, PathBuf};

use common::{scenario, shakedown, text};

/// The run directories under `state`, sorted.
fn runs(state: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(state.join("runs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// One quick run with its journal at `journal`.
fn one_run(state: &Path, file: &Path, journal: &Path) {
    let out = shakedown(state)
        .args(["run", "--journal"])
        .arg(journal)
        .arg(file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn clean_removes_finished_runs_as_asked_and_keeps_outside_journals() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "quick",
        "name: quick\ncontainers:\n  c: {command: [sleep, \"30\"]}\nsteps:\n  - action: {start: {container: c}}\n  - action: {remove: {container: c}}\n",
    );
    let journals: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("j{i}.jsonl")))
        .collect();
    for j in &journals {
        one_run(state.path(), &file, j);
    }
    let all = runs(state.path());
    assert_eq!(all.len(), 3, "{all:?}");

    // Nothing is old enough.
    let out = shakedown(state.path())
        .args(["clean", "--runs", "older-than=1d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(runs(state.path()), all);

    // The newest one stays; the journals named with --journal are the user's and stay too.
    let out = shakedown(state.path())
        .args(["clean", "--runs", "keep=1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(runs(state.path()), vec![all[2].clone()], "{}", text(&out));
    assert_eq!(text(&out).matches("removed ").count(), 2, "{}", text(&out));
    for j in &journals {
        assert!(j.is_file(), "{} was removed", j.display());
    }

    // Everything older than a second goes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = shakedown(state.path())
        .args(["clean", "--runs", "older-than=1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(runs(state.path()).is_empty(), "{}", text(&out));

    // A retention that says nothing clear is refused before anything is touched.
    for bad in ["keep", "newest=2", "older-than=soon"] {
        let out = shakedown(state.path())
            .args(["clean", "--runs", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
        assert!(text(&out).contains("keep=N"), "{bad}: {}", text(&out));
    }
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.0.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn a_run_refuses_to_start_on_a_nearly_full_state_directory() {
    let small = Tmpfs(tempfile::tempdir().unwrap());
    nix::mount::mount(
        Some("tmpfs"),
        small.0.path(),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=64m"),
    )
    .expect("mounting a tmpfs (the tests run as root)");
    let state = small.0.path().join("state");
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "quick",
        "name: quick\nsteps:\n  - action: {sleep: {duration: 1ms}}\n",
    );
    let journal = dir.path().join("j.jsonl");
    let out = shakedown(&state)
        .args(["run", "--journal"])
        .arg(&journal)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains(&state.display().to_string()), "{said}");
    assert!(said.contains("MiB free"), "{said}");
    // Nothing was started: no run directory, no journal, no managed daemon's state.
    assert!(runs(&state).is_empty(), "{:?}", runs(&state));
    assert!(!journal.exists());
    assert!(!state.join("managed").exists());
}
