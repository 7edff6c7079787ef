//! The harness touches only what it created: on a daemon it did not start (`--target docker`), a
//! bystander container started by someone else (here with testcontainers) survives `run` and `clean`,
//! while `clean` removes the labelled leftovers of a dead run. Disruptive scenarios are refused there.
//!
//! The "user's daemon" is a private dockerd this test starts and removes; DOCKER_HOST points at it
//! for this test process only (its own test binary).

mod common;

use std::time::Duration;

use common::{scenario, shakedown, text};
use shakedown::docker::{DockerClient, LABEL_PID, LABEL_RUN};
use shakedown::target::managed::{DaemonOptions, EngineBinaries, ManagedDaemon};
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
    let result = check(&host, state.path()).await;
    daemon.shutdown(Duration::from_secs(30)).await.unwrap();
    result.unwrap();
}

async fn check(host: &str, state: &std::path::Path) -> anyhow::Result<()> {
    // testcontainers reads DOCKER_HOST; this binary holds only this test.
    std::env::set_var("DOCKER_HOST", host);
    let client = DockerClient::connect(host)?;
    let tag = shakedown::fixture::ensure_image(client.raw(), Duration::from_secs(300)).await?;
    let (repo, version) = tag.split_once(':').unwrap();
    let bystander = GenericImage::new(repo, version)
        .with_cmd(["sleep", "600"])
        .start()
        .await?;
    let before = client.observe(bystander.id()).await?;
    assert_eq!(before.state, "running");

    // Debris of a dead run: labelled, with a pid that no longer exists.
    let mut spec = shakedown::docker::CreateSpec::plain(&tag, &["sleep", "600"]);
    spec.labels.insert(LABEL_RUN.into(), "deadrun".into());
    spec.labels.insert(LABEL_PID.into(), "999999999".into());
    let debris = client.create("sd-debris", spec.to_body()).await?;
    client.start(&debris).await?;

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

    let out = shakedown(state)
        .env("DOCKER_HOST", host)
        .arg("clean")
        .output()?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed container sd-debris"),
        "{}",
        text(&out)
    );

    let after = client.observe(bystander.id()).await?;
    assert_eq!(after.state, "running", "the bystander was disturbed");
    assert_eq!(after.pid, before.pid, "the bystander was restarted");
    assert_eq!(after.started_at, before.started_at);
    assert!(client.list_labeled(LABEL_RUN).await?.is_empty());
    bystander.rm().await?;
    Ok(())
}
