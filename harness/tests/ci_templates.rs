//! What ci/ and vagrant/ give users works: the Ansible playbook runs shakedown on every host of an
//! inventory and collects the reports (a real ansible-playbook against a real sshd on loopback, two
//! inventory hosts at once, one passing scenario and one failing); the Vagrantfile validates with
//! `vagrant validate` for every parameter and refuses bad ones; the GitHub Actions and GitLab CI
//! templates parse and call only commands and options the real binary has.

mod common;

use std::path::Path;
use std::process::Command;

use common::sshd::Sshd;

/// Runs the playbook on two hosts (`h1`, `h2`: the same sshd, different directories) with the
/// scenarios in `scenarios`; returns the output and the reports directory.
fn playbook(sshd: &Sshd, dir: &Path, scenarios: &Path) -> std::process::Output {
    let inventory = dir.join("inventory.ini");
    let mut hosts = String::from("[docker_hosts]\n");
    for h in ["h1", "h2"] {
        hosts.push_str(&format!(
            "{h} ansible_host=127.0.0.1 ansible_port={port} ansible_user=root \
             shakedown_remote_dir={remote} shakedown_state_dir={state}\n",
            port = sshd.port,
            remote = dir.join(format!("remote-{h}")).display(),
            state = dir.join(format!("state-{h}")).display(),
        ));
    }
    std::fs::write(&inventory, hosts).unwrap();
    Command::new("ansible-playbook")
        .arg("-i")
        .arg(&inventory)
        .arg(common::repo().join("ci/ansible/shakedown.yml"))
        .arg("-e")
        .arg(format!(
            "shakedown_binary={}",
            env!("CARGO_BIN_EXE_shakedown")
        ))
        .arg("-e")
        .arg(format!("shakedown_scenarios={}", scenarios.display()))
        .arg("-e")
        .arg(format!(
            "shakedown_reports={}",
            dir.join("reports").display()
        ))
        .arg("--private-key")
        .arg(&sshd.key)
        .arg("--ssh-extra-args")
        .arg(format!(
            "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
            sshd.known_hosts.display()
        ))
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .env("ANSIBLE_LOCAL_TEMP", dir.join("ansible-local"))
        .env("ANSIBLE_REMOTE_TMP", dir.join("ansible-remote"))
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("ansible-playbook (ansible-core) must be installed: ci/install-test-deps.sh installs it")
}

fn verdicts(report: &Path) -> Vec<(String, String)> {
    let r = common::json(report);
    r["targets"][0]["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no verdicts in {r}"))
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_playbook_runs_every_host_and_collects_reports() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenarios = d.join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    std::fs::copy(
        common::repo().join("scenarios/pid1-sigterm.yaml"),
        scenarios.join("pid1-sigterm.yaml"),
    )
    .unwrap();

    let out = playbook(&sshd, d, &scenarios);
    assert!(out.status.success(), "{}", common::text(&out));
    for h in ["h1", "h2"] {
        let reports = d.join("reports").join(h);
        assert_eq!(
            verdicts(&reports.join("report.json")),
            [("pid1-sigterm".to_string(), "pass".to_string())],
            "{h}"
        );
        let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
        assert!(junit.contains("pid1-sigterm"), "{junit}");
        assert!(reports.join("report.html").is_file());
        // The run happened on that host's side, from the binary copied there under its hash.
        let bins: Vec<_> = std::fs::read_dir(d.join(format!("remote-{h}/bin")))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            bins.len() == 1 && bins[0].starts_with("shakedown-"),
            "{bins:?}"
        );
        assert!(d.join(format!("state-{h}/runs")).is_dir());
    }

    // A failing scenario fails the play, after both hosts' reports are collected.
    std::fs::write(
        scenarios.join("wrong.yaml"),
        "name: wrong\ncontainers:\n  c: {command: [sleep, \"100\"]}\nsteps:\n  - action: {start: {container: c}}\n    expect: {state: exited}\n",
    )
    .unwrap();
    std::fs::remove_file(scenarios.join("pid1-sigterm.yaml")).unwrap();
    let out = playbook(&sshd, d, &scenarios);
    assert!(!out.status.success(), "{}", common::text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("shakedown exited 1 on h1"), "{stdout}");
    for h in ["h1", "h2"] {
        assert_eq!(
            verdicts(&d.join("reports").join(h).join("report.json")),
            [("wrong".to_string(), "fail".to_string())],
            "{h}"
        );
    }
}

