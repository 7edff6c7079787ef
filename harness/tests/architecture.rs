//! The flow cannot be reversed. The crate graph itself (read from `cargo metadata`) is checked
//! against the layers: each crate may depend only on the crates listed for it, so what judges and
//! reports uses nothing that acts on Docker or the host, nothing below the binary calls a
//! reporter, and only `shakedown-docker` depends on bollard. Within the crates: expectations are
//! types that judge nothing, actions reach the run only through their API (`ctx`), never the
//! runner, and their arguments are data that runs nothing; nothing but the docker crate sends a
//! `/_ping` by hand; VMs sit below `remote::host`, which boots them; no crate's modules form a
//! cycle, and no source file is over 700 lines.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, for failure messages.
const LAYERS: &str = "the crates depend one way: model (the vocabulary, no I/O) ← judge (fold, \
     checks, verdicts, comparison: pure) ← journal (the writer); host (bounded host work) and \
     docker (the only API client) ← ledger (undo) ← engine (daemons, engines, images) ← run \
     (sessions, steps, actions) ← remote (SSH, Vagrant, VMs); report (reporters) uses only \
     model, judge and journal; the shakedown binary (cli, qualify) sits on top; see ARCHITECTURE.md";

/// Each workspace crate and the workspace crates it may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("shakedown-model", &[]),
    ("shakedown-judge", &["shakedown-model"]),
    ("shakedown-version", &[]),
    ("shakedown-host", &["shakedown-model"]),
    ("shakedown-docker", &["shakedown-model"]),
    ("shakedown-journal", &["shakedown-model", "shakedown-judge"]),
    (
        "shakedown-ledger",
        &[
            "shakedown-model",
            "shakedown-journal",
            "shakedown-host",
            "shakedown-docker",
        ],
    ),
    (
        "shakedown-engine",
        &[
            "shakedown-model",
            "shakedown-journal",
            "shakedown-host",
            "shakedown-docker",
            "shakedown-ledger",
        ],
    ),
    (
        "shakedown-report",
        &[
            "shakedown-model",
            "shakedown-judge",
            "shakedown-journal",
            "shakedown-version",
        ],
    ),
    (
        "shakedown-run",
        &[
            "shakedown-model",
            "shakedown-judge",
            "shakedown-version",
            "shakedown-journal",
            "shakedown-host",
            "shakedown-docker",
            "shakedown-ledger",
            "shakedown-engine",
        ],
    ),
    (
        "shakedown-remote",
        &[
            "shakedown-model",
            "shakedown-judge",
            "shakedown-version",
            "shakedown-journal",
            "shakedown-host",
            "shakedown-docker",
            "shakedown-ledger",
            "shakedown-engine",
            "shakedown-run",
        ],
    ),
    (
        "shakedown",
        &[
            "shakedown-model",
            "shakedown-judge",
            "shakedown-version",
            "shakedown-journal",
            "shakedown-host",
            "shakedown-docker",
            "shakedown-ledger",
            "shakedown-engine",
            "shakedown-run",
            "shakedown-remote",
            "shakedown-report",
        ],
    ),
];

/// The crates' directories under `harness/` (the `shakedown` package is `harness/` itself).
fn crate_dirs() -> Vec<&'static str> {
    vec![
        "model", "judge", "version", "host", "docker", "journal", "ledger", "engine", "report",
        "run", "remote", "",
    ]
}

/// The sources of the crate under `harness/<dir>` (`src` for the `shakedown` package itself).
fn src_of(dir: &str) -> String {
    if dir.is_empty() {
        "src".into()
    } else {
        format!("{dir}/src")
    }
}

