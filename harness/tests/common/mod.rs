//! Helpers shared by the integration tests: run the real `shakedown` binary with a private state
//! directory, write scenario files, read the JSON report.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built-in scenarios directory.
pub fn builtin() -> PathBuf {
    repo().join("scenarios")
}

/// A `shakedown` command with its own state directory (so parallel tests never sweep each other's
/// managed daemons).
pub fn shakedown(state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shakedown"));
    c.env("SHAKEDOWN_STATE_DIR", state);
    c.env_remove("RUST_LOG");
    c
}

/// Writes a scenario file into `dir`.
pub fn scenario(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, yaml).unwrap();
    p
}

/// Output as text, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Reads a JSON report.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The checks of a scenario's verdict in a JSON report.
pub fn checks<'a>(report: &'a serde_json::Value, scenario: &str) -> Vec<&'a serde_json::Value> {
    report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == scenario)
        .unwrap_or_else(|| panic!("no verdict for {scenario}"))["checks"]
        .as_array()
        .unwrap()
        .iter()
        .collect()
}

/// Names of every network interface on the host, read from /sys/class/net (an oracle independent
/// of the harness's own leak detector).
pub fn interfaces() -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Mount points under a directory.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&dir))
        .collect()
}

/// Pids of processes whose command line mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(needle)
            {
                out.push(pid);
            }
        }
    }
    out
}
