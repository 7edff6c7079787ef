//! VMs as targets: `shakedown vm build b12 --suite bookworm` makes a whole Docker host from
//! Debian's packages, and `run --target vm:b12` boots it under qemu (software emulation), runs the
//! scenarios there through the SSH target, and kills the VM at the end. The scenarios run on the
//! VM's kernel (Debian's 6.1, as its dockerd reports it), which has netem where this host has
//! none. The image is built once per test binary (and kept, by its inputs, under the cargo target
//! directory between runs).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{scenario, shakedown, text};

/// A state directory kept between test runs, so the image (and its downloaded packages) is reused.
fn state() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-state")
}

/// Builds (or finds up to date) the image `b12` once for the whole binary; returns its
/// description (`vm.json`).
fn image() -> &'static serde_json::Value {
    static IMAGE: OnceLock<serde_json::Value> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let t = Instant::now();
        let out = shakedown(&state())
            .args(["vm", "build", "b12", "--suite", "bookworm"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        eprintln!(
            "vm build b12: {:.0} s: {}",
            t.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
        // Built once: the same inputs find it up to date.
        let again = shakedown(&state())
            .args(["vm", "build", "b12", "--suite", "bookworm"])
            .output()
            .unwrap();
        assert!(
            again.status.success() && String::from_utf8_lossy(&again.stdout).contains("up to date"),
            "{}",
            text(&again)
        );
        assert_image_is_root_only();
        let list = shakedown(&state()).args(["vm", "list"]).output().unwrap();
        assert!(
            String::from_utf8_lossy(&list.stdout).contains("b12"),
            "{}",
            text(&list)
        );
        common::json(&state().join("vms/b12/vm.json"))
    })
}

/// The image holds the guest's host key and the client key that logs in as root: the state
/// directory, `vms/`, the image's directory and the downloads' cache are 0700, and every file of
/// the image (disk, kernel, initramfs, keys, known host, description) 0600.
fn assert_image_is_root_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let vms = state().join("vms");
    for d in [state(), vms.clone(), vms.join("b12"), vms.join(".debs")] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    let files: Vec<PathBuf> = std::fs::read_dir(vms.join("b12"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    for f in [
        "disk.img",
        "vmlinuz",
        "initrd.img",
        "id_ed25519",
        "known_hosts",
        "vm.json",
    ] {
        assert!(
            files.contains(&vms.join("b12").join(f)),
            "no {f}: {files:?}"
        );
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
}

/// qemu processes started by the shakedown process `pid` (its console log carries that pid).
fn qemus_of(pid: u32) -> Vec<u32> {
    common::processes_mentioning(&format!("b12-{pid}-"))
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim().starts_with('Z'))
        })
        .collect()
}

/// Runs the command to its end with its output captured; returns its pid and output.
fn run_to_end(c: &mut std::process::Command) -> (u32, std::process::Output) {
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    (pid, common::Spawned::new(child).wait_with_output())
}

/// A netem fault: Debian's kernel has the qdisc, this host's kernel has not.
const NETEM: &str = r#"
name: vm-net-corrupt
containers:
  client:
    command: [shakedown-fixture, trap, --signal, TERM, --exit-code, "0"]
steps:
  - action: {start: {container: client}}
  - action: {net_corrupt: {container: client, percent: 10, duration: 2s}}
  - action: {net_duplicate: {container: client, percent: 10, duration: 2s}}
"#;

