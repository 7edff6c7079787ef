//! Daemon faults on a daemon the harness did not start (`--target docker --allow-disruptive`): the
//! harness finds the process behind the socket, restarts it the way it was started, freezes and
//! thaws it, and leaves it running — with a bystander container untouched thanks to live-restore.
//!
//! The "user's daemon" is a dockerd this test starts itself (with live-restore) and removes at the end.

mod common;

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use std::path::Path;
use std::time::Duration;

use common::{json, scenario, shakedown, text};
use shakedown::docker::{CreateSpec, DockerClient};
use shakedown::engine::managed::{DaemonOptions, EngineBinaries, ManagedDaemon};

fn peer_pid(socket: &Path) -> u32 {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    getsockopt(&s, PeerCredentials).unwrap().pid() as u32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_faults_on_a_daemon_the_harness_did_not_start() {
    let state = tempfile::tempdir().unwrap();
    let engine = EngineBinaries::default().resolve().unwrap();
    let opts = DaemonOptions {
        live_restore: true,
        ..Default::default()
    };
    let daemon = ManagedDaemon::start(
        &state.path().join("users-daemon"),
        &engine,
        &opts,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let socket = daemon.socket_path();
    // A failed assertion panics: catch it, so the daemon is shut down either way.
    let result = AssertUnwindSafe(check(&daemon.docker_host(), &socket, state.path()))
        .catch_unwind()
        .await
        .unwrap_or_else(|p| Err(anyhow::anyhow!("panicked: {}", panic_text(&p))));
    // The harness restarted the daemon: stop the one now running before removing everything.
    let pid = peer_pid(&socket);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    for _ in 0..200 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.shutdown(Duration::from_secs(30)).await.unwrap();
    result.unwrap();
}

async fn check(host: &str, socket: &Path, state: &Path) -> anyhow::Result<()> {
    let client = DockerClient::connect(host)?;
    let tag = shakedown::fixture::ensure_image(&client, None, Duration::from_secs(300)).await?;
    let spec = CreateSpec::plain(&tag, &["sleep", "600"]);
    let bystander = client.create("bystander", spec.to_body()).await?;
    client.start(&bystander).await?;
    let before = client.observe(&bystander).await?;
    let dockerd_before = peer_pid(socket);

    let dir = tempfile::tempdir()?;
    let f = scenario(
        dir.path(),
        "users",
        "name: users\nrequires: {live_restore: true, disruptive: true}\ncontainers:\n  web: {command: [shakedown-fixture, trap, --signal, TERM, --exit-code, \"0\"]}\nsteps:\n  - action: {start: {container: web}}\n  - name: restart\n    action: {daemon_restart: {}}\n  - name: web survived\n    action: {inspect: {container: web}}\n    expect: {state: running, unchanged: [pid]}\n  - name: freeze\n    action: {daemon_freeze: {duration: 3s, api_deadline: 1s}}\n    expect: {api: unresponsive}\n",
    );
    let j = dir.path().join("r.json");
    let out = shakedown(state)
        .env("DOCKER_HOST", host)
        .args(["run", "--target", "docker", "--allow-disruptive", "--json"])
        .arg(&j)
        .arg("--artifacts")
        .arg(dir.path().join("art"))
        .arg(&f)
        .output()?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&j);
    assert_eq!(r["summary"]["passed"], 1);
    // The report says which configuration the user's daemon ran with: its --config-file, as
    // the file says (read here, not through the harness).
    let f = &r["targets"][0]["run"]["fingerprint"];
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", peer_pid(socket)))?;
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let at = args
        .iter()
        .position(|a| a == "--config-file")
        .expect("--config-file");
    let file = &args[at + 1];
    let want: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file)?)?;
    assert_eq!(f["daemon_config_source"], file.as_str(), "{f}");
    assert_eq!(
        f.get("daemon_config")
            .cloned()
            .unwrap_or(serde_json::json!({})),
        want,
        "{f}"
    );

    // The daemon is a new process, running, and still the user's (same socket, same roots).
    let dockerd_after = peer_pid(socket);
    assert_ne!(dockerd_before, dockerd_after);
    client.ping(Duration::from_secs(5)).await?;
    // The bystander lived through the restart and the freeze (live-restore).
    let after = client.observe(&bystander).await?;
    assert_eq!(after.state, "running");
    assert_eq!(after.pid, before.pid);
    client.remove(&bystander).await?;
    Ok(())
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
