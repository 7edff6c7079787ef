//! What a user who downloads the binary gets: the built-in suite travels inside it. A copy of the
//! binary alone, run from an empty directory, lists and runs the built-in scenarios, and
//! `scenarios export` writes them out, with their schema, to edit and run.

mod common;

use std::path::Path;
use std::process::Command;

/// The binary copied alone into an empty directory, run from there with its own state directory.
fn alone(dir: &Path, state: &Path) -> Command {
    let bin = dir.join("shakedown");
    if !bin.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_shakedown"), &bin).unwrap();
    }
    let mut c = Command::new(&bin);
    c.current_dir(dir)
        .env("SHAKEDOWN_STATE_DIR", state)
        .env_remove("RUST_LOG");
    c
}

/// The names of the repository's `scenarios/*.yaml`, sorted.
fn repo_suite() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(common::builtin())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .map(|n| n.trim_end_matches(".yaml").to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn a_copied_binary_carries_the_built_in_suite_and_exports_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let out = alone(dir.path(), state.path())
        .args(["list", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<String> = listed["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, repo_suite());
    // Read from the state directory, root-only like the rest of it.
    let open = common::exposed(state.path());
    assert!(open.is_empty(), "open to others: {open:#?}");

    // Exported: the same scenarios, each naming the schema written beside it.
    let export = dir.path().join("mine");
    let out = alone(dir.path(), state.path())
        .args(["scenarios", "export"])
        .arg(&export)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    for name in repo_suite() {
        let ours = std::fs::read_to_string(common::builtin().join(format!("{name}.yaml"))).unwrap();
        let theirs = std::fs::read_to_string(export.join(format!("{name}.yaml"))).unwrap();
        assert_eq!(
            theirs,
            ours.replace(
                "$schema=../scenario.schema.json",
                "$schema=scenario.schema.json"
            )
        );
    }
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(export.join("scenario.schema.json")).unwrap(),
    )
    .unwrap();
    assert!(
        schema["$schema"].as_str().unwrap().contains("draft-07"),
        "{schema}"
    );
    let out = alone(dir.path(), state.path())
        .arg("validate")
        .arg(&export)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));

    // An edited file is not overwritten: refused before anything is written.
    let edited = export.join("cgroup-oom.yaml");
    std::fs::write(&edited, "# mine\n").unwrap();
    std::fs::remove_file(export.join("veth-churn.yaml")).unwrap();
    let out = alone(dir.path(), state.path())
        .args(["scenarios", "export"])
        .arg(&export)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(common::text(&out).contains("cgroup-oom.yaml exists with other content"));
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "# mine\n");
    assert!(!export.join("veth-churn.yaml").exists());
}

/// The copied binary alone runs a built-in scenario on a managed daemon, from an empty directory.
#[test]
fn a_copied_binary_runs_a_built_in_scenario_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = alone(dir.path(), state.path())
        .args(["run", "--filter", "pid1-sigterm", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let report = common::json(&json);
    let verdicts = report["targets"][0]["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 1, "{report}");
    assert_eq!(verdicts[0]["name"], "pid1-sigterm");
    assert_eq!(verdicts[0]["outcome"], "pass", "{report}");
}

/// Runs `script` with `sh -c` inside `root`, made the root of a mount namespace of its own
/// (pivot_root, not chroot: runc enters a container's mount namespace at that namespace's root,
/// so under a chroot `docker exec` would run in the chroot instead of the container), with /proc,
/// /sys and /dev of the host; everything goes with the namespace.
fn in_root(root: &Path, script: &str) -> std::process::Output {
    let r = root.display();
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "/bin/sh", "-c"])
        .arg(format!(
            "mount --bind {r} {r} && cd {r} && mkdir -p .oldroot && pivot_root . .oldroot && cd / \
             && mount -t proc proc /proc && mount --rbind /.oldroot/sys /sys \
             && mount --rbind /.oldroot/dev /dev && umount -l /.oldroot && exec /bin/sh -c \"$0\""
        ))
        .arg(script)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap()
}

/// The release artifacts as a user gets them: `ci/build-deb.sh` makes the static binary, the
/// `.deb` and `sha256sums`; the `.deb` installs with apt into a fresh Debian (debootstrap, the
/// host's suite), which brings the engine and what the fixture needs through its dependencies;
/// there `shakedown --version` is this build and `shakedown run` passes a built-in scenario.
/// `SHAKEDOWN_DEB=FILE` checks a .deb built before (the release workflow's).
#[test]
fn the_deb_installs_into_a_fresh_debian_and_runs_there() {
    // The release workflow names the .deb it built; else the dev profile's.
    let deb = match std::env::var_os("SHAKEDOWN_DEB") {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            let out = Command::new(common::repo().join("ci/build-deb.sh"))
                .arg("dev")
                .output()
                .expect("running ci/build-deb.sh");
            assert!(out.status.success(), "{}", common::text(&out));
            std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        }
    };
    let dist = deb.parent().unwrap();
    let out = Command::new("sha256sum")
        .args(["--check", "sha256sums"])
        .current_dir(dist)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).matches(": OK").count(),
        2
    );

    let suite = std::fs::read_to_string("/etc/os-release")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME=").map(str::to_string))
        .expect("a Debian host names its suite in /etc/os-release");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let out = Command::new("debootstrap")
        .args(["--variant=minbase", &suite])
        .arg(&root)
        .output()
        .expect("debootstrap must be installed: ci/install-test-deps.sh installs it");
    assert!(out.status.success(), "{}", common::text(&out));
    std::fs::copy(&deb, root.join("tmp/shakedown.deb")).unwrap();
    // No service starts in the chroot.
    std::fs::write(root.join("usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n").unwrap();
    std::fs::set_permissions(
        root.join("usr/sbin/policy-rc.d"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = in_root(
        &root,
        "apt-get update -qq && apt-get install -y -qq --no-install-recommends /tmp/shakedown.deb",
    );
    assert!(out.status.success(), "{}", common::text(&out));
    let out = in_root(
        &root,
        "dpkg -L shakedown && command -v dockerd && shakedown --version",
    );
    assert!(out.status.success(), "{}", common::text(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    for f in [
        "/usr/bin/shakedown",
        "/usr/share/man/man1/shakedown.1.gz",
        "/usr/share/bash-completion/completions/shakedown",
    ] {
        assert!(listed.lines().any(|l| l == f), "{f} not in {listed}");
    }
    let ours = Command::new(env!("CARGO_BIN_EXE_shakedown"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        listed.ends_with(&*String::from_utf8_lossy(&ours.stdout)),
        "{listed}"
    );

    // One built-in scenario here; `SHAKEDOWN_DEB_SUITE=all` runs the whole embedded suite (the
    // long measurement, by hand).
    let all = std::env::var("SHAKEDOWN_DEB_SUITE").is_ok_and(|v| v == "all");
    let filter = if all { "" } else { "--filter pid1-sigterm" };
    let out = in_root(
        &root,
        &format!("mkdir -p /root/w && cd /root/w && shakedown run {filter} --progress lines --json r.json"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let report = common::json(&root.join("root/w/r.json"));
    let verdicts = report["targets"][0]["verdicts"].as_array().unwrap();
    let mut names: Vec<&str> = verdicts
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    names.sort();
    if all {
        assert_eq!(names, repo_suite(), "{report}");
    } else {
        assert_eq!(names, ["pid1-sigterm"]);
    }
    for v in verdicts {
        assert!(
            v["outcome"] == "pass" || v["outcome"] == "skipped",
            "{}: {}",
            v["name"],
            v["outcome"]
        );
    }
}
