//! Your own images on the default managed target, with no registry: a `docker save` archive named
//! in the scenario (`images: {REF: {tar: FILE}}`) or given with `run --load`, and an image built
//! `FROM` it (`build: DIR`), run as containers whose exit codes and output come from the image
//! itself; an image nothing provides is refused before any daemon starts, naming the scenario, the
//! container and the ways to provide it.
//!
//! The archive is written here by hand in the `docker save` format (manifest.json, the config, one
//! layer with Debian's static busybox), not by the harness.

mod common;

use std::path::Path;

use common::{run_json, scenario, shakedown, text};
use sha2::{Digest, Sha256};

/// Writes `docker save`-format archive `path` holding image `tag`: one layer with /bin/busybox.
fn save_archive(path: &Path, tag: &str) {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static (ci/install-deps.sh)");
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    layer.append_data(&mut h, "bin/", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(busybox.len() as u64);
    layer
        .append_data(&mut h, "bin/busybox", &busybox[..])
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    layer.append_link(&mut h, "bin/sh", "busybox").unwrap();
    let layer = layer.into_inner().unwrap();
    let layer_hex = format!("{:x}", Sha256::digest(&layer));
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_hex}")]},
        "history": [{"created_by": "shakedown test"}]
    })
    .to_string();
    let config_hex = format!("{:x}", Sha256::digest(config.as_bytes()));
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": [tag],
        "Layers": [format!("{layer_hex}/layer.tar")]
    }])
    .to_string();
    let mut out = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        out.append_data(&mut h, name, data).unwrap();
    };
    add(&format!("{layer_hex}/layer.tar"), &layer);
    add(&format!("{config_hex}.json"), config.as_bytes());
    add("manifest.json", manifest.as_bytes());
    out.finish().unwrap();
}

const OWN: &str = r#"name: own-image
images:
  "myapp:1": {tar: app.tar}
  "built:1": {build: ctx}
containers:
  app:
    image: "myapp:1"
    command: [/bin/sh, -c, "echo from my image; exit 3"]
  derived:
    image: "built:1"
steps:
  - action: {start: {container: app}}
  - action: {wait: {container: app}}
    expect: {exit_code: 3}
  - action: {start: {container: derived}}
  - action: {wait: {container: derived}}
    expect: {exit_code: 7}
"#;

