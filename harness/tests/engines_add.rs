//! `engines add`: a docker-ce static bundle (`docker/` with the eight binaries, as
//! download.docker.com lays it out) made by this test from the machine's own engine binaries,
//! served over HTTP on loopback, checked by sha256, kept under the version its dockerd reports, and
//! run: the managed daemon of `--engine ce-VERSION` is that engine. A wrong checksum, a truncated
//! bundle, a bundle missing a binary and a name kept already are refused, and nothing is kept.

mod common;

use std::path::Path;
use std::process::Command;

use common::http::Server;
use common::{json, shakedown, text};

const BINARIES: [&str; 8] = [
    "dockerd",
    "containerd",
    "containerd-shim-runc-v2",
    "runc",
    "docker-init",
    "docker-proxy",
    "ctr",
    "docker",
];

/// `docker-VERSION.tgz` of the machine's engine (all binaries but `leave_out`) in `dir`; its sha256.
fn bundle(dir: &Path, file: &str, leave_out: Option<&str>) -> String {
    let tree = dir.join(format!("{file}.tree"));
    let d = tree.join("docker");
    std::fs::create_dir_all(&d).unwrap();
    for b in BINARIES.iter().filter(|b| Some(**b) != leave_out) {
        let out = Command::new("sh")
            .args(["-c", &format!("PATH=$PATH:/usr/sbin:/sbin command -v {b}")])
            .output()
            .unwrap();
        let path = String::from_utf8(out.stdout).unwrap();
        assert!(
            !path.trim().is_empty(),
            "{b}: ci/install-deps.sh installs the engine"
        );
        // Dereferenced: Debian's docker-init is a symlink to tini-static.
        std::fs::copy(std::fs::canonicalize(path.trim()).unwrap(), d.join(b)).unwrap();
    }
    let out = Command::new("tar")
        .arg("-czf")
        .arg(dir.join(file))
        .arg("-C")
        .arg(&tree)
        .arg("docker")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new("sha256sum")
        .arg(dir.join(file))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// The entries of the engine cache (nothing half-kept: no partial directories either).
fn cache(state: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(state.join("engines"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "apt")
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_bundle_is_checked_kept_under_its_version_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let sum = bundle(&served, "docker-x.tgz", None);
    bundle(&served, "docker-no-runc.tgz", Some("runc"));
    // Truncated, as an interrupted download leaves it.
    let whole = std::fs::read(served.join("docker-x.tgz")).unwrap();
    std::fs::write(served.join("docker-cut.tgz"), &whole[..whole.len() / 2]).unwrap();
    let server = Server::serve(&served);
    let state = dir.path().join("state");
    let add = |what: &str, extra: &[&str]| {
        shakedown(&state)
            .args(["engines", "add", what])
            .args(extra)
            .output()
            .unwrap()
    };
    let url = |f: &str| format!("{}/{f}", server.url);

    // Refused, nothing kept: a checksum that is not the bundle's, a truncated bundle, a missing
    // binary.
    let out = add(&url("docker-x.tgz"), &["--sha256", &"0".repeat(64)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("has sha256 {sum}")),
        "{}",
        text(&out)
    );
    let out = add(&url("docker-cut.tgz"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("is not a .tgz bundle"),
        "{}",
        text(&out)
    );
    let out = add(&url("docker-no-runc.tgz"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("lacks runc"), "{}", text(&out));
    let out = add(&url("docker-gone.tgz"), &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(cache(&state), Vec::<String>::new());

    // Kept under the version its dockerd reports (read here from the binary itself).
    let out = add(&url("docker-x.tgz"), &["--sha256", &sum]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = Command::new("dockerd").arg("--version").output().unwrap();
    let said = String::from_utf8(said.stdout).unwrap();
    let version = said
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(',')
        .split('+')
        .next()
        .unwrap()
        .to_string();
    let name = format!("ce-{version}");
    assert_eq!(cache(&state), vec![name.clone()]);
    let root = state.join("engines").join(&name).join("root");
    for b in BINARIES {
        assert!(root.join(b).is_file(), "{b}");
    }
    // The same name again: refused.
    let out = add(&url("docker-x.tgz"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is kept already"), "{}", text(&out));

    // The managed daemon of `--engine ce-VERSION` is the bundle's dockerd: seen running while
    // the scenario runs, gone after.
    let r = dir.path().join("r.json");
    let dockerd = root.join("dockerd").display().to_string();
    let mut child = shakedown(&state)
        .args(["run", "--engine", &name, "--progress", "none", "--json"])
        .arg(&r)
        .arg(common::builtin().join("pid1-sigterm.yaml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = false;
    while child.try_wait().unwrap().is_none() {
        seen |= !common::processes_mentioning(&dockerd).is_empty();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(seen, "no process of {dockerd} was seen during the run");
    let report = json(&r);
    assert_eq!(
        report["targets"][0]["verdicts"][0]["outcome"], "pass",
        "{report}"
    );
    let live = common::processes_mentioning(&dockerd);
    assert!(
        live.is_empty(),
        "the bundle's dockerd is left running: {live:?}"
    );
}
