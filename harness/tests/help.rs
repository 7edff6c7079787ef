//! `--help` and the manual page: examples, the exit codes as the code decides them, and every
//! environment variable the sources read — found here by reading the sources, not the help.

mod common;

use common::{shakedown, text};

/// Environment variables the harness's sources read (`env::var`, `var_os`, clap's `env = "…"`),
/// except the build's own (cargo's, the build scripts').
fn variables_read() -> Vec<String> {
    let mut found = std::collections::BTreeSet::new();
    let harness = common::repo().join("harness");
    let mut dirs = vec![harness.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !["target", "tests", "fixture"].contains(&name.as_str()) {
                    dirs.push(p);
                }
                continue;
            }
            if !name.ends_with(".rs") || name == "build.rs" {
                continue;
            }
            let src = std::fs::read_to_string(&p).unwrap();
            for pat in ["var(\"", "var_os(\"", "env = \""] {
                for (i, _) in src.match_indices(pat) {
                    let rest = &src[i + pat.len()..];
                    let var: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                        .collect();
                    if !var.is_empty() && !var.starts_with("CARGO") {
                        found.insert(var);
                    }
                }
            }
        }
    }
    found.into_iter().collect()
}

#[test]
fn help_and_the_manual_page_list_examples_exit_codes_and_the_environment() {
    let state = tempfile::tempdir().unwrap();
    let long = shakedown(state.path()).arg("--help").output().unwrap();
    assert_eq!(long.status.code(), Some(0), "{}", text(&long));
    let long = String::from_utf8_lossy(&long.stdout).into_owned();
    let man = shakedown(state.path()).arg("man").output().unwrap();
    assert_eq!(man.status.code(), Some(0), "{}", text(&man));
    let man = String::from_utf8_lossy(&man.stdout).replace("\\-", "-");
    assert!(
        man.starts_with(".ie") || man.contains(".TH shakedown 1"),
        "{man}"
    );
    let vars = variables_read();
    for v in ["SHAKEDOWN_STATE_DIR", "SHAKEDOWN_VM_ACCEL", "DOCKER_HOST"] {
        assert!(
            vars.contains(&v.to_string()),
            "the scan missed {v}: {vars:?}"
        );
    }
    for page in [&long, &man] {
        assert!(
            page.contains("Examples:") && page.contains("shakedown run"),
            "{page}"
        );
        for code in ["0 ", "1 ", "2 ", "3 ", "130", "143"] {
            assert!(
                page.lines().any(|l| l.trim_start().starts_with(code)),
                "exit code {code} missing:\n{page}"
            );
        }
        for v in vars.iter().chain(&["RUST_LOG".to_string()]) {
            assert!(page.contains(v.as_str()), "{v} is not listed:\n{page}");
        }
    }
    // The exit codes documented are the ones the commands give: 2 for a bad flag, 3 for a
    // target that cannot be reached.
    let bad = shakedown(state.path())
        .args(["run", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let unreachable = shakedown(state.path())
        .args(["run", "--target", "ssh://root@127.0.0.1:1"])
        .args(["--ssh-option", "ConnectTimeout=5"])
        .arg(common::builtin().join("pid1-sigterm.yaml"))
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(3), "{}", text(&unreachable));
    // `run --help` has its own examples, and the exit codes.
    let run = shakedown(state.path())
        .args(["run", "--help"])
        .output()
        .unwrap();
    let run = String::from_utf8_lossy(&run.stdout);
    assert!(run.contains("--progress lines"), "{run}");
    assert!(run.contains("Exit codes:"), "{run}");
}