fn vagrant_validate(env: &[(&str, &str)]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::new("vagrant");
    c.arg("validate")
        // No provider (VirtualBox, libvirt) is installed here: their sections are not checked.
        .arg("--ignore-provider")
        .current_dir(common::repo().join("vagrant"))
        .env("VAGRANT_HOME", home.path())
        // Vagrant writes its machine state beside the Vagrantfile unless told otherwise.
        .env("VAGRANT_DOTFILE_PATH", home.path().join("dotfile"))
        .env("VAGRANT_CHECKPOINT_DISABLE", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output()
        .expect("vagrant must be installed: ci/install-test-deps.sh installs it")
}

#[test]
fn the_vagrantfile_validates_for_every_parameter_and_refuses_bad_ones() {
    for (env, machines) in [
        (vec![], 4),
        (
            vec![
                ("SHAKEDOWN_BOXES", "debian12"),
                ("SHAKEDOWN_LIVE_RESTORE", "false"),
            ],
            1,
        ),
        (
            vec![("SHAKEDOWN_DOCKER", "27.5.1"), ("SHAKEDOWN_CPUS", "4")],
            4,
        ),
    ] {
        let out = vagrant_validate(&env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("validated successfully"),
            "{env:?}: {}",
            common::text(&out)
        );
        assert_eq!(
            stdout.matches("Ignoring provider config").count(),
            machines,
            "{stdout}"
        );
    }
    for (env, says) in [
        (
            ("SHAKEDOWN_BOXES", "debian13"),
            "unknown machines: debian13",
        ),
        (("SHAKEDOWN_DOCKER", "latest"), "SHAKEDOWN_DOCKER must be"),
        (
            ("SHAKEDOWN_LIVE_RESTORE", "yes"),
            "SHAKEDOWN_LIVE_RESTORE must be",
        ),
    ] {
        let out = vagrant_validate(&[env]);
        assert!(!out.status.success(), "{env:?}");
        assert!(
            common::text(&out).contains(says),
            "{env:?}: {}",
            common::text(&out)
        );
    }
}

/// Every `shakedown SUBCOMMAND ...` line of a CI template, with its options.
fn invocations(text: &str) -> Vec<(String, Vec<String>)> {
    // Folded YAML scalars (`>-`) put one command on several lines: join each block first.
    let mut joined = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        if t.starts_with("- ") || t.contains(": ") || t.ends_with(':') {
            joined.push('\n');
        } else {
            joined.push(' ');
        }
        joined.push_str(t);
    }
    joined
        .lines()
        .filter_map(|l| {
            let at = [
                "target/release/shakedown ",
                "$SHAKEDOWN_BIN\" ",
                "$SHAKEDOWN_BIN ",
            ]
            .iter()
            .find_map(|b| l.find(b))?;
            let words: Vec<String> = l[at..].split_whitespace().map(String::from).collect();
            // The binary as a command, not as an argument (`install … target/release/shakedown DEST`).
            if !words.get(1)?.starts_with(|c: char| c.is_ascii_lowercase()) {
                return None;
            }
            let options = words
                .iter()
                .filter(|w| w.starts_with("--"))
                .cloned()
                .collect();
            // `vm build`, `engines fetch`: a subcommand of a subcommand.
            let sub = match words[1].as_str() {
                "vm" | "engines" => format!("{} {}", words[1], words[2]),
                w => w.to_string(),
            };
            Some((sub, options))
        })
        .collect()
}

#[test]
fn ci_templates_parse_and_call_real_options() {
    let mut seen = 0;
    for file in [
        "ci/github/shakedown.yml",
        "ci/gitlab/shakedown.gitlab-ci.yml",
        "action.yml",
    ] {
        let text = std::fs::read_to_string(common::repo().join(file)).unwrap();
        let doc: serde_json::Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
        assert!(doc.is_object(), "{file}");
        let mut calls = invocations(&text);
        if file == "action.yml" {
            // One `run`, with the options it adds from inputs (`opts+=(--target "$TARGET")`).
            assert_eq!(calls.len(), 1, "{file}: {calls:?}");
            calls[0].1.extend(
                text.split("+=(")
                    .skip(1)
                    .filter_map(|w| w.split_whitespace().next())
                    .map(String::from),
            );
            assert!(calls[0].1.contains(&"--engine".to_string()), "{calls:?}");
        }
        assert!(!calls.is_empty(), "{file}: {calls:?}");
        for (sub, options) in calls {
            let help = Command::new(env!("CARGO_BIN_EXE_shakedown"))
                .args(sub.split(' '))
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                help.status.success(),
                "{file}: shakedown {sub}: {}",
                common::text(&help)
            );
            let help = String::from_utf8_lossy(&help.stdout);
            for o in options {
                assert!(
                    help.contains(&format!("{o} ")) || help.contains(&format!("{o}\n")),
                    "{file}: shakedown {sub} has no option {o}"
                );
            }
            seen += 1;
        }
        if file == "action.yml" {
            // Its report paths are inputs (tests/ci_runs.rs runs it).
            assert!(text.contains("--junit \"$JUNIT\""), "{file}");
            continue;
        }
        // Every JUnit file a job writes is the one it uploads.
        assert!(text.contains("--junit shakedown.xml"), "{file}");
        assert!(
            text.contains("report_paths: shakedown.xml") || text.contains("junit: shakedown.xml"),
            "{file}"
        );
    }
    assert!(seen >= 5, "{seen}");
}

/// The release workflow builds the artifacts with the script the tests check and publishes them
/// under the names `ci/fetch-release.sh` fetches.
#[test]
fn the_release_workflow_publishes_what_the_fetch_script_reads() {
    let text = std::fs::read_to_string(common::repo().join("ci/github/release.yml")).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("release.yml is YAML");
    assert_eq!(doc["on"]["push"]["tags"][0], "v*", "{doc}");
    let steps: Vec<String> = doc["jobs"]["release"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str().map(String::from))
        .collect();
    assert!(
        steps.iter().any(|s| s.contains("ci/build-deb.sh release")),
        "{steps:?}"
    );
    assert!(
        steps.iter().any(|s| s.contains("--test release")),
        "{steps:?}"
    );
    assert!(steps
        .iter()
        .any(|s| s.contains("gh release create") && s.contains("target/dist/*")));
    let build = std::fs::read_to_string(common::repo().join("ci/build-deb.sh")).unwrap();
    let fetch = std::fs::read_to_string(common::repo().join("ci/fetch-release.sh")).unwrap();
    for name in ["shakedown-$version-$arch-linux-static", "sha256sums"] {
        assert!(build.contains(name), "build-deb.sh does not make {name}");
        assert!(
            fetch.contains(name),
            "fetch-release.sh does not read {name}"
        );
    }
}
