//! The harness touches only what it created: on a daemon it did not start (`--target docker`), a
//! bystander container started by someone else (here with testcontainers) survives `run` and `clean`;
//! `clean` removes what a SIGKILLed run's journal recorded, and nothing of a run still alive beside
//! it, which undoes its own changes on SIGTERM. Disruptive scenarios are refused there.
//!
//! The "user's daemon" is a private dockerd this test starts and removes; DOCKER_HOST points at it
//! for this test process only (its own test binary).

mod common;

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use std::time::Duration;

use common::{scenario, shakedown, text, Spawned};
use shakedown::docker::{DockerClient, LABEL_CONTAINER, LABEL_RUN};
use shakedown::engine::managed::{DaemonOptions, EngineBinaries, ManagedDaemon};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bystander_survives_run_and_clean() {
    let state = tempfile::tempdir().unwrap();
    let engine = EngineBinaries::default().resolve().unwrap();
    let daemon = ManagedDaemon::start(
        &state.path().join("users-daemon"),
        &engine,
        &DaemonOptions::default(),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let host = daemon.docker_host();
    // A failed assertion panics: catch it, so the daemon is shut down either way.
    let result = AssertUnwindSafe(check(&host, state.path()))
        .catch_unwind()
        .await
        .unwrap_or_else(|p| Err(anyhow::anyhow!("panicked: {}", panic_text(&p))));
    daemon.shutdown(Duration::from_secs(30)).await.unwrap();
    result.unwrap();
}

/// Waits until the daemon runs a container whose scenario name is `name` (created is not yet
/// enough: the run creates, then starts it); returns its id.
async fn wait_for_container(client: &DockerClient, name: &str) -> anyhow::Result<String> {
    let t = std::time::Instant::now();
    loop {
        let found = client
            .list_labeled(&format!("{LABEL_CONTAINER}={name}"))
            .await?
            .into_iter()
            .next();
        if let Some((id, _, _)) = found {
            if client
                .observe(&id)
                .await
                .is_ok_and(|o| o.state == "running")
            {
                return Ok(id);
            }
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(120),
            "no container {name} appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn check(host: &str, state: &std::path::Path) -> anyhow::Result<()> {
    // testcontainers reads DOCKER_HOST; this binary holds only this test.
    std::env::set_var("DOCKER_HOST", host);
    let client = DockerClient::connect(host)?;
    let tag = shakedown::fixture::ensure_image(&client, None, Duration::from_secs(300)).await?;
    let (repo, version) = tag.split_once(':').unwrap();
    let bystander = GenericImage::new(repo, version)
        .with_cmd(["sleep", "600"])
        .start()
        .await?;
    let before = client.observe(bystander.id()).await?;
    assert_eq!(before.state, "running");

    let dir = tempfile::tempdir()?;
    let quick = scenario(
        dir.path(),
        "quick",
        "name: quick\ncontainers:\n  q:\n    command: [shakedown-fixture, trap, --signal, TERM, --exit-code, \"0\"]\nsteps:\n  - action: {start: {container: q}}\n  - action: {stop: {container: q}}\n    expect: {exit_code: 0}\n",
    );
    let out = shakedown(state)
        .env("DOCKER_HOST", host)
        .args(["run", "--target", "docker"])
        .arg(&quick)
        .output()?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let disruptive = scenario(
        dir.path(),
        "disruptive",
        "name: disruptive\nrequires: {disruptive: true}\nsteps:\n  - action: {sleep: {duration: 1s}}\n",
    );
    let out = shakedown(state)
        .env("DOCKER_HOST", host)
        .args(["run", "--target", "docker"])
        .arg(&disruptive)
        .output()?;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--allow-disruptive"),
        "{}",
        text(&out)
    );

    // A run killed with SIGKILL leaves its container; another run is alive beside it.
    let long = |name: &str| {
        scenario(
            dir.path(),
            name,
            &format!("name: {name}\ncontainers:\n  {name}-c:\n    command: [sleep, \"600\"]\nsteps:\n  - action: {{start: {{container: {name}-c}}}}\n  - action: {{sleep: {{duration: 120s}}}}\n"),
        )
    };
    let spawn = |file: &std::path::Path| {
        shakedown(state)
            .env("DOCKER_HOST", host)
            .args(["run", "--target", "docker"])
            .arg(file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
    };
    let mut dead = spawn(&long("dead"))?;
    let dead_id = wait_for_container(&client, "dead-c").await?;
    dead.kill()?;
    dead.wait()?;
    let alive = Spawned::new(spawn(&long("alive"))?);
    let alive_id = wait_for_container(&client, "alive-c").await?;
    // The premise: the dead run's container is still there.
    assert_eq!(client.observe(&dead_id).await?.state, "running");

    let out = shakedown(state)
        .env("DOCKER_HOST", host)
        .arg("clean")
        .output()?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("-dead-c-1"), "{}", text(&out));
    assert!(stdout.contains("is alive: left alone"), "{}", text(&out));
    assert_eq!(client.observe(&dead_id).await?.state, "removed");
    // The live run's container is untouched.
    assert_eq!(client.observe(&alive_id).await?.state, "running");
    // SIGTERM: the live run undoes its own changes and says so in its exit code.
    common::signal(alive.child(), nix::sys::signal::Signal::SIGTERM);
    assert_eq!(alive.wait().code(), Some(143));
    assert_eq!(client.observe(&alive_id).await?.state, "removed");

    let after = client.observe(bystander.id()).await?;
    assert_eq!(after.state, "running", "the bystander was disturbed");
    assert_eq!(after.pid, before.pid, "the bystander was restarted");
    assert_eq!(after.started_at, before.started_at);
    assert!(client.list_labeled(LABEL_RUN).await?.is_empty());
    bystander.rm().await?;
    Ok(())
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
