//! The flow cannot be reversed: what judges and reports (the record, the fold, verdicts,
//! expectations, reports) uses nothing that acts on Docker or the host, and actions reach the
//! run only through their API (`ctx`), never the runner. Only the docker module speaks to the
//! daemon: nothing else names bollard or sends a `/_ping` by hand.

mod common;

use std::path::Path;

fn sources(rel: &str) -> Vec<(String, String)> {
    let path = common::repo().join("harness/src").join(rel);
    if path.is_dir() {
        std::fs::read_dir(&path)
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
            .map(|e| {
                (
                    e.path().display().to_string(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect()
    } else {
        vec![(
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        )]
    }
}

fn uses(text: &str, module: &str) -> bool {
    text.contains(&format!("crate::{module}::"))
        || text.contains(&format!("crate::{module};"))
        || text.contains(&format!("crate::{{{module}"))
}

#[test]
fn judging_and_reporting_touch_neither_docker_nor_the_host() {
    let acting = [
        "docker",
        "runner",
        "target",
        "ledger",
        "ctx",
        "action",
        "clean",
        "net",
        "leaks",
        "proc",
        "forensics",
        "fixture",
        "cli",
        "session",
        "engines",
        "signal",
        "vm",
        "remote",
    ];
    for rel in [
        "record.rs",
        "verdict.rs",
        "expect",
        "report",
        "journal/fold.rs",
        "journal/read.rs",
        "qualify/compare.rs",
        "stats.rs",
    ] {
        for (file, text) in sources(rel) {
            for m in acting {
                assert!(!uses(&text, m), "{file} uses crate::{m}");
            }
            // The host module only for its data types.
            assert!(
                !uses(&text, "host") || text.contains("host::NetnsId"),
                "{file} uses crate::host"
            );
        }
    }
}

#[test]
fn actions_see_their_api_not_the_runner() {
    for (file, text) in sources("action") {
        assert!(!uses(&text, "runner"), "{file} uses the runner");
    }
    for (file, text) in sources("ctx.rs") {
        assert!(!uses(&text, "runner"), "{file} uses the runner");
    }
    assert!(Path::new(&common::repo().join("harness/src/ctx.rs")).exists());
}

/// Every `.rs` file under `dir`, at any depth.
fn all_sources(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(all_sources(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn only_docker_speaks_to_the_daemon() {
    let src = common::repo().join("harness/src");
    let door = [src.join("docker.rs"), src.join("docker")];
    let files = all_sources(&src);
    assert!(files.iter().any(|f| f.starts_with(&door[1])));
    for file in files {
        if door.iter().any(|d| file.starts_with(d)) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for word in ["bollard::", "use bollard", "GET /_ping"] {
            assert!(
                !text.contains(word),
                "{} has `{word}`: only the docker module speaks to the daemon \
                 (its API through bollard, and the raw ping); call crate::docker instead",
                file.display()
            );
        }
    }
}
