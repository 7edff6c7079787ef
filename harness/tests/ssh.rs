//! The SSH target against a real sshd on loopback: the harness copies itself to the "host" (this
//! machine, through sshd, into a directory of its own), runs the scenarios there and judges the
//! journal it streams back. Same verdicts as a local run; SIGTERM here stops the run there, which
//! undoes everything; a run killed there is swept by `clean --target`; an unknown host key is
//! refused before anything runs; the host runs the plan made here (variants, `--filter` and
//! `--repeat` applied), never planning the files again.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::sshd::Sshd;

/// `shakedown run --target ssh://root@127.0.0.1:PORT` with the test's key, known_hosts and remote
/// directory.
fn remote(sshd: &Sshd, state: &Path, remote_dir: &Path) -> Command {
    let mut c = common::shakedown(state);
    c.arg("run")
        .arg("--target")
        .arg(format!("ssh://root@127.0.0.1:{}", sshd.port))
        .arg("-i")
        .arg(&sshd.key)
        .arg("--ssh-option")
        .arg(format!("UserKnownHostsFile={}", sshd.known_hosts.display()))
        .arg("--remote-dir")
        .arg(remote_dir);
    c
}

/// The command stopped with exit `code` (2 bad input, 3 a target that could not be used) and
/// said `says`.
fn refused(out: &std::process::Output, code: i32, says: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", common::text(out));
    assert!(common::text(out).contains(says), "{}", common::text(out));
}

/// A scenario's name, outcome, and each check's step and name with whether it passed.
type Outcome = (String, String, Vec<(String, bool)>);

