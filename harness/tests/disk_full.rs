//! Full disks on a filesystem the harness makes for the managed daemon's data-root
//! (`requires: {data_root: ...}`, `fill_disk`, `fill_inodes`). The oracles are the kernel's own
//! accounts, read by this test while the run goes and after it: the loop devices in
//! `/sys/block/loop*/loop/backing_file` and `losetup -a`, the mounts in `/proc/self/mountinfo`,
//! the free space and inodes `df` reports on the mount, and the image files on disk — never the
//! harness's own journal of what it did. The ENOSPC a container must see is its own output.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{check_of, run_json, scenario, shakedown, text};

/// `losetup -a` lines naming a file under `dir`, and the loop devices whose backing file (as the
/// kernel keeps it in sysfs) is under `dir`. A missing `losetup` fails the test.
fn loops_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().to_string();
    let out = Command::new("timeout")
        .args(["10", "losetup", "-a"])
        .output()
        .expect("losetup (util-linux) must be installed");
    assert!(out.status.success(), "losetup -a: {out:?}");
    let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&d))
        .map(str::to_string)
        .collect();
    for e in std::fs::read_dir("/sys/block").unwrap().flatten() {
        let backing = e.path().join("loop/backing_file");
        if let Ok(b) = std::fs::read_to_string(&backing) {
            if b.contains(&d) {
                found.push(format!("{}: {}", e.path().display(), b.trim()));
            }
        }
    }
    found
}

/// Image files left in any run directory under `state`.
fn images_under(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|run| {
            std::fs::read_dir(run.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|fs| fs.path().join("image"))
        .filter(|p| p.exists())
        .collect()
}

/// `df` of every ext4/xfs mount under `dir`: (mount point, bytes available, inodes free).
fn df_under(dir: &Path) -> Vec<(String, u64, u64)> {
    let d = dir.to_string_lossy().to_string();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut out = vec![];
    for l in info.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        let (point, fstype) = (f[4], f.get(dash + 1).copied().unwrap_or(""));
        if !point.starts_with(&d) || !matches!(fstype, "ext4" | "xfs") {
            continue;
        }
        let df = Command::new("timeout")
            .args(["10", "df", "-B1", "--output=avail,iavail", point])
            .output()
            .expect("df (coreutils) must be installed");
        let text = String::from_utf8_lossy(&df.stdout);
        let nums: Vec<u64> = text
            .lines()
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [avail, iavail] = nums[..] {
            out.push((point.to_string(), avail, iavail));
        }
    }
    out
}

