//! The flow cannot be reversed: what judges and reports (the record, the fold, verdicts,
//! expectations and their checks, reports) uses nothing that acts on Docker or the host,
//! expectations are types that judge nothing, and actions reach the run only through their API
//! (`ctx`), never the runner.

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
        "check",
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
fn expectation_types_do_not_judge() {
    for (file, text) in sources("expect") {
        for m in ["verdict", "check"] {
            assert!(!uses(&text, m), "{file} uses crate::{m}");
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
