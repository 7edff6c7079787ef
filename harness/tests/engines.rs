//! Engines on demand, for real: Debian's docker.io fetched with apt into a private cache (network
//! to deb.debian.org), run as a managed daemon, compared with another engine by `qualify`, and
//! removed again. A version Debian does not have is refused before anything runs.

mod common;

use common::{assert_plots_rendered, builtin, json, shakedown, text};

#[test]
fn a_version_debian_does_not_have_is_refused_naming_those_it_has() {
    let state = tempfile::tempdir().unwrap();
    let out = shakedown(state.path())
        .args(["engines", "fetch", "0.0.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no docker.io 0.0.1"), "{err}");
    assert!(err.contains("20.10.24 (bookworm)"), "{err}");
    // The cache is root-only: what the harness made there is 0700 and 0600 (apt, which runs as
    // root there, writes its lists inside).
    {
        use std::os::unix::fs::PermissionsExt;
        let apt = state.path().join("engines/apt");
        for (p, want) in [
            (state.path().join("engines"), 0o700),
            (apt.clone(), 0o700),
            (apt.join("lists"), 0o700),
            (apt.join("cache"), 0o700),
            (apt.join("sources.list"), 0o600),
            (apt.join("status"), 0o600),
        ] {
            let m = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
            assert_eq!(m, want, "{}", p.display());
        }
    }
    // `run --engine` says the same before any daemon starts.
    let out = shakedown(state.path())
        .args(["run", "--engine", "0.0.1"])
        .arg(builtin().join("pid1-sigterm.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no docker.io 0.0.1"));
    assert!(!state.path().join("runs").exists(), "something ran");
    assert!(!state.path().join("managed").exists(), "a daemon started");
}

#[test]
fn fetch_then_qualify_one_engine_against_another() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = shakedown(state.path())
        .args(["engines", "fetch", "28.5.2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let root = state.path().join("engines/28.5.2/root");
    // The fetched dockerd is Debian's 28.5.2, unpacked privately, not installed.
    let v = std::process::Command::new(root.join("usr/sbin/dockerd"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("28.5.2"),
        "{v:?}"
    );
    let list = shakedown(state.path())
        .args(["engines", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("28.5.2") && l.contains("fetched")),
        "{listed}"
    );

    // The baseline is fetched on demand; both sides run the PID-1 scenario three times.
    let out = shakedown(state.path())
        .args([
            "qualify",
            "--baseline",
            "engine=20.10.24",
            "--candidate",
            "engine=28.5.2",
        ])
        .arg(builtin().join("pid1-sigterm.yaml"))
        .args(["--repeat", "3", "--out"])
        .arg(dir.path().join("runs"))
        .arg("--json")
        .arg(dir.path().join("q.json"))
        .arg("--html")
        .arg(dir.path().join("q.html"))
        .output()
        .unwrap();
    let r = json(&dir.path().join("q.json"));
    let kind = r["comparison"]["scenarios"][0]["kind"]
        .as_str()
        .unwrap()
        .to_string();
    // Exit 1 exactly when the comparison says the candidate does not qualify.
    let fails = matches!(kind.as_str(), "regression" | "broken" | "unknown");
    assert_eq!(out.status.code(), Some(i32::from(fails)), "{}", text(&out));
    assert_eq!(
        r["comparison"]["scenarios"][0]["baseline"]["outcome"], "pass",
        "{r:#}"
    );
    assert_eq!(
        r["comparison"]["scenarios"][0]["candidate"]["outcome"], "pass",
        "{r:#}"
    );
    let engine = |side: &str| {
        r["comparison"][side]["fingerprint"]["engine_version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(engine("baseline").starts_with("20.10.24"), "{r:#}");
    assert!(engine("candidate").starts_with("28.5.2"), "{r:#}");
    assert_eq!(r["comparison"]["baseline"]["rounds"], 3);
    assert_eq!(r["comparison"]["candidate"]["rounds"], 3);
    let (dom, _) = assert_plots_rendered(&dir.path().join("q.html"));
    assert!(dom.contains("28.5.2") && dom.contains("20.10.24"));

    for v in ["28.5.2", "20.10.24"] {
        let out = shakedown(state.path())
            .args(["engines", "rm", v])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(!state.path().join("engines").join(v).exists());
    }
}
