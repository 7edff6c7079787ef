//! The flow cannot be reversed: what judges and reports (the record, the fold, verdicts,
//! expectations and their checks, reports) uses nothing that acts on Docker or the host,
//! expectations are types that judge nothing, actions reach the run only through their API
//! (`ctx`), never the runner, and their arguments are data that runs nothing. Only the docker
//! module speaks to the daemon: nothing else names bollard or sends a `/_ping` by hand. VMs sit
//! below `remote`, which boots them: the vm module never reaches back into it. The crate graph
//! itself is read from `cargo metadata`.

mod common;

use std::path::Path;

fn sources(rel: &str) -> Vec<(String, String)> {
    let path = common::repo().join("harness").join(rel);
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
        "engine",
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
        "signal",
        "vm",
        "remote",
        "ssh",
    ];
    for rel in [
        "model/src/record.rs",
        "judge/src",
        "model/src/expect",
        "judge/src/check",
        "src/report",
        "judge/src/journal",
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
    for (file, text) in sources("model/src/expect") {
        for m in ["verdict", "check"] {
            assert!(!uses(&text, m), "{file} uses crate::{m}");
        }
    }
}

#[test]
fn actions_see_their_api_not_the_runner() {
    for (file, text) in sources("model/src/action")
        .into_iter()
        .chain(sources("src/execute"))
    {
        assert!(!uses(&text, "runner"), "{file} uses the runner");
    }
    for (file, text) in sources("src/ctx.rs") {
        assert!(!uses(&text, "runner"), "{file} uses the runner");
    }
    assert!(Path::new(&common::repo().join("harness/src/ctx.rs")).exists());
}

/// Every `.rs` file under `harness/src/<rel>`, recursively.
fn tree(rel: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(&common::repo().join("harness").join(rel), &mut out);
    out
}

/// A file's code without its `#[cfg(test)] mod tests` (tests may read what they check).
fn code(text: &str) -> &str {
    text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text)
}

/// Reporters consume the run's one stream of journal entries: the runner, the session and the
/// remote side only emit entries, and the binary (`cli`) subscribes the reporters.
#[test]
fn nothing_below_the_binary_calls_a_reporter() {
    let files = tree("src");
    assert!(files.len() > 50, "{} files", files.len());
    for (file, text) in &files {
        let allowed = file.contains("/src/report/")
            || file.ends_with("/src/cli.rs")
            || file.contains("/src/cli/")
            || file.ends_with("/src/main.rs");
        if !allowed {
            assert!(
                !uses(code(text), "report"),
                "{file} calls a reporter: layers are model → judge → run/remote → report → cli; \
                 below the binary, emit journal entries and let the binary subscribe reporters"
            );
        }
    }
}

/// An action's arguments are data: what they say, how they are checked and their default deadline
/// need nothing that runs. How an action runs is in `execute`.
#[test]
fn action_arguments_are_pure() {
    let running = [
        "ctx",
        "docker",
        "runner",
        "engine",
        "ledger",
        "host",
        "proc",
        "net",
        "leaks",
        "forensics",
        "fixture",
        "clean",
        "session",
        "vm",
        "remote",
        "ssh",
        "journal",
        "execute",
    ];
    let files = sources("model/src/action");
    assert!(files.len() > 30, "only {} files in src/action", files.len());
    for (file, text) in files {
        for m in running {
            assert!(!uses(&text, m), "{file} uses crate::{m}");
        }
        for word in ["tokio", "nix::", "bollard", "Ctx"] {
            assert!(!text.contains(word), "{file} mentions {word}");
        }
    }
}

/// The layers, for failure messages.
const LAYERS: &str = "the crates depend one way: shakedown-model (the vocabulary, no I/O) ← \
     shakedown-judge (fold, checks, verdicts, comparison: pure) ← shakedown (docker, host, engine, \
     run, remote, reports, cli); see ARCHITECTURE.md";