/// Every `.rs` file under `harness/<rel>` (a file or a directory, recursively).
fn tree(rel: &str) -> Vec<(String, String)> {
    fn walk(p: &Path, out: &mut Vec<(String, String)>) {
        if p.is_dir() {
            for e in std::fs::read_dir(p).unwrap().flatten() {
                walk(&e.path(), out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push((p.display().to_string(), std::fs::read_to_string(p).unwrap()));
        }
    }
    let mut out = Vec::new();
    walk(&common::repo().join("harness").join(rel), &mut out);
    out.sort();
    out
}

/// Whether `text` names `crate::module` (as a path, an import, or in a `crate::{…}` group).
fn uses(text: &str, module: &str) -> bool {
    text.contains(&format!("crate::{module}::"))
        || text.contains(&format!("crate::{module};"))
        || text.contains(&format!("crate::{{{module}"))
}

/// A file's code without its `#[cfg(test)] mod tests` (tests may read what they check).
fn code(text: &str) -> &str {
    text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text)
}

/// A file's code: without comments and its `#[cfg(test)] mod tests`.
fn code_only(text: &str) -> String {
    code(text)
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The workspace's packages and, for each, the packages it depends on (normal dependencies, by
/// package name, workspace or not), from `cargo metadata`: the crate graph itself, not the
/// code's text.
fn workspace_graph() -> Vec<(String, Vec<String>)> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(common::repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

/// Each crate depends only on the crates its layer allows, so that a reversed arrow does not
/// compile; and the allowances themselves form no circle.
#[test]
fn the_crates_depend_one_way() {
    let graph = workspace_graph();
    assert_eq!(graph.len(), ALLOWED.len(), "packages: {graph:?}: {LAYERS}");
    for (name, deps) in &graph {
        let Some((_, allowed)) = ALLOWED.iter().find(|(n, _)| n == name) else {
            panic!("package {name} is not placed in the layers: {LAYERS}");
        };
        for d in deps.iter().filter(|d| d.starts_with("shakedown")) {
            assert!(
                allowed.contains(&d.as_str()),
                "{name} depends on {d}, which its layer does not allow: {LAYERS}"
            );
        }
    }
    // The allowances are a layering: each crate's allowed crates come before it in ALLOWED.
    for (i, (name, allowed)) in ALLOWED.iter().enumerate() {
        for a in *allowed {
            let j = ALLOWED.iter().position(|(n, _)| n == a).unwrap();
            assert!(j < i, "{name} may use {a}, which is not below it");
        }
    }
}

/// What judges and reports acts on nothing: neither the judge nor the reporters may depend on a
/// crate that touches Docker, the host or the run.
#[test]
fn judging_and_reporting_touch_neither_docker_nor_the_host() {
    let graph = workspace_graph();
    let acting = [
        "shakedown-host",
        "shakedown-docker",
        "shakedown-ledger",
        "shakedown-engine",
        "shakedown-run",
        "shakedown-remote",
        "bollard",
        "nix",
        "libc",
        "tokio",
    ];
    for name in ["shakedown-judge", "shakedown-report"] {
        let deps = &graph.iter().find(|(n, _)| n == name).unwrap().1;
        for a in acting {
            assert!(
                !deps.iter().any(|d| d == a),
                "{name} depends on {a}: {LAYERS}"
            );
        }
    }
}

/// Reporters consume the run's one stream of journal entries: the runner, the session and the
/// remote side only emit entries, and the binary subscribes the reporters. Only the binary
/// depends on the report crate, and only the report crate on the terminal and JUnit libraries.
#[test]
fn nothing_below_the_binary_calls_a_reporter() {
    only_these_depend_on(
        "shakedown-report",
        &["shakedown"],
        "below the binary, emit journal entries and let the binary subscribe reporters",
    );
    for lib in ["indicatif", "quick-junit"] {
        only_these_depend_on(
            lib,
            &["shakedown-report"],
            "reporting is the report crate's",
        );
    }
}

/// Checks that no package but `users` depends on `dep` (a normal dependency).
fn only_these_depend_on(dep: &str, users: &[&str], why: &str) {
    for (name, deps) in workspace_graph() {
        assert!(
            users.contains(&name.as_str()) || !deps.iter().any(|d| d == dep),
            "{name} depends on {dep}: {why}: {LAYERS}"
        );
    }
}

/// The Docker API has one door: the docker crate (the API through bollard, every call with a
/// deadline, and the raw ping while no client can be built).
#[test]
fn only_docker_speaks_to_the_daemon() {
    only_these_depend_on(
        "bollard",
        &["shakedown-docker"],
        "only the docker crate speaks to the daemon",
    );
    let mut seen = 0;
    for dir in crate_dirs().into_iter().filter(|d| *d != "docker") {
        let files = tree(&src_of(dir));
        seen += files.len();
        for (file, text) in files {
            for word in ["bollard::", "use bollard", "GET /_ping"] {
                assert!(
                    !text.contains(word),
                    "{file} has `{word}`: only the docker crate speaks to the daemon (its API \
                     through bollard, and the raw ping); call docker:: instead"
                );
            }
        }
    }
    assert!(seen > 100, "{seen} files");
}

#[test]
fn expectation_types_do_not_judge() {
    for (file, text) in tree("model/src/expect") {
        for word in ["judge::", "verdict", "check::"] {
            assert!(!code_only(&text).contains(word), "{file} names {word}");
        }
    }
}

#[test]
fn actions_see_their_api_not_the_runner() {
    let files: Vec<_> = tree("model/src/action")
        .into_iter()
        .chain(tree("run/src/execute"))
        .chain(tree("run/src/ctx.rs"))
        .collect();
    assert!(files.len() > 60, "{} files", files.len());
    for (file, text) in files {
        assert!(!uses(&text, "runner"), "{file} uses the runner");
        assert!(!text.contains("run::runner"), "{file} uses the runner");
    }
}

/// An action's arguments are data: what they say, how they are checked and their default deadline
/// need nothing that runs. How an action runs is in `run::execute`.
#[test]
fn action_arguments_are_pure() {
    let files = tree("model/src/action");
    assert!(
        files.len() > 30,
        "only {} files in model/src/action",
        files.len()
    );
    for (file, text) in files {
        for word in [
            "tokio",
            "nix::",
            "bollard",
            "Ctx",
            "crate::journal",
            "execute",
        ] {
            assert!(!code_only(&text).contains(word), "{file} mentions {word}");
        }
    }
}

/// Checks that the crate under `harness/<dir>` depends on nothing but `allowed` and that no file
/// of it mentions one of `words`.
fn assert_crate_limited_to(dir: &str, allowed: &[&str], words: &[&str], at_least: usize) {
    let manifest =
        std::fs::read_to_string(common::repo().join("harness").join(dir).join("Cargo.toml"))
            .unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for line in deps
        .lines()
        .filter(|l| l.contains('=') && !l.starts_with('#'))
    {
        let name = line.split('=').next().unwrap().trim();
        assert!(allowed.contains(&name), "{dir} depends on {name}: {LAYERS}");
    }
    let files = tree(&format!("{dir}/src"));
    assert!(
        files.len() >= at_least,
        "{} files in {dir}/src",
        files.len()
    );
    for (file, text) in &files {
        for word in words {
            assert!(!text.contains(word), "{file} mentions {word}: {LAYERS}");
        }
    }
}

/// The model is the vocabulary every layer shares: it reads no file, starts no process, opens no
/// socket and knows no runtime or Docker client.
#[test]
fn the_model_does_no_io() {
    assert_crate_limited_to(
        "model",
        &[
            "chrono",
            "miette",
            "schemars",
            "serde",
            "serde-saphyr",
            "serde_json",
            "thiserror",
        ],
        &[
            "tokio",
            "bollard",
            "nix::",
            "libc::",
            "std::fs",
            "std::process",
            "std::net",
            "std::thread",
        ],
        40,
    );
}

/// The judge reads journals and nothing else: no runtime, no Docker client, no process, no
/// socket — the same code judges a live run, a saved journal and a remote run's.
#[test]
fn the_judge_touches_neither_docker_nor_the_host() {
    assert_crate_limited_to(
        "judge",
        &["model", "schemars", "serde", "serde_json"],
        &[
            "tokio",
            "bollard",
            "nix::",
            "libc::",
            "std::process",
            "std::net",
            "std::thread",
        ],
        15,
    );
}

/// VMs are one kind of host that `remote` runs on: `remote::host` boots them, and the vm module
/// reaches a booted VM through the SSH client below both (`crate::ssh`), never back through the
/// rest of the remote crate, so the imports run one way (ssh ← vm ← remote).
#[test]
fn vm_does_not_reach_back_into_remote() {
    let files = tree("remote/src/vm");
    assert!(files.len() >= 4, "{} files in remote/src/vm", files.len());
    for (file, text) in &files {
        for path in crate_paths(&code_only(text)) {
            assert!(
                path == "vm" || path == "ssh",
                "{file} uses crate::{path}: remote::host boots VMs, so vm uses only crate::ssh \
                 below it (the imports run ssh ← vm ← remote)"
            );
        }
    }
    let (file, text) = &tree("remote/src/ssh.rs")[0];
    for path in crate_paths(&code_only(text)) {
        assert!(
            path == "ssh",
            "{file} uses crate::{path}: the SSH client is below both remote and vm"
        );
    }
}

/// The first segment of every `crate::x` path in `code`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(i, _)| {
            code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .collect()
}

/// A crate's top-level modules and, for each, the others its code names (`crate::x`).
fn module_graph(dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = src_of(dir);
    let root = common::repo().join("harness").join(&src);
    let modules: BTreeSet<String> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| {
            e.file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph: BTreeMap<_, BTreeSet<_>> = modules
        .iter()
        .map(|m| (m.clone(), Default::default()))
        .collect();
    for (file, text) in tree(&src) {
        let rel = file
            .strip_prefix(&root.display().to_string())
            .unwrap()
            .trim_start_matches('/');
        let top = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if !modules.contains(&top) {
            continue;
        }
        for m in crate_paths(&code_only(&text)) {
            if m != top && modules.contains(&m) {
                graph.get_mut(&top).unwrap().insert(m);
            }
        }
    }
    graph
}

/// No two modules of a crate reach each other, directly or around a circle: each layer uses only
/// what is below it, inside the crates as between them.
#[test]
fn no_module_cycle() {
    let mut modules = 0;
    for dir in crate_dirs() {
        let graph = module_graph(dir);
        modules += graph.len();
        // Depth-first search for a back edge; the path shows the circle.
        fn visit(
            m: &str,
            graph: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) {
            if done.contains(m) {
                return;
            }
            if let Some(i) = path.iter().position(|p| p == m) {
                panic!("module cycle: {} → {m}: {LAYERS}", path[i..].join(" → "));
            }
            path.push(m.to_string());
            for n in &graph[m] {
                visit(n, graph, path, done);
            }
            path.pop();
            done.insert(m.to_string());
        }
        let mut done = Default::default();
        for m in graph.keys() {
            visit(m, &graph, &mut vec![], &mut done);
        }
    }
    assert!(modules > 50, "{modules} modules");
}

/// Every source file stays readable in one sitting.
#[test]
fn no_source_file_over_700_lines() {
    for dir in crate_dirs() {
        for (file, text) in tree(&src_of(dir)) {
            let n = text.lines().count();
            assert!(n <= 700, "{file} has {n} lines: split it by concern");
        }
    }
}
