//! Helpers shared by the integration tests: run the real `shakedown` binary with a private state
//! directory, write scenario files, read the JSON report.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

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

/// `shakedown run FILE` in the background, its output discarded.
pub fn spawn_run(state: &Path, file: &Path) -> std::process::Child {
    shakedown(state)
        .arg("run")
        .arg(file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Starts `shakedown run` on a scenario that keeps a container running for a minute, and waits until
/// that container exists on the managed daemon.
#[allow(clippy::zombie_processes)] // the callers wait for it
pub fn start_long_run(state: &Path, dir: &Path) -> std::process::Child {
    let f = scenario(
        dir,
        "long",
        "name: long\ncontainers:\n  sleeper:\n    command: [sleep, \"600\"]\nsteps:\n  - action: {start: {container: sleeper}}\n  - action: {sleep: {duration: 60s}}\n",
    );
    let mut child = spawn_run(state, &f);
    let started = Instant::now();
    loop {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no container appeared within 120 s");
        }
        let running = std::fs::read_dir(state.join("managed"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|d| {
                let sock = d.path().join("docker.sock");
                sock.exists()
                    && std::process::Command::new("docker")
                        .arg("-H")
                        .arg(format!("unix://{}", sock.display()))
                        .args([
                            "ps",
                            "-q",
                            "--filter",
                            "label=io.shakedown.container=sleeper",
                        ])
                        .output()
                        .map(|o| !o.stdout.is_empty())
                        .unwrap_or(false)
            });
        if running {
            return child;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