#[test]
fn scenarios_run_in_a_bookworm_vm_on_its_own_kernel() {
    let img = image();
    let dir = tempfile::tempdir().unwrap();
    let netem = scenario(dir.path(), "netem", NETEM);
    let j = dir.path().join("r.json");
    let t = Instant::now();
    let (pid, out) = run_to_end(
        shakedown(&state())
            .arg("run")
            .args(["--target", "vm:b12"])
            .arg(common::builtin().join("pid1-sigterm.yaml"))
            .arg(common::builtin().join("cgroup-oom.yaml"))
            .arg(common::builtin().join("stop-frozen.yaml"))
            .arg(&netem)
            .arg("--json")
            .arg(&j)
            .arg("--journal")
            .arg(dir.path().join("j.jsonl")),
    );
    eprintln!("run in the VM: {:.0} s", t.elapsed().as_secs_f64());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = common::json(&j);
    for s in r["targets"][0]["run"]["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
    {
        eprintln!(
            "  {}: {:.1} s in the VM",
            s["name"],
            s["elapsed"].as_f64().unwrap_or_default()
        );
    }
    for name in ["pid1-sigterm", "cgroup-oom", "vm-net-corrupt"] {
        assert_eq!(
            common::verdict(&r, name)["outcome"],
            "pass",
            "{name}: {}",
            text(&out)
        );
    }
    // The VM runs cgroup v2 (its init mounts only that): the scenario that needs v1 is skipped,
    // with the reason, not run.
    assert_eq!(
        common::verdict(&r, "stop-frozen")["outcome"],
        "skipped",
        "{}",
        text(&out)
    );
    // How it was emulated is said: KVM, or software emulation with why not KVM.
    let err = String::from_utf8_lossy(&out.stderr);
    let up = err
        .lines()
        .find(|l| l.starts_with("vm:b12: up in"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        up.contains("(kvm;") || up.contains("(tcg (no KVM: "),
        "{up}"
    );
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        assert!(up.contains("(tcg (no KVM: /dev/kvm"), "{up}");
    }
    // The VM's kernel as its dockerd reports it: Debian's 6.1, not this host's.
    let fp = &r["targets"][0]["run"]["fingerprint"];
    let kernel = fp["kernel_version"].as_str().unwrap_or_default();
    let host_kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(kernel.starts_with("6.1."), "{fp}");
    assert_ne!(kernel, host_kernel.trim());
    assert_eq!(kernel, img["kernel"].as_str().unwrap(), "{fp}");
    assert!(
        fp["operating_system"]
            .as_str()
            .unwrap_or_default()
            .contains("bookworm"),
        "{fp}"
    );
    assert!(
        r["targets"][0]["run"]["target"]
            .as_str()
            .unwrap_or_default()
            .starts_with("vm:b12"),
        "{}",
        r["targets"][0]["run"]["target"]
    );
    // The VM is gone with the run.
    assert!(qemus_of(pid).is_empty(), "qemu left: {:?}", qemus_of(pid));
}

/// The netem scenario's pass in the VM is the VM kernel's doing: on this host the same file
/// passes only if this kernel has netem (read from /proc/config.gz or the loaded modules), and
/// otherwise fails naming the missing option (the project's machines have none).
#[test]
fn the_netem_scenario_follows_the_kernel() {
    let probe = std::process::Command::new("sh")
        .args([
            "-c",
            "zcat /proc/config.gz 2>/dev/null | grep -q '^CONFIG_NET_SCH_NETEM=' || modprobe -n sch_netem 2>/dev/null",
        ])
        .status()
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let netem = scenario(dir.path(), "netem", NETEM);
    let (out, r) = common::run_json(state.path(), dir.path(), &[&netem], &[]);
    if probe.success() {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    } else {
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_eq!(
            common::verdict(&r, "vm-net-corrupt")["outcome"],
            "fail",
            "{r}"
        );
        assert!(r.to_string().contains("CONFIG_NET_SCH_NETEM"), "{r}");
    }
}

#[test]
fn sigterm_while_the_vm_boots_kills_it() {
    image();
    let child = shakedown(&state())
        .arg("run")
        .args(["--target", "vm:b12"])
        .arg(common::builtin().join("pid1-sigterm.yaml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = common::Spawned::new(child);
    let t = Instant::now();
    while qemus_of(pid).is_empty() {
        assert!(t.elapsed() < Duration::from_secs(60), "qemu never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    common::signal(run.child(), nix::sys::signal::Signal::SIGTERM);
    let t = Instant::now();
    let out = run.wait_with_output();
    assert!(t.elapsed() < Duration::from_secs(60), "{}", text(&out));
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let t = Instant::now();
    while !qemus_of(pid).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "qemu left after SIGTERM: {:?}",
            qemus_of(pid)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `shakedown ARGS...` in `state`: its exit code, standard output and standard error.
fn cli(state: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = shakedown(state).args(args).output().unwrap();
    let (o, e) = (&out.stdout, &out.stderr);
    (
        out.status.code(),
        String::from_utf8_lossy(o).into_owned(),
        String::from_utf8_lossy(e).into_owned(),
    )
}

#[test]
fn an_unknown_image_is_named() {
    let state = tempfile::tempdir().unwrap();
    let pid1 = common::builtin().join("pid1-sigterm.yaml");
    let run = cli(
        state.path(),
        &["run", "--target", "vm:nope", pid1.to_str().unwrap()],
    );
    // A VM image that is not there: a target that could not be used (3).
    assert_eq!(run.0, Some(3), "{run:?}");
    assert!(run.2.contains("no VM image nope"), "{run:?}");
    let bad = cli(state.path(), &["run", "--target", "vm:../x"]);
    assert_eq!(bad.0, Some(2), "{bad:?}");
    let rm = cli(state.path(), &["vm", "rm", "nope"]);
    assert!(
        rm.0 == Some(2) && rm.2.contains("no VM image nope"),
        "{rm:?}"
    );
    let suite = cli(state.path(), &["vm", "build", "x", "--suite", "buster"]);
    assert_eq!(suite.0, Some(2), "{suite:?}");
    // list and rm on an image's files (an empty disk: nothing boots it here).
    let fake = state.path().join("vms/fake");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join("disk.img"), "").unwrap();
    std::fs::write(
        fake.join("vm.json"),
        r#"{"name": "fake", "suite": "trixie", "kernel_package": "linux-image-cloud-amd64",
            "engine": null, "recipe": 1, "kernel": "6.12.0-1-cloud-amd64",
            "docker": "26.1.5+dfsg1-9+b9", "built_at": 0.0, "build_seconds": 0.0}"#,
    )
    .unwrap();
    let list = cli(state.path(), &["vm", "list"]);
    assert!(
        list.1.contains("fake") && list.1.contains("6.12.0-1-cloud-amd64"),
        "{list:?}"
    );
    let rm = cli(state.path(), &["vm", "rm", "fake"]);
    assert_eq!(rm.0, Some(0), "{rm:?}");
    assert!(!fake.exists());
}

/// `vm ssh NAME -- COMMAND` runs the command in the booted VM, with this terminal's streams, and
/// passes its exit code on; the VM is gone afterwards.
#[test]
fn vm_ssh_runs_a_command_in_the_vm() {
    let img = image();
    let (pid, out) = run_to_end(shakedown(&state()).args([
        "vm",
        "ssh",
        "b12",
        "--",
        "uname -r; cat /sys/fs/cgroup/cgroup.subtree_control; exit 3",
    ]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), img["kernel"].as_str(), "{}", text(&out));
    // Every controller is delegated, as a systemd host does.
    let controllers = lines.next().unwrap_or_default();
    for c in ["cpu", "memory", "pids", "io"] {
        assert!(controllers.split(' ').any(|x| x == c), "{controllers}");
    }
    assert!(qemus_of(pid).is_empty(), "qemu left: {:?}", qemus_of(pid));
}
