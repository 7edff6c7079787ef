//! Helpers shared by the integration tests: run the real `shakedown` binary with a private state
//! directory, write scenario files, read the JSON report.
#![allow(dead_code)]

pub mod http;
pub mod sshd;

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

/// A scenario named `name` that fails, quickly and for sure, with no container: a 200 ms sleep
/// whose duration is bound to at most 1 ms.
pub fn failing_scenario(dir: &Path, name: &str) -> PathBuf {
    scenario(
        dir,
        name,
        &format!("name: {name}\nsteps:\n  - action: {{sleep: {{duration: 200ms}}}}\n    expect: {{measures: {{duration: {{max: 1ms}}}}}}\n"),
    )
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

/// Reads a JSON report, or null when none was written.
pub fn json_or_null(path: &Path) -> serde_json::Value {
    if path.exists() {
        json(path)
    } else {
        serde_json::Value::Null
    }
}

/// Reads a JSON report.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The checks of a scenario's verdict in a JSON report.
pub fn checks<'a>(report: &'a serde_json::Value, scenario: &str) -> Vec<&'a serde_json::Value> {
    report["targets"][0]["verdicts"]
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

/// What Docker makes in a managed daemon's directory `managed/ID/`: its data-root, exec-root and
/// socket directories (Docker sets their modes itself; 0710 for the data-root) and its pid file.
/// The directory itself is the harness's and 0700, so nothing in it is reachable by others.
fn dockers(rel: &Path) -> bool {
    let c: Vec<_> = rel.components().map(|c| c.as_os_str()).collect();
    c.len() >= 3
        && c[0] == "managed"
        && (["data", "exec", "sock"].iter().any(|d| c[2] == *d) || c[2] == "docker.pid")
}