#[test]
fn images_from_an_archive_and_a_build_run_on_the_managed_target() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_archive(&dir.path().join("app.tar"), "myapp:1");
    std::fs::create_dir(dir.path().join("ctx")).unwrap();
    std::fs::write(
        dir.path().join("ctx/Dockerfile"),
        "FROM myapp:1\nCMD [\"/bin/sh\", \"-c\", \"exit 7\"]\n",
    )
    .unwrap();
    let file = scenario(dir.path(), "own", OWN);
    let (out, r) = run_json(state.path(), dir.path(), &[file.as_path()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(r["targets"][0]["verdicts"][0]["outcome"], "pass", "{r:#}");
    let setup: Vec<String> = r["targets"][0]["run"]["setup"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_str().unwrap().to_string())
        .collect();
    assert!(setup.contains(&"image myapp:1".to_string()), "{setup:?}");
    assert!(setup.contains(&"image built:1".to_string()), "{setup:?}");
    // What ran was the image's own shell: its output is the evidence.
    let outputs = &r["targets"][0]["run"]["scenarios"][0]["iterations"][0]["outputs"];
    let app = outputs
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["container"] == "app")
        .unwrap_or_else(|| panic!("{outputs:#}"));
    assert_eq!(app["stdout"], "from my image\n", "{app:#}");
    assert_eq!(app["observation"]["exit_code"], 3, "{app:#}");

    // The same archive from the command line, for a scenario that only names the image.
    let plain = scenario(
        dir.path(),
        "plain",
        "name: plain\ncontainers:\n  app:\n    image: myapp:1\n    command: [/bin/sh, -c, \"exit 5\"]\nsteps:\n  - action: {start: {container: app}}\n  - action: {wait: {container: app}}\n    expect: {exit_code: 5}\n",
    );
    let archive = dir.path().join("app.tar");
    let (out, r) = run_json(
        state.path(),
        dir.path(),
        &[plain.as_path()],
        &["--load", archive.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(r["targets"][0]["verdicts"][0]["outcome"], "pass", "{r:#}");
}

#[test]
fn an_image_nothing_provides_is_refused_before_any_daemon_starts() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_archive(&dir.path().join("app.tar"), "myapp:1");
    let missing = scenario(
        dir.path(),
        "missing",
        "name: missing\ncontainers:\n  web:\n    image: other:2\nsteps:\n  - action: {start: {container: web}}\n",
    );
    let wrong = scenario(
        dir.path(),
        "wrong",
        "name: wrong\nimages:\n  \"other:3\": {tar: app.tar}\ncontainers:\n  web:\n    image: other:3\nsteps:\n  - action: {start: {container: web}}\n",
    );
    let out = shakedown(state.path())
        .arg("run")
        .args([&missing, &wrong])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing.yaml") && err.contains("\"web\"") && err.contains("\"other:2\""),
        "{err}"
    );
    assert!(
        err.contains("images:") && err.contains("--load") && err.contains("--target docker"),
        "{err}"
    );
    assert!(
        err.contains("does not contain it (it has: myapp:1)"),
        "{err}"
    );
    assert!(
        !state.path().join("managed").exists(),
        "a daemon was started"
    );
    assert!(!state.path().join("runs").exists(), "a run was started");
    // An archive that is not one.
    let bogus = dir.path().join("bogus.tar");
    std::fs::write(&bogus, "not a tar").unwrap();
    let out = shakedown(state.path())
        .arg("run")
        .arg(&missing)
        .args(["--load", bogus.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bogus.tar"),
        "{}",
        text(&out)
    );
}

/// `host: REF`: the image is copied from the daemon at DOCKER_HOST — here a private dockerd this
/// test starts and loads the archive into itself — under another name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_copied_from_the_host_daemon() {
    use futures_util::StreamExt;
    use shakedown::engine::managed::{DaemonOptions, EngineBinaries, ManagedDaemon};
    use std::time::Duration;

    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = EngineBinaries::default().resolve().unwrap();
    let host = ManagedDaemon::start(
        &state.path().join("hosts-daemon"),
        &engine,
        &DaemonOptions::default(),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let check = async {
        let archive = dir.path().join("app.tar");
        save_archive(&archive, "myapp:1");
        let docker = bollard::Docker::connect_with_unix(
            host.socket_path().to_str().unwrap(),
            120,
            bollard::API_DEFAULT_VERSION,
        )?;
        let body = bollard::body_full(std::fs::read(&archive)?.into());
        let mut load = docker.import_image(
            bollard::query_parameters::ImportImageOptions::default(),
            body,
            None,
        );
        while let Some(item) = load.next().await {
            item?;
        }
        let file = scenario(
            dir.path(),
            "copied",
            "name: copied\nimages:\n  \"copied:1\": {host: \"myapp:1\"}\ncontainers:\n  app:\n    image: \"copied:1\"\n    command: [/bin/sh, -c, \"exit 4\"]\nsteps:\n  - action: {start: {container: app}}\n  - action: {wait: {container: app}}\n    expect: {exit_code: 4}\n",
        );
        let (harness_state, docker_host) = (state.path().join("harness"), host.docker_host());
        let out = tokio::task::spawn_blocking(move || {
            shakedown(&harness_state)
                .env("DOCKER_HOST", docker_host)
                .arg("run")
                .arg(&file)
                .output()
        })
        .await??;
        anyhow::ensure!(out.status.code() == Some(0), "{}", text(&out));
        anyhow::Ok(())
    }
    .await;
    host.shutdown(Duration::from_secs(30)).await.unwrap();
    check.unwrap();
}