/// The workspace's packages and, for each, the workspace packages it depends on (normal
/// dependencies), from `cargo metadata`: the crate graph itself, not the code's text.
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
    let packages = meta["packages"].as_array().unwrap();
    let names: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null() && names.contains(&d["name"].as_str().unwrap()))
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn the_crates_depend_one_way() {
    let graph = workspace_graph();
    let deps = |name: &str| -> Vec<String> {
        graph
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no package {name}: {LAYERS}"))
            .1
            .clone()
    };
    assert!(
        deps("shakedown-model").is_empty(),
        "shakedown-model depends on {:?}: {LAYERS}",
        deps("shakedown-model")
    );
    // Each crate may use only the crates below it; the order is the layering.
    let order = ["shakedown-model", "shakedown-judge", "shakedown"];
    for (name, ds) in &graph {
        let Some(level) = order.iter().position(|o| o == name) else {
            panic!("package {name} is not placed in the layers: {LAYERS}");
        };
        for d in ds {
            let below = order.iter().position(|o| o == d).is_some_and(|l| l < level);
            assert!(
                below,
                "{name} depends on {d}, which is not below it: {LAYERS}"
            );
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
    for line in deps.lines().filter(|l| l.contains('=')) {
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

/// The Docker API has one door: the docker module (the API through bollard, every call with a
/// deadline, and the raw ping while no client can be built).
#[test]
fn only_docker_speaks_to_the_daemon() {
    let files = tree("src");
    assert!(files.iter().any(|(f, _)| f.contains("/src/docker/")));
    for (file, text) in &files {
        if file.contains("/src/docker/") || file.ends_with("/src/docker.rs") {
            continue;
        }
        for word in ["bollard::", "use bollard", "GET /_ping"] {
            assert!(
                !text.contains(word),
                "{file} has `{word}`: only the docker module speaks to the daemon \
                 (its API through bollard, and the raw ping); call crate::docker instead"
            );
        }
    }
}

/// The judge reads journals and nothing else: no runtime, no Docker client, no process, no
/// socket — the same code judges a live run, a saved journal and a remote run's.
#[test]
fn the_judge_touches_neither_docker_nor_the_host() {
    assert_crate_limited_to(
        "judge",
        &["model", "serde", "serde_json"],
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
/// reaches a booted VM through the SSH client below both (`crate::ssh`), never back through
/// `remote`, so the imports run one way (ssh ← vm ← remote).
#[test]
fn vm_does_not_reach_back_into_remote() {
    let files = tree("src/vm");
    assert!(files.len() >= 4, "{} files in src/vm", files.len());
    for (file, text) in &files {
        assert!(
            !uses(text, "remote::host"),
            "{file} uses crate::remote::host: remote::host boots VMs, so vm must not use it \
             (put what both need below them, in crate::ssh or vm)"
        );
        assert!(
            !uses(text, "remote"),
            "{file} uses crate::remote: the imports run ssh ← vm ← remote"
        );
    }
    let (file, text) = &sources("src/ssh.rs")[0];
    for m in ["remote", "vm"] {
        assert!(
            !uses(text, m),
            "{file} uses crate::{m}: the SSH client is below both remote and vm"
        );
    }
}

/// A file's code: without comments and its `#[cfg(test)] mod tests`.
fn code_only(text: &str) -> String {
    code(text)
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The main crate's top-level modules and, for each, the others its code names (`crate::x`).
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let src = common::repo().join("harness/src");
    let modules: std::collections::BTreeSet<String> = std::fs::read_dir(&src)
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
    let mut graph: std::collections::BTreeMap<_, std::collections::BTreeSet<_>> = modules
        .iter()
        .map(|m| (m.clone(), Default::default()))
        .collect();
    for (file, text) in tree("src") {
        let rel = file.rsplit("/src/").next().unwrap();
        let top = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if !modules.contains(&top) {
            continue;
        }
        let code = code_only(&text);
        for m in &modules {
            if m != &top && (uses(&code, m) || code.contains(&format!("crate::{m}::{{"))) {
                graph.get_mut(&top).unwrap().insert(m.clone());
            }
        }
    }
    graph
}

/// No two modules of the main crate reach each other, directly or around a circle: each layer
/// uses only what is below it.
#[test]
fn no_module_cycle() {
    let graph = module_graph();
    assert!(graph.len() > 20, "{} modules", graph.len());
    // Depth-first search for a back edge; the path shows the circle.
    fn visit(
        m: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
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

/// Every source file stays readable in one sitting.
#[test]
fn no_source_file_over_700_lines() {
    for dir in ["src", "model/src", "judge/src"] {
        for (file, text) in tree(dir) {
            let n = text.lines().count();
            assert!(n <= 700, "{file} has {n} lines: split it by concern");
        }
    }
}