/// Every path under the state directory `state` (and `state` itself) that group or others may
/// read, write or search, with its mode; anything but directories and regular files counts too.
/// Symbolic links (their targets are checked where they are) and what Docker makes in a managed
/// daemon's directory are skipped, and so are paths that go away while they are walked (a run may
/// be removing them).
pub fn exposed(state: &Path) -> Vec<String> {
    fn walk(state: &Path, p: &Path, out: &mut Vec<String>) {
        let rel = p.strip_prefix(state).unwrap();
        if dockers(rel) {
            return;
        }
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            return;
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            return;
        }
        let m = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
        if m & 0o077 != 0 || !(ft.is_dir() || ft.is_file()) {
            out.push(format!("{} {m:o}", p.display()));
        }
        if ft.is_dir() {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                walk(state, &e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(state, state, &mut out);
    out
}

/// The directory of a managed daemon a run in `state` started, once its API socket is there.
pub fn managed_dir(state: &Path) -> Option<PathBuf> {
    std::fs::read_dir(state.join("managed"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|d| d.join("docker.sock").exists())
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

/// What the harness may change on a host, read directly from the kernel's views (never through the
/// harness): interfaces, mount points, the root namespace's iptables rules and root qdiscs, pinned
/// namespaces, and the live engine processes (dockerd, containerd, shims, docker-proxy).
#[derive(Debug, PartialEq, Eq)]
pub struct HostState {
    pub interfaces: std::collections::BTreeSet<String>,
    pub mounts: std::collections::BTreeSet<String>,
    pub iptables: Vec<String>,
    pub qdiscs: Vec<String>,
    pub pins: std::collections::BTreeSet<String>,
    pub engine_processes: std::collections::BTreeSet<u32>,
}

fn engine_processes() -> std::collections::BTreeSet<u32> {
    let mut out = std::collections::BTreeSet::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let state = stat[close + 1..].split_whitespace().next().unwrap_or("");
        let engine = matches!(comm, "dockerd" | "containerd" | "docker-proxy")
            || comm.starts_with("containerd-shim");
        if engine && state != "Z" && state != "X" {
            out.insert(pid);
        }
    }
    out
}

/// The host as it is now.
pub fn host_state() -> HostState {
    let run = |cmd: &str, args: &[&str]| {
        let out = Command::new(cmd).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    HostState {
        interfaces: interfaces().into_iter().collect(),
        mounts: std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .collect(),
        // Rules, without counters and comments of the dump itself.
        iptables: run("iptables-save", &[])
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| match l.find(" [") {
                Some(i) if l.starts_with(':') => l[..i].to_string(),
                _ => l.to_string(),
            })
            .collect(),
        qdiscs: run("tc", &["qdisc", "show"])
            .lines()
            .filter(|l| l.contains(" root "))
            .map(|l| l.split(" refcnt").next().unwrap_or(l).to_string())
            .collect(),
        pins: std::fs::read_dir("/run/shakedown/pinned-netns")
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default(),
        engine_processes: engine_processes(),
    }
}

/// Waits (at most `deadline`) until the host is as `before` (processes of a dead daemon may take
/// a moment to be reaped); panics with the difference.
pub fn assert_host_as(before: &HostState, deadline: Duration) {
    let t = Instant::now();
    loop {
        let now = host_state();
        if &now == before {
            return;
        }
        if t.elapsed() > deadline {
            let diff = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
                let (a, b) = (format!("{a:?}"), format!("{b:?}"));
                if a != b {
                    format!("{what}: before {a}\n        after  {b}\n")
                } else {
                    String::new()
                }
            };
            panic!(
                "the host is not as before:\n{}{}{}{}{}{}",
                diff("interfaces", &before.interfaces, &now.interfaces),
                diff("mounts", &before.mounts, &now.mounts),
                diff("iptables", &before.iptables, &now.iptables),
                diff("qdiscs", &before.qdiscs, &now.qdiscs),
                diff("pins", &before.pins, &now.pins),
                diff(
                    "engine processes",
                    &before.engine_processes,
                    &now.engine_processes
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `file` contains `needle` (a journal line, say), or panics after `deadline`.
pub fn wait_for_text(file: &Path, needle: &str, deadline: Duration) {
    let t = Instant::now();
    while !std::fs::read_to_string(file).is_ok_and(|s| s.contains(needle)) {
        assert!(
            t.elapsed() < deadline,
            "{} never contained {needle:?}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends a signal to a child process.
pub fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

/// A harness process started by a test, stopped when the test ends however it ends: a panicking
/// test must not leave a run (and its daemon) behind. SIGTERM first, so the run undoes its own
/// changes; SIGKILL after a minute.
pub struct Spawned(Option<std::process::Child>);

impl Spawned {
    /// Takes charge of a child.
    pub fn new(child: std::process::Child) -> Self {
        Spawned(Some(child))
    }

    /// The child, for signals.
    pub fn child(&self) -> &std::process::Child {
        self.0.as_ref().expect("the child was taken")
    }

    /// Waits for it to end and returns its output.
    pub fn wait_with_output(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }

    /// Waits for it to end.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.0.take().unwrap().wait().unwrap()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let Some(mut c) = self.0.take() else { return };
        if matches!(c.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if matches!(c.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// `shakedown run FILES... --json DIR/r.json --journal DIR/j.jsonl --artifacts DIR/art EXTRA...` in
/// `state`: the output and the JSON report (null when none was written).
pub fn run_json(
    state: &Path,
    dir: &Path,
    files: &[&Path],
    extra: &[&str],
) -> (Output, serde_json::Value) {
    let j = dir.join("r.json");
    let out = shakedown(state)
        .arg("run")
        .args(files)
        .arg("--json")
        .arg(&j)
        .arg("--journal")
        .arg(dir.join("j.jsonl"))
        .arg("--artifacts")
        .arg(dir.join("art"))
        .args(extra)
        .output()
        .unwrap();
    (out, json_or_null(&j))
}

/// `shakedown judge DIR/j.jsonl` (the journal [`run_json`] wrote) gives the same exit code,
/// verdicts and terminal report as the live run.
pub fn assert_judge_reproduces(
    state: &Path,
    dir: &Path,
    live: &std::process::Output,
    r: &serde_json::Value,
) {
    let again = dir.join("again.json");
    let out = shakedown(state)
        .arg("judge")
        .arg(dir.join("j.jsonl"))
        .arg("--json")
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), live.status.code(), "{}", text(&out));
    assert_eq!(
        json(&again)["targets"][0]["verdicts"],
        r["targets"][0]["verdicts"]
    );
    assert_eq!(out.stdout, live.stdout, "the terminal report differs");
}

/// `shakedown run FILE --json JSON EXTRA...` in the background, its output kept.
pub fn spawn_json(state: &Path, file: &Path, json: &Path, extra: &[&str]) -> Spawned {
    Spawned::new(
        shakedown(state)
            .arg("run")
            .arg(file)
            .arg("--json")
            .arg(json)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// The journal of the first run started in `state` (waits for it to appear).
pub fn first_journal(state: &Path) -> PathBuf {
    let t = Instant::now();
    loop {
        if let Some(e) = std::fs::read_dir(state.join("runs"))
            .into_iter()
            .flatten()
            .flatten()
            .next()
        {
            return e.path().join("journal.jsonl");
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no run directory");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The check of `expectation` at step `step` of `scenario` in a JSON report.
pub fn check_of<'a>(
    r: &'a serde_json::Value,
    scenario: &str,
    step: &str,
    expectation: &str,
) -> &'a serde_json::Value {
    let checks = checks(r, scenario);
    checks
        .iter()
        .find(|c| c["step_label"] == step && c["expectation"] == expectation)
        .copied()
        .unwrap_or_else(|| panic!("no {expectation} check of {step}: {checks:?}"))
}

/// A scenario's verdict in a JSON report.
pub fn verdict<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["targets"][0]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no verdict for {name}: {report}"))
}

/// `chromium --headless` with a deadline: its output (the DOM after scripts ran, with
/// `--dump-dom`). Debian's `chromium` must be installed (ci/install-test-deps.sh does it).
pub fn chromium(args: &[&str], page: &Path) -> Output {
    let out = Command::new("timeout")
        .args(["-k", "5", "90", "chromium"])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .args(args)
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .expect("chromium must be installed (ci/install-test-deps.sh)");
    assert_eq!(out.status.code(), Some(0), "chromium: {}", text(&out));
    out
}

/// The value of attribute `name` of the page's `<body>` in a DOM dump.
pub fn body_attr(dom: &str, name: &str) -> Option<String> {
    let body = &dom[dom.find("<body")?..];
    let body = &body[..body.find('>')?];
    let at = body.find(&format!("{name}=\""))? + name.len() + 2;
    Some(body[at..].split('"').next()?.to_string())
}

/// Opens a page in headless Chromium and asserts that every plot rendered (the page's own
/// script counts plots laid out with marks); returns the DOM and the number of plots.
pub fn assert_plots_rendered(page: &Path) -> (String, usize) {
    let out = chromium(&["--virtual-time-budget=5000", "--dump-dom"], page);
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    let plots = body_attr(&dom, "data-plots").expect("the page's script did not run");
    let rendered = body_attr(&dom, "data-plots-rendered").unwrap();
    let n: usize = plots.parse().unwrap();
    assert!(n > 0, "no plots on the page");
    assert_eq!(rendered, plots, "plots rendered / plots");
    (dom, n)
}

/// A screenshot of a page in headless Chromium, decoded: (width, height, RGBA pixels).
pub fn screenshot(page: &Path, out: &Path, height: u32) -> (u32, u32, Vec<u8>) {
    let shot = format!("--screenshot={}", out.display());
    let size = format!("--window-size=1200,{height}");
    chromium(&["--virtual-time-budget=5000", &shot, &size], page);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(out).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let rgba: Vec<u8> = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected PNG color type {other:?}"),
    };
    (info.width, info.height, rgba)
}

/// Pixels of a screenshot close to a colour (each channel within `tol`).
pub fn pixels_near(rgba: &[u8], color: [u8; 3], tol: u8) -> usize {
    rgba.chunks(4)
        .filter(|p| (0..3).all(|i| p[i].abs_diff(color[i]) <= tol))
        .count()
}