fn outcomes(report: &serde_json::Value) -> Vec<Outcome> {
    report["targets"][0]["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no verdicts in {report}"))
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["outcome"].as_str().unwrap().to_string(),
                v["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        (
                            format!("{} {}", c["step"], c["name"]),
                            c["outcome"] == "pass",
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

const SCENARIOS: [&str; 4] = [
    "pid1-sigterm",
    "cgroup-oom",
    "live-restore-restart",
    "net-partition-recovery",
];

#[test]
fn same_verdicts_as_a_local_run() {
    let sshd = Sshd::start();
    let files: Vec<_> = SCENARIOS
        .iter()
        .map(|s| common::repo().join(format!("scenarios/{s}.yaml")))
        .collect();
    let files: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();

    let local_dir = tempfile::tempdir().unwrap();
    let local_state = tempfile::tempdir().unwrap();
    let (out, local) = common::run_json(local_state.path(), local_dir.path(), &files, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));

    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let remote_dir = dir.path().join("remote");
    let json = dir.path().join("r.json");
    let out = remote(&sshd, state.path(), &remote_dir)
        .args(&files)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(dir.path().join("r.xml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let report = common::json(&json);
    assert_eq!(outcomes(&report), outcomes(&local));
    assert_eq!(
        outcomes(&report).len(),
        SCENARIOS.len(),
        "{}",
        common::text(&out)
    );
    // The journal came from the run on the host: its fingerprint names the target, and the run
    // there kept its own journal under the remote directory (not under this side's state).
    assert_eq!(
        report["targets"][0]["run"]["target"],
        format!("ssh://root@127.0.0.1:{} managed", sshd.port),
        "{}",
        report["targets"][0]["run"]
    );
    let remote_runs: Vec<_> = std::fs::read_dir(remote_dir.join("runs"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("journal.jsonl").is_file())
        .collect();
    assert_eq!(remote_runs.len(), 1);
    assert!(!state.path().join("runs").exists());
    // The binary and the fixture's context are kept by content; the run's own files are gone.
    let mut bins: Vec<String> = std::fs::read_dir(remote_dir.join("bin"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .map(|n| n.split('-').next().unwrap_or_default().to_string())
        .collect();
    bins.sort();
    assert_eq!(bins, ["fixture", "shakedown"]);
    let left: Vec<_> = std::fs::read_dir(remote_dir.join("remote"))
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let junit = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
    for s in SCENARIOS {
        assert!(junit.contains(s), "{junit}");
    }
    // Root-only on both sides: the host's directory (binary, fixture, runs) and the journal
    // streamed back into this side's state directory.
    let open = common::exposed(&remote_dir);
    assert!(open.is_empty(), "open to others on the host: {open:#?}");
    let open = common::exposed(state.path());
    assert!(open.is_empty(), "open to others here: {open:#?}");
    assert!(state.path().join("remote-runs").is_dir());
}

/// Processes of this machine whose command line mentions `needle`, still alive (not zombies).
fn live(needle: &str) -> Vec<u32> {
    common::processes_mentioning(needle)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    !s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(false)
        })
        .collect()
}

fn wait_until(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        if t.elapsed() > deadline {
            let ps = Command::new("ps")
                .args(["-eo", "pid,stat,args"])
                .output()
                .unwrap();
            panic!(
                "{what}: not within {deadline:?}\n{}",
                String::from_utf8_lossy(&ps.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The events of the one journal kept on the host under `remote_dir`.
fn remote_journal(remote_dir: &Path) -> Vec<serde_json::Value> {
    let runs: Vec<_> = std::fs::read_dir(remote_dir.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("journal.jsonl"))
        .filter(|j| j.is_file())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    std::fs::read_to_string(&runs[0])
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_host_runs_the_plan_made_here() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let variants = common::scenario(
        dir.path(),
        "variants",
        "name: quick\nvars: {pause: 1ms}\nmatrix:\n  short: {pause: 1ms}\n  longer: {pause: 20ms}\nsteps:\n  - action: {sleep: {duration: \"{{ vars.pause }}\"}}\n",
    );
    let other = common::scenario(
        dir.path(),
        "other",
        "name: other\nsteps:\n  - action: {sleep: {duration: 1ms}}\n",
    );
    let state = tempfile::tempdir().unwrap();
    let remote_dir = dir.path().join("remote");
    let json = dir.path().join("r.json");
    let out = remote(&sshd, state.path(), &remote_dir)
        .arg(&variants)
        .arg(&other)
        .args(["--filter", "quick", "--repeat", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let events = remote_journal(&remote_dir);
    let started = events.iter().find(|e| e["event"] == "run_started").unwrap();
    let argv: Vec<&str> = started["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    // The command the host ran: the plan, and neither the files nor the planning flags.
    assert!(argv.contains(&"--plan"), "{argv:?}");
    for word in ["--filter", "--repeat", "variants.yaml", "other.yaml"] {
        assert!(!argv.iter().any(|a| a.contains(word)), "{word} in {argv:?}");
    }
    // What the host ran is what was asked here: two variants, each twice, and not `other`.
    let plan = &events.iter().find(|e| e["event"] == "plan").unwrap()["scenarios"];
    let mut planned: Vec<(String, u64)> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["scenario"]["name"].as_str().unwrap().to_string(),
                p["repeat"].as_u64().unwrap(),
            )
        })
        .collect();
    planned.sort();
    assert_eq!(
        planned,
        [
            ("quick[longer]".to_string(), 2),
            ("quick[short]".to_string(), 2)
        ]
    );
    let pauses: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["scenario"]["steps"][0]["action"]["sleep"]["duration"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(
        pauses.contains(&"20ms") && pauses.contains(&"1ms"),
        "{pauses:?}"
    );
    let report = common::json(&json);
    assert_eq!(outcomes(&report).len(), 2, "{report}");
}

#[test]
fn sigterm_here_stops_and_heals_there_and_clean_sweeps_a_killed_run() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let remote_dir = dir.path().join("remote");
    let rd = remote_dir.to_string_lossy().into_owned();
    let file = common::scenario(
        dir.path(),
        "long",
        "name: long\ncontainers:\n  sleeper:\n    command: [sleep, \"6017\"]\nsteps:\n  - action: {start: {container: sleeper}}\n  - action: {sleep: {duration: 120s}}\n",
    );
    // The managed daemon there runs from the remote directory: it is up when its socket is.
    let daemon_up = || live(&format!("{rd}/managed")).len() >= 2;

    let mut child = remote(&sshd, state.path(), &remote_dir)
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        "the managed daemon on the host",
        Duration::from_secs(120),
        daemon_up,
    );
    // The container is running there before we stop.
    wait_until("the container", Duration::from_secs(60), || {
        !live("sleep 6017").is_empty()
    });
    common::signal(&child, nix::sys::signal::Signal::SIGTERM);
    let t = Instant::now();
    let out = child_output(&mut child, Duration::from_secs(120));
    assert_eq!(out.status.code(), Some(143), "{}", common::text(&out));
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    // Nothing of the run is left there: no shakedown, no daemon, no container process.
    wait_until("everything gone", Duration::from_secs(30), || {
        live(&rd).is_empty() && live("sleep 6017").is_empty()
    });
    let _ = &out;
    let mounts = common::mounts_under(&remote_dir);
    assert!(mounts.is_empty(), "{mounts:?}");

    // A run killed there (SIGKILL: it cannot undo anything) is swept by `clean --target`.
    let mut child = remote(&sshd, state.path(), &remote_dir)
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        "the managed daemon on the host",
        Duration::from_secs(120),
        daemon_up,
    );
    wait_until("the container", Duration::from_secs(60), || {
        !live("sleep 6017").is_empty()
    });
    let runner: Vec<_> = live(&format!("{rd}/bin/shakedown-"))
        .into_iter()
        .filter(|p| {
            // The run itself, not the ssh client whose command line names it.
            let cmd = std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default();
            cmd.starts_with(&format!("{rd}/bin/shakedown-")) && cmd.contains("--stream")
        })
        .collect();
    assert_eq!(runner.len(), 1, "{runner:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(runner[0] as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let out = child_output(&mut child, Duration::from_secs(60));
    assert_ne!(out.status.code(), Some(0));
    // What it left there (its daemon, its container) is what clean must undo.
    assert!(
        !live(&format!("{rd}/managed")).is_empty() || !live("sleep 6017").is_empty(),
        "the killed run left nothing to clean"
    );
    let out = common::shakedown(state.path())
        .arg("clean")
        .arg("--target")
        .arg(format!("ssh://root@127.0.0.1:{}", sshd.port))
        .arg("-i")
        .arg(&sshd.key)
        .arg("--ssh-option")
        .arg(format!("UserKnownHostsFile={}", sshd.known_hosts.display()))
        .arg("--remote-dir")
        .arg(&remote_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    wait_until(
        "everything gone after clean",
        Duration::from_secs(30),
        || live(&rd).is_empty() && live("sleep 6017").is_empty(),
    );
}

fn child_output(child: &mut std::process::Child, deadline: Duration) -> std::process::Output {
    use std::io::Read;
    let t = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t.elapsed() > deadline {
            let _ = child.kill();
            panic!("shakedown did not exit within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stdout = vec![];
    let mut stderr = vec![];
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_end(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

#[test]
fn an_unknown_host_key_is_refused_before_anything_runs() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let empty = dir.path().join("known_hosts");
    std::fs::write(&empty, "").unwrap();
    let out = common::shakedown(state.path())
        .arg("run")
        .arg("--target")
        .arg(format!("ssh://root@127.0.0.1:{}", sshd.port))
        .arg("-i")
        .arg(&sshd.key)
        .arg("--ssh-option")
        .arg(format!("UserKnownHostsFile={}", empty.display()))
        .arg("--ssh-option")
        .arg("StrictHostKeyChecking=yes")
        .arg("--remote-dir")
        .arg(dir.path().join("remote"))
        .arg(common::repo().join("scenarios/pid1-sigterm.yaml"))
        .output()
        .unwrap();
    // An unreachable target: exit 3, not bad input.
    assert_eq!(out.status.code(), Some(3), "{}", common::text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Host key verification failed"), "{err}");
    assert!(!dir.path().join("remote").exists());
    // Bad targets are refused by the command line itself.
    for bad in ["ssh://root@", "ssh://h:99999", "vm:"] {
        let out = common::shakedown(state.path())
            .args(["run", "--target", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", common::text(&out));
    }
}

#[test]
fn several_targets_give_one_report_even_when_one_is_unreachable() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // A port nothing listens on: that target cannot run, the others still do.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let inventory = dir.path().join("targets.yaml");
    std::fs::write(
        &inventory,
        format!(
            "targets:\n  - name: here\n    address: managed\n  - name: loopback\n    address: ssh://root@127.0.0.1:{}\n    labels: {{kernel: host}}\n  - name: gone\n    address: ssh://root@127.0.0.1:{closed}\n",
            sshd.port
        ),
    )
    .unwrap();
    let (json, xml) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let out = common::shakedown(state.path())
        .arg("run")
        .arg("--targets")
        .arg(&inventory)
        .arg("-i")
        .arg(&sshd.key)
        .arg("--ssh-option")
        .arg(format!("UserKnownHostsFile={}", sshd.known_hosts.display()))
        .arg("--remote-dir")
        .arg(dir.path().join("remote"))
        .arg(common::repo().join("scenarios/pid1-sigterm.yaml"))
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&xml)
        .output()
        .unwrap();
    // A target that could not be used: exit 3.
    assert_eq!(out.status.code(), Some(3), "{}", common::text(&out));
    let r = common::json(&json);
    let t = r["targets"].as_array().unwrap();
    assert_eq!(t.len(), 3, "{r}");
    for (i, name, target) in [
        (0, "here", "managed".to_string()),
        (
            1,
            "loopback",
            format!("ssh://root@127.0.0.1:{} managed", sshd.port),
        ),
    ] {
        assert_eq!(t[i]["name"], name);
        assert_eq!(t[i]["run"]["target"], target.as_str());
        assert_eq!(t[i]["verdicts"][0]["outcome"], "pass", "{}", t[i]);
        // Each target's own environment fingerprint.
        assert!(t[i]["run"]["fingerprint"]["kernel_version"].is_string());
    }
    assert_eq!(t[1]["labels"]["kernel"], "host");
    assert!(
        t[2]["run"].is_null() && t[2]["error"].is_string(),
        "{}",
        t[2]
    );
    let err = t[2]["error"].as_str().unwrap();
    assert!(err.contains("Connection refused"), "{err}");
    assert_eq!(r["summary"]["passed"], 2);
    assert_eq!(r["targets_failed"], 1);
    let junit = std::fs::read_to_string(&xml).unwrap();
    for suite in ["name=\"here\"", "name=\"loopback\"", "name=\"gone\""] {
        assert!(junit.contains(&format!("<testsuite {suite}")), "{junit}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("3 targets: 2 passed, 0 failed; 1 target(s) could not run"),
        "{stdout}"
    );

    // A bad inventory is refused before anything runs.
    std::fs::write(&inventory, "targets:\n  - name: x\n    adress: managed\n").unwrap();
    let out = common::shakedown(state.path())
        .args(["run", "--targets"])
        .arg(&inventory)
        .output()
        .unwrap();
    refused(&out, 2, "targets.yaml");
}

#[test]
fn a_vagrant_machine_is_reached_as_vagrant_ssh_config_says() {
    // Vagrant's boxes cannot be fetched here: `vagrant` on PATH is a script that prints what
    // `vagrant ssh-config` prints for a running machine, pointing at the real sshd.
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let config = format!(
        "Host $2\n  HostName 127.0.0.1\n  User root\n  Port {}\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  PasswordAuthentication no\n  IdentityFile {}\n  IdentitiesOnly yes\n  LogLevel FATAL\n",
        sshd.port,
        sshd.known_hosts.display(),
        sshd.key.display()
    );
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = ssh-config ] || exit 3\n[ \"$2\" = b12 ] || {{ echo \"The machine with the name '$2' was not found configured for this Vagrant environment.\" >&2; exit 1; }}\ncat <<EOF\n{config}EOF\n"
    );
    let vagrant = bin.join("vagrant");
    std::fs::write(&vagrant, script).unwrap();
    let mut mode = std::fs::metadata(&vagrant).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(&vagrant, mode).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let json = dir.path().join("r.json");
    let out = common::shakedown(state.path())
        .env("PATH", &path)
        .args(["run", "--target", "vagrant:b12", "--remote-dir"])
        .arg(dir.path().join("remote"))
        .arg(common::repo().join("scenarios/pid1-sigterm.yaml"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let r = common::json(&json);
    assert_eq!(r["targets"][0]["run"]["target"], "vagrant:b12 managed");
    assert_eq!(outcomes(&r)[0].1, "pass");
    // A machine the Vagrantfile does not have: Vagrant's own message, exit 3 (a target that
    // could not be used).
    let out = common::shakedown(state.path())
        .env("PATH", &path)
        .args(["run", "--target", "vagrant:nope"])
        .arg(common::repo().join("scenarios/pid1-sigterm.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", common::text(&out));
    assert!(
        common::text(&out).contains("'nope' was not found"),
        "{}",
        common::text(&out)
    );
}

/// `ci/build-static.sh dev`: the static build of these sources (built here if missing or stale).
fn static_build() -> std::path::PathBuf {
    let out = Command::new(common::repo().join("ci/build-static.sh"))
        .arg("dev")
        .output()
        .expect("running ci/build-static.sh");
    assert!(out.status.success(), "{}", common::text(&out));
    std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// The issue's deployment: a static shakedown copied to a host that has a Docker engine and
/// nothing else of the fixture's (its static busybox and bash are hidden from sshd's sessions), the
/// fixture image built there from the static programs carried from here. A binary from other
/// sources is refused.
#[test]
fn a_static_build_runs_on_a_host_without_the_fixtures_programs() {
    let bin = static_build();
    // Static: it runs in a root holding nothing but itself.
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(&bin, root.path().join("shakedown")).unwrap();
    let out = Command::new("chroot")
        .arg(root.path())
        .args(["/shakedown", "--version"])
        .output()
        .unwrap();
    let ours = Command::new(env!("CARGO_BIN_EXE_shakedown"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(out.stdout, ours.stdout, "{}", common::text(&out));

    // Not tini: Debian's engine runs it as its docker-init (a symlink to tini-static).
    let statics: Vec<std::path::PathBuf> = [
        ["/usr/bin/busybox", "/bin/busybox"],
        ["/usr/bin/bash-static", "/bin/bash-static"],
    ]
    .iter()
    .map(|c| {
        c.iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{c:?}: ci/install-deps.sh installs it"))
            .canonicalize()
            .unwrap()
    })
    .collect();
    let hidden: Vec<&Path> = statics.iter().map(|p| p.as_path()).collect();
    let sshd = Sshd::start_hiding(&hidden);
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let remote_dir = dir.path().join("remote");
    let ssh = |cmd: &str| {
        Command::new("ssh")
            .args(["-p", &sshd.port.to_string(), "-i"])
            .arg(&sshd.key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", sshd.known_hosts.display()))
            .args(["-o", "BatchMode=yes", "root@127.0.0.1", cmd])
            .output()
            .unwrap()
    };
    // The "host" really lacks them.
    for p in &statics {
        let out = ssh(&format!("cat {}", p.display()));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hidden by the test's sshd\n",
            "{}",
            common::text(&out)
        );
    }

    let scenario = common::repo().join("scenarios/pid1-sigterm.yaml");
    let json = dir.path().join("r.json");
    let out = remote(&sshd, state.path(), &remote_dir)
        .arg("--remote-binary")
        .arg(&bin)
        .arg(&scenario)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let report = common::json(&json);
    assert_eq!(
        report["targets"][0]["verdicts"][0]["outcome"], "pass",
        "{report}"
    );
    // What ran there is the static build, kept by its hash, with the carried context beside it.
    let kept = remote_dir.join(format!("bin/shakedown-{}", &sha256(&bin)[..16]));
    assert!(kept.is_file(), "{}", kept.display());
    let contexts: Vec<_> = std::fs::read_dir(remote_dir.join("bin"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("fixture-"))
        .collect();
    assert_eq!(contexts.len(), 1);

    // Without the carried context the host could not have built the fixture.
    let out = ssh(&format!(
        "SHAKEDOWN_STATE_DIR={} {} run {}",
        remote_dir.join("alone").display(),
        kept.display(),
        scenario.display()
    ));
    assert_eq!(out.status.code(), Some(3), "{}", common::text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a 64-bit ELF"),
        "{}",
        common::text(&out)
    );

    // A binary from other sources is refused before anything is copied.
    let other = dir.path().join("other");
    std::fs::write(&other, "#!/bin/sh\necho shakedown 0.0.1\n").unwrap();
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = remote(&sshd, state.path(), &dir.path().join("remote2"))
        .arg("--remote-binary")
        .arg(&other)
        .arg(&scenario)
        .output()
        .unwrap();
    refused(&out, 3, "built from the same sources");
    assert!(!dir.path().join("remote2/bin").exists());
}

/// A host that breaks the journal's format with a line longer than the bound
/// (`MAX_JOURNAL_LINE_BYTES`, 64 MiB) right after the plan: the run ends with the reason, the
/// scenario `unknown` (never a pass), the host's run stopped, and the over-long line is not kept.
#[test]
fn a_host_sending_a_line_without_end_gives_unknown_with_the_reason() {
    // The real run there, its stream passed on up to the plan, then 65 MiB without a newline.
    let sshd = Sshd::start_forcing(
        r#"case "$SSH_ORIGINAL_COMMAND" in
  *--stream*)
    /bin/sh -c "$SSH_ORIGINAL_COMMAND" | {
      while IFS= read -r l; do
        printf '%s\n' "$l"
        case "$l" in *'"event":"plan"'*) break;; esac
      done
      head -c 68157440 /dev/zero | tr '\0' x
      cat
    };;
  *) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND";;
esac
"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let remote_dir = dir.path().join("remote");
    let rd = remote_dir.to_string_lossy().into_owned();
    let json = dir.path().join("r.json");
    let journal = dir.path().join("j.jsonl");
    let out = remote(&sshd, state.path(), &remote_dir)
        .arg(common::repo().join("scenarios/pid1-sigterm.yaml"))
        .arg("--journal")
        .arg(&journal)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    assert!(
        common::text(&out).contains("longer than 64 MiB (MAX_JOURNAL_LINE_BYTES)"),
        "{}",
        common::text(&out)
    );
    let report = common::json(&json);
    assert_eq!(
        outcomes(&report)
            .iter()
            .map(|o| (o.0.as_str(), o.1.as_str()))
            .collect::<Vec<_>>(),
        [("pid1-sigterm", "unknown")],
        "{report}"
    );
    // Kept: the lines up to the plan, not the broken one.
    let kept = std::fs::read_to_string(&journal).unwrap();
    assert!(kept.len() < 1 << 20, "{} bytes kept", kept.len());
    assert!(kept.lines().last().unwrap().contains("\"event\":\"plan\""));
    // The run there noticed the closed session, undid its changes and ended.
    wait_until("the host's run gone", Duration::from_secs(120), || {
        live(&format!("{rd}/bin/shakedown-")).is_empty()
            && live(&format!("{rd}/managed")).is_empty()
    });
}