/// Whether nothing of the harness-made filesystems is left under `state`: no loop device, no
/// mount, no image file (waiting up to `deadline` for the kernel to let go of a loop device).
fn assert_nothing_left(state: &Path, deadline: Duration) {
    let t = Instant::now();
    loop {
        let (loops, mounts, images) = (
            loops_under(state),
            common::mounts_under(state),
            images_under(state),
        );
        if loops.is_empty() && mounts.is_empty() && images.is_empty() {
            return;
        }
        assert!(
            t.elapsed() < deadline,
            "left behind: loops {loops:?}, mounts {mounts:?}, images {images:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `shakedown clean` on a state directory when dropped: a failed test leaves no loop device
/// or mount behind for the next.
struct CleanOnDrop(PathBuf);

impl Drop for CleanOnDrop {
    fn drop(&mut self) {
        let _ = shakedown(&self.0).arg("clean").output();
    }
}

#[test]
fn the_mkfs_tools_are_here() {
    for tool in ["mkfs.ext4", "mkfs.xfs", "losetup", "mount"] {
        let found = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        assert!(found, "{tool} is missing: the data_root tests cannot run");
    }
}

#[test]
fn disk_full_and_inode_full_see_enospc_and_recover_on_their_own_filesystem() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let _clean = CleanOnDrop(state.path().to_path_buf());
    let files = [
        common::builtin().join("disk-full.yaml"),
        common::builtin().join("inode-full.yaml"),
        common::builtin().join("disk-full-restart.yaml"),
    ];
    // What the kernel says, every 20 ms, while the run goes.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, state) = (stop.clone(), state.path().to_path_buf());
        std::thread::spawn(move || {
            let (mut loops, mut full, mut no_inodes, mut fs) = (false, false, false, 0);
            while !stop.load(Ordering::Relaxed) {
                loops |= !loops_under(&state).is_empty();
                let df = df_under(&state);
                fs = fs.max(df.len());
                full |= df.iter().any(|(_, avail, _)| *avail == 0);
                no_inodes |= df.iter().any(|(_, _, iavail)| *iavail == 0);
                std::thread::sleep(Duration::from_millis(20));
            }
            (loops, full, no_inodes, fs)
        })
    };
    let t = Instant::now();
    let (out, report) = run_json(
        state.path(),
        dir.path(),
        &[&files[0], &files[1], &files[2]],
        &["--jobs", "1"],
    );
    stop.store(true, Ordering::Relaxed);
    let (loops, full, no_inodes, fs) = watcher.join().unwrap();
    eprintln!("both scenarios in {:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(loops, "no loop device under the state directory was seen");
    assert!(
        fs >= 1,
        "no ext4/xfs mount under the state directory was seen"
    );
    assert!(full, "df never showed the data-root full");
    assert!(no_inodes, "df never showed the data-root out of inodes");
    // The failure each must see, in the container's own words.
    for (scenario, step) in [
        ("disk-full", "write refused"),
        ("inode-full", "create refused"),
    ] {
        let c = check_of(&report, scenario, step, "output");
        assert_eq!(c["outcome"], "pass", "{c}");
        let refused = check_of(&report, scenario, "run refused", "error");
        assert_eq!(refused["outcome"], "pass", "{refused}");
    }
    // dockerd killed while full does not start again until the space is freed; then every
    // container is as it was.
    let refused = check_of(&report, "disk-full-restart", "no start while full", "error");
    assert_eq!(refused["outcome"], "pass", "{refused}");
    let kept = check_of(&report, "disk-full-restart", "running kept", "unchanged");
    assert_eq!(kept["outcome"], "pass", "{kept}");
    let journal = std::fs::read_to_string(dir.path().join("j.jsonl")).unwrap();
    let enospc = journal
        .lines()
        .filter(|l| l.contains("\"exec_output\""))
        .filter(|l| l.contains("No space left on device"))
        .count();
    assert!(
        enospc >= 2,
        "no container output with ENOSPC in the journal"
    );
    common::assert_judge_reproduces(state.path(), dir.path(), &out, &report);
    assert_nothing_left(state.path(), Duration::from_secs(10));
}

#[test]
fn without_the_fill_the_scenario_fails() {
    // The check is not vacuous: without the disk filled, the write works and the scenario fails.
    let state = tempfile::tempdir().unwrap();
    let _clean = CleanOnDrop(state.path().to_path_buf());
    let dir = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(common::builtin().join("disk-full.yaml"))
        .unwrap()
        .replace(
            "action: {fill_disk: {target: data_root, free: 0}}",
            "action: {fill_disk: {target: data_root, free: 200MiB}}",
        );
    let file = scenario(dir.path(), "disk-full", &yaml);
    let (out, report) = run_json(state.path(), dir.path(), &[&file], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let c = check_of(&report, "disk-full", "write refused", "output");
    assert_eq!(c["outcome"], "fail", "{c}");
    assert_nothing_left(state.path(), Duration::from_secs(10));
}

#[test]
fn a_run_killed_mid_fill_is_cleaned_up() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "held-full",
        "name: held-full\nrequires:\n  disruptive: true\n  data_root: {size: 300MiB, fs: xfs}\n\
         containers:\n  app: {command: [sleep, \"1000\"]}\nsteps:\n  - action: {start: {container: app}}\n\
         \x20 - action: {fill_disk: {target: data_root, duration: 120s}}\n",
    );
    let _clean = CleanOnDrop(state.path().to_path_buf());
    let mut child = common::spawn_run(state.path(), &file);
    let t = Instant::now();
    loop {
        // xfs keeps a few blocks of its own that statfs counts as free: under 1 MiB is full.
        if df_under(state.path())
            .iter()
            .any(|(_, avail, _)| *avail < 1 << 20)
        {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            panic!("the data-root was never seen full");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!loops_under(state.path()).is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    // Killed: everything is still there.
    assert!(!common::mounts_under(state.path()).is_empty());
    let out = shakedown(state.path()).arg("clean").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("fill"), "{said}");
    assert_nothing_left(state.path(), Duration::from_secs(20));
}

#[test]
fn sigterm_mid_fill_undoes_everything_before_the_run_exits() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let _clean = CleanOnDrop(state.path().to_path_buf());
    let file = scenario(
        dir.path(),
        "held-inodes",
        "name: held-inodes\nrequires:\n  disruptive: true\n  data_root: {size: 64MiB}\n\
         containers:\n  app: {command: [sleep, \"1000\"]}\nsteps:\n  - action: {start: {container: app}}\n\
         \x20 - action: {fill_inodes: {target: data_root}}\n\
         \x20 - action: {sleep: {duration: 120s}}\n",
    );
    let mut child = common::spawn_run(state.path(), &file);
    let t = Instant::now();
    while !df_under(state.path())
        .iter()
        .any(|(_, _, iavail)| *iavail == 0)
    {
        if t.elapsed() > Duration::from_secs(120) || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            panic!("the data-root was never seen out of inodes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    common::signal(&child, nix::sys::signal::Signal::SIGTERM);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}");
    // Undone by the run itself, before it exited: no `clean` needed.
    assert_nothing_left(state.path(), Duration::from_secs(10));
}

#[test]
fn a_volume_is_filled_inside_where_its_container_sees_the_files() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let _clean = CleanOnDrop(state.path().to_path_buf());
    let file = scenario(
        dir.path(),
        "volume-full",
        r#"name: volume-full
requires:
  disruptive: true
  data_root: {size: 128MiB, fs: ext4}
volumes:
  db: {}
containers:
  app:
    command: [sleep, "1000"]
    volumes: [{volume: db, target: /db}]
steps:
  - action: {start: {container: app}}
  - action: {fill_disk: {target: {volume: db}, free: 0}}
  - name: seen in the volume
    action: {exec: {container: app, command: "ls /db; dd if=/dev/zero of=/db/x bs=64k count=16 2>&1"}}
    expect: {output: "No space left on device"}
  - action: {fill_disk: {target: {volume: db}, release: true}}
  - name: room again
    action: {exec: {container: app, command: "ls /db; rm -f /db/x; dd if=/dev/zero of=/db/x bs=64k count=16 2>&1; echo exit=$?"}}
    expect: {output: "exit=0"}
"#,
    );
    let (out, _) = run_json(state.path(), dir.path(), &[&file], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The container listed the fill files in its volume, in its own output.
    let journal = std::fs::read_to_string(dir.path().join("j.jsonl")).unwrap();
    // (The journal names the fill files in their ledger entries too: only exec output counts.)
    let listed = journal
        .lines()
        .filter(|l| l.contains("\"exec_output\""))
        .any(|l| l.contains("shakedown-fill-"));
    assert!(listed, "the container did not see a fill file in /db");
    assert_nothing_left(state.path(), Duration::from_secs(10));
}

#[test]
fn a_fill_without_a_filesystem_of_the_scenario_is_refused_with_its_location() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "no-fs",
        "name: no-fs\nrequires: {disruptive: true}\nsteps:\n  - action: {fill_disk: {target: data_root}}\n",
    );
    let out = shakedown(state.path())
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let at = format!("{}:4:", file.display());
    assert!(err.contains(&at), "no {at} in: {err}");
    assert!(err.contains("data_root"), "{err}");
    // The same file is refused by `run` before anything is made.
    let out = shakedown(state.path())
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(loops_under(state.path()).is_empty());
    // A fill beyond the image is refused too.
    let beyond = scenario(
        dir.path(),
        "beyond",
        "name: beyond\nrequires: {disruptive: true, data_root: {size: 64MiB}}\nsteps:\n  - action: {fill_disk: {target: data_root, free: 1GiB}}\n",
    );
    let out = shakedown(state.path())
        .arg("validate")
        .arg(&beyond)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("{}:4:", beyond.display())),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_daemon_the_harness_did_not_start_the_scenario_is_skipped_never_passed() {
    use shakedown::engine::managed::{DaemonOptions, EngineBinaries, ManagedDaemon};
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The "user's daemon": a dockerd this test starts itself and removes at the end.
    let engine = EngineBinaries::default().resolve().unwrap();
    let daemon = ManagedDaemon::start(
        &state.path().join("users-daemon"),
        &engine,
        &DaemonOptions::default(),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let j = dir.path().join("r.json");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_shakedown"));
    cmd.env("SHAKEDOWN_STATE_DIR", state.path().join("harness"))
        .env("DOCKER_HOST", daemon.docker_host())
        .args(["run", "--target", "docker", "--allow-disruptive", "--json"])
        .arg(&j)
        .arg(common::builtin().join("disk-full.yaml"));
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output()).await;
    let users_data = daemon.data_root();
    daemon.shutdown(Duration::from_secs(30)).await.unwrap();
    let out = out.expect("the run did not end").unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = common::json(&j);
    let v = common::verdict(&r, "disk-full");
    assert_eq!(v["outcome"], "skipped", "{v:#}");
    let why = v.to_string();
    assert!(
        why.contains("data-root") && why.contains("managed"),
        "{why}"
    );
    assert!(loops_under(state.path()).is_empty());
    assert!(!users_data.exists() || common::mounts_under(&users_data).is_empty());
}
