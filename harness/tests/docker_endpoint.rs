//! `--target docker` reaches the daemon the way the Docker CLI does: `DOCKER_HOST` with
//! `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH` (TLS, the daemon verified against the CA), a Docker
//! context (`DOCKER_CONTEXT` or `currentContext`, with its TLS files), and `ssh://` (the run goes
//! to that host and uses its own daemon). The daemon is one this test starts with TLS on a
//! loopback port (certificates made with openssl), and removes at the end.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures_util::FutureExt;

use common::sshd::Sshd;
use common::{scenario, shakedown, text};
use shakedown::engine::managed::{DaemonOptions, EngineBinaries, ManagedDaemon};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`; the client's as
/// `DOCKER_CERT_PATH` wants them (`ca.pem`, `cert.pem`, `key.pem`) in `dir/client`.
fn certificates(dir: &Path, ca_name: &str, ip: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-subj",
            &format!("/CN={ca_name}"),
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        format!("subjectAltName=IP:127.0.0.1,IP:{ip}\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for who in ["server", "client"] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{who}-key.pem"),
                "-out",
                &format!("{who}.csr"),
                "-subj",
                &format!("/CN={who}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{who}-cert.pem"),
                "-extfile",
                &format!("{who}.ext"),
            ],
        );
    }
    let client = dir.join("client");
    std::fs::create_dir_all(&client).unwrap();
    std::fs::copy(dir.join("ca.pem"), client.join("ca.pem")).unwrap();
    std::fs::copy(dir.join("client-cert.pem"), client.join("cert.pem")).unwrap();
    std::fs::copy(dir.join("client-key.pem"), client.join("key.pem")).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `shakedown run --target docker` of `file` with `env` (and nothing of this process's Docker
/// settings); its exit code, output and JSON report.
fn run_docker(
    state: &Path,
    file: &Path,
    env: &[(&str, &str)],
    extra: &[&str],
) -> (std::process::Output, Option<serde_json::Value>) {
    let json = state.join("r.json");
    let _ = std::fs::remove_file(&json);
    let mut c = shakedown(state);
    c.args(["run", "--target", "docker", "--progress", "none", "--json"])
        .arg(&json)
        .args(extra)
        .arg(file);
    for k in [
        "DOCKER_HOST",
        "DOCKER_TLS_VERIFY",
        "DOCKER_TLS",
        "DOCKER_CERT_PATH",
        "DOCKER_CONTEXT",
    ] {
        c.env_remove(k);
    }
    c.env("DOCKER_CONFIG", state.join("no-docker-config"));
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let report = json.is_file().then(|| common::json(&json));
    (out, report)
}

fn passed(out: &std::process::Output, report: &Option<serde_json::Value>) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let r = report.as_ref().unwrap();
    assert_eq!(r["targets"][0]["verdicts"][0]["outcome"], "pass", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_is_reached_as_the_docker_cli_reaches_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // This machine's own address, as another machine would reach it.
    let out = Command::new("hostname").arg("-I").output().unwrap();
    let ip = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .find(|a| a.contains('.') && !a.starts_with("127.") && !a.starts_with("10.213."))
        .expect("a non-loopback IPv4 address")
        .to_string();
    certificates(d, "shakedown-test-ca", &ip);
    let other = d.join("other");
    std::fs::create_dir_all(&other).unwrap();
    certificates(&other, "another-ca", &ip);
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let engine = EngineBinaries::default().resolve().unwrap();
    let p = |f: &str| d.join(f).display().to_string();
    let opts = DaemonOptions {
        extra_args: vec![
            "--tlsverify".into(),
            "--tlscacert".into(),
            p("ca.pem"),
            "--tlscert".into(),
            p("server-cert.pem"),
            "--tlskey".into(),
            p("server-key.pem"),
            "-H".into(),
            format!("tcp://0.0.0.0:{port}"),
        ],
        ..Default::default()
    };
    let daemon = ManagedDaemon::start(&d.join("daemon"), &engine, &opts, Duration::from_secs(60))
        .await
        .unwrap();
    let socket = daemon.docker_host();
    let state = d.join("state");
    std::fs::create_dir_all(&state).unwrap();
    // A container, so the run really used that daemon.
    let file = scenario(
        d,
        "hello",
        "name: hello\ncontainers:\n  c:\n    command: [\"true\"]\nsteps:\n  - action: {start: {container: c}}\n  - action: {wait: {container: c}}\n    expect: {exit_code: 0}\n",
    );
    let client = p("client");
    let pid1 = common::builtin().join("pid1-sigterm.yaml");
    let result = std::panic::AssertUnwindSafe(async {
        // DOCKER_HOST with TLS.
        let (out, report) = run_docker(
            &state,
            &pid1,
            &[("DOCKER_HOST", &tcp), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", &client)],
            &[],
        );
        passed(&out, &report);
        // Over the machine's own address, as from another machine: the daemon is not known here,
        // so a comparison of this whole host says nothing of it — unknown, never a pass.
        let leaks = scenario(
            d,
            "leaks",
            "name: leaks\ncontainers:\n  c:\n    command: [\"true\"]\nsteps:\n  - action: {start: {container: c}}\n  - action: {wait: {container: c}}\n  - action: {remove: {container: c}}\n  - action: {check_leaks: {scope: host, settle: 1s}}\n    expect: {measures: {leaked_veth: {max: 0}}}\n",
        );
        let far = format!("tcp://{ip}:{port}");
        let (out, report) = run_docker(
            &state,
            &leaks,
            &[("DOCKER_HOST", &far), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", &client)],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let r = report.unwrap();
        assert_eq!(r["targets"][0]["verdicts"][0]["outcome"], "unknown", "{r}");
        assert!(r.to_string().contains("runs on another machine"), "{r}");
        // Plain HTTP to the TLS port: refused, saying what to set.
        let (out, _) = run_docker(&state, &file, &[("DOCKER_HOST", &tcp)], &[]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert!(text(&out).contains("it speaks TLS: set DOCKER_TLS_VERIFY=1"), "{}", text(&out));
        // A CA that did not sign the daemon's certificate: the daemon is not trusted.
        let (out, _) = run_docker(
            &state,
            &file,
            &[("DOCKER_HOST", &tcp), ("DOCKER_TLS_VERIFY", "1"),
              ("DOCKER_CERT_PATH", &other.join("client").display().to_string())],
            &[],
        );
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));

        // A Docker context, as `docker context create` lays it out, current in config.json.
        let config = d.join("docker-config");
        let id = {
            let out = Command::new("sh")
                .args(["-c", "printf %s tls-ctx | sha256sum | cut -d' ' -f1"])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        let meta = config.join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            format!(r#"{{"Name":"tls-ctx","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{tcp}","SkipTLSVerify":false}}}}}}"#),
        )
        .unwrap();
        let tls = config.join("contexts/tls").join(&id).join("docker");
        std::fs::create_dir_all(&tls).unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::copy(d.join("client").join(f), tls.join(f)).unwrap();
        }
        std::fs::write(config.join("config.json"), r#"{"currentContext":"tls-ctx"}"#).unwrap();
        let cfg = config.display().to_string();
        let (out, report) = run_docker(&state, &file, &[("DOCKER_CONFIG", &cfg)], &[]);
        passed(&out, &report);
        // DOCKER_CONTEXT names another one (there is none of that name): refused, naming it.
        let (out, _) = run_docker(
            &state,
            &file,
            &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "staging")],
            &[],
        );
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert!(text(&out).contains("Docker context \"staging\""), "{}", text(&out));

        // ssh://: the run goes to that host and uses the daemon there (the "host" is this
        // machine through a real sshd, whose sessions find that daemon at its socket).
        let sshd = Sshd::start_forcing(&format!(
            "export DOCKER_HOST={socket}\nexec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n"
        ));
        let url = format!("ssh://root@127.0.0.1:{}", sshd.port);
        let (out, report) = run_docker(
            &state,
            &pid1,
            &[("DOCKER_HOST", &url)],
            &[
                "-i",
                &sshd.key.display().to_string(),
                "--ssh-option",
                &format!("UserKnownHostsFile={}", sshd.known_hosts.display()),
                "--remote-dir",
                &d.join("remote").display().to_string(),
            ],
        );
        passed(&out, &report);
        let r = report.unwrap();
        assert!(
            r["targets"][0]["name"].as_str().unwrap().contains("?daemon=docker"),
            "{r}"
        );
    })
    .catch_unwind()
    .await;
    daemon.shutdown(Duration::from_secs(30)).await.unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}
