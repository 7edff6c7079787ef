//! Container and daemon settings on a real managed daemon, checked against oracles that are not
//! the harness's verdict: the daemon's own `inspect` of containers, networks and volumes (bollard,
//! from this test), the container's processes in /proc and their cgroups, the container's own
//! output, and the host's interfaces. Also: bad values are refused with file:line:col and exit 2,
//! networks and volumes are gone after a run and after Ctrl-C, and daemon options reach the
//! managed daemon and are refused on a daemon the harness did not start when they cannot be seen.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptions, ListNetworksOptions, ListVolumesOptions,
    LogsOptions,
};
use bollard::Docker;
use common::*;
use futures_util::StreamExt;

static RT: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
});

/// The tests' runtime (bollard needs one).
fn rt() -> &'static tokio::runtime::Runtime {
    &RT
}

/// The socket of the (only) managed daemon in `state` that has a container labelled
/// `io.shakedown.container=<container>`, and that container's id, once it exists.
fn daemon_running(state: &Path, container: &str, deadline: Duration) -> (PathBuf, Docker, String) {
    let t = Instant::now();
    let rt = rt();
    let _enter = rt.enter();
    loop {
        assert!(
            t.elapsed() < deadline,
            "no running {container} within {deadline:?}"
        );
        for d in std::fs::read_dir(state.join("managed"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let sock = d.path().join("sock/docker.sock");
            if !sock.exists() {
                continue;
            }
            let Ok(docker) =
                Docker::connect_with_unix(sock.to_str().unwrap(), 10, bollard::API_DEFAULT_VERSION)
            else {
                continue;
            };
            let opts = ListContainersOptions {
                all: true,
                filters: Some(
                    [(
                        "label".to_string(),
                        vec![format!("io.shakedown.container={container}")],
                    )]
                    .into(),
                ),
                ..Default::default()
            };
            if let Ok(Ok(list)) = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), docker.list_containers(Some(opts)))
                    .await
            }) {
                if let Some(id) = list.into_iter().find_map(|c| c.id) {
                    return (sock, docker, id);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn logs(docker: &Docker, id: &str) -> String {
    rt().block_on(async {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let mut s = Box::pin(docker.logs(id, Some(opts)));
        let mut out = String::new();
        while let Ok(Some(Ok(c))) = tokio::time::timeout(Duration::from_secs(5), s.next()).await {
            out.push_str(&c.to_string());
        }
        out
    })
}

fn inspect(docker: &Docker, id: &str) -> bollard::models::ContainerInspectResponse {
    rt().block_on(docker.inspect_container(id, None::<InspectContainerOptions>))
        .unwrap()
}

/// Waits until `f` holds, polling.
fn wait_until(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < deadline, "{what}: not within {deadline:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The file of a cgroup controller of a process (v1: /sys/fs/cgroup/<controller>/<path>/<file>,
/// v2: /sys/fs/cgroup/<path>/<file>).
fn cgroup_file(pid: i64, controller: &str, file: &str) -> String {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in cg.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        let p = if ctrls.split(',').any(|c| c == controller) {
            format!("/sys/fs/cgroup/{ctrls}{path}/{file}")
        } else if ctrls.is_empty() {
            format!("/sys/fs/cgroup{path}/{file}")
        } else {
            continue;
        };
        if let Ok(s) = std::fs::read_to_string(&p) {
            return s.trim().to_string();
        }
    }
    panic!("no {controller}/{file} for pid {pid}: {cg}")
}

const SETTINGS: &str = r#"
name: settings
volumes:
  data: {labels: {purpose: test}}
networks:
  backend: {labels: {purpose: test}}
containers:
  server:
    command: [shakedown-fixture, serve, --port, "7000"]
    networks: [backend]
  writer:
    command: [sh, -c, "echo shared > /data/hello && sleep 1000"]
    init: true
    volumes: [{volume: data, target: /data}]
  probe:
    command: |
      id -u; id -g; hostname; pwd; echo hi | nc -w 3 server 7000; cat /hostdir/file; cat /data/hello
      touch /rootfs-test 2>/dev/null || echo rootfs-ro; echo t > /run/t && echo tmpfs-ok
      (echo t > /hostdir/t) 2>/dev/null || echo bind-ro; ulimit -n; ulimit -Hn; echo probe-ready; sleep 1000
    user: "65534:65534"
    hostname: probe-host
    working_dir: /data
    networks: [backend]
    volumes:
      - {volume: data, target: /data}
      - {source: HOSTDIR, target: /hostdir, read_only: true}
    tmpfs: {/run: "size=16m,mode=1777"}
    healthcheck: {test: ["true"], interval: 1s, timeout: 2s, retries: 2, start_period: 1s}
    cpus: 0.5
    pids_limit: 64
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    cap_drop: [ALL]
    cap_add: [NET_ADMIN]
    read_only: true
    shm_size: 32MiB
    log: {driver: json-file, options: {max-size: 1m}}
    restart: on-failure:3
  privileged:
    command: [sleep, "1000"]
    privileged: true
steps:
  - action: {create: {container: privileged}}
  - action: {start: {container: server}}
  - action: {start: {container: writer}}
  - action: {exec: {container: writer, command: [cat, /data/hello]}}
    expect: {output: shared}
  - action: {start: {container: probe}}
  - name: hold
    action: {sleep: {duration: HOLD}}
"#;

fn settings_scenario(dir: &Path, hold: &str) -> PathBuf {
    let host = dir.join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("file"), "from-host\n").unwrap();
    let yaml = SETTINGS
        .replace("HOSTDIR", host.to_str().unwrap())
        .replace("HOLD", hold);
    scenario(dir, "settings", &yaml)
}

/// `shakedown run FILE` in the background, once `container` runs and has printed `ready`: the
/// run, the daemon's socket, a client and the container's id.
fn run_until(
    state: &Path,
    dir: &Path,
    file: &Path,
    container: &str,
    ready: &str,
) -> (Spawned, PathBuf, Docker, String) {
    let run = spawn_json(state, file, &dir.join("r.json"), &["--forensics", "never"]);
    let (sock, docker, id) = daemon_running(state, container, Duration::from_secs(90));
    wait_until("the container's output", Duration::from_secs(30), || {
        logs(&docker, &id).contains(ready)
    });
    (run, sock, docker, id)
}

/// `shakedown run FILES -j 1 --json REPORT` in the background: the scenarios one after the
/// other on one managed daemon.
fn run_one_by_one(state: &Path, files: &[&Path], report: &Path) -> Spawned {
    Spawned::new(
        shakedown(state)
            .arg("run")
            .args(files)
            .args(["-j", "1", "--forensics", "never", "--json"])
            .arg(report)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// The soft and hard `Max open files` of a process, from /proc.
fn nofile(pid: i64) -> Vec<String> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace()
        .skip(3)
        .take(2)
        .map(str::to_string)
        .collect()
}

/// Runs a command that must be refused (exit 2); its standard error.
fn refused(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A network as the daemon shows it, and the name of its bridge on the host.
fn network(docker: &Docker, name: &str) -> (bollard::models::NetworkInspect, String) {
    let net = rt()
        .block_on(docker.inspect_network(
            name,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        ))
        .unwrap();
    let bridge = format!("br-{}", &net.id.as_ref().unwrap()[..12]);
    (net, bridge)
}

/// Networks and volumes on the daemon carrying the harness's run label.
fn labelled(docker: &Docker) -> (Vec<String>, Vec<String>) {
    rt().block_on(async {
        let filters = Some([("label".to_string(), vec!["io.shakedown.run".to_string()])].into());
        let nets = docker
            .list_networks(Some(ListNetworksOptions {
                filters: filters.clone(),
            }))
            .await
            .unwrap()
            .into_iter()
            .filter_map(|n| n.name)
            .collect();
        let vols = docker
            .list_volumes(Some(ListVolumesOptions { filters }))
            .await
            .unwrap()
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        (nets, vols)
    })
}

#[test]
fn settings_take_effect_and_networks_and_volumes_go_with_the_iteration() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = settings_scenario(dir.path(), "25s");
    let after = scenario(
        dir.path(),
        "after",
        "name: after\ncontainers: {later: {command: [sleep, '1000'], init: true}}\nsteps:\n  - action: {start: {container: later}}\n  - action: {sleep: {duration: 15s}}\n",
    );
    let report = dir.path().join("r.json");
    let run = run_one_by_one(state.path(), &[&file, &after], &report);
    let (_, docker, id) = daemon_running(state.path(), "probe", Duration::from_secs(90));
    wait_until("probe's output", Duration::from_secs(30), || {
        logs(&docker, &id).contains("probe-ready")
    });

    // The container's own output.
    let out = logs(&docker, &id);
    let expected = "65534\n65534\nprobe-host\n/data\nhi\nfrom-host\nshared\nrootfs-ro\ntmpfs-ok\nbind-ro\n1024\n2048\nprobe-ready";
    assert!(out.contains(expected), "{out}");

    // The daemon's view of the container.
    let c = inspect(&docker, &id);
    let cfg = c.config.clone().unwrap();
    assert_eq!(cfg.hostname.as_deref(), Some("probe-host"));
    assert_eq!(cfg.user.as_deref(), Some("65534:65534"));
    assert_eq!(cfg.working_dir.as_deref(), Some("/data"));
    let hc = cfg.healthcheck.unwrap();
    assert_eq!(hc.test.unwrap(), ["CMD", "true"]);
    assert_eq!(hc.interval, Some(1_000_000_000));
    assert_eq!(hc.timeout, Some(2_000_000_000));
    assert_eq!(hc.retries, Some(2));
    assert_eq!(hc.start_period, Some(1_000_000_000));
    let h = c.host_config.clone().unwrap();
    assert_eq!(h.nano_cpus, Some(500_000_000));
    assert_eq!(h.pids_limit, Some(64));
    let u = &h.ulimits.unwrap()[0];
    assert_eq!(
        (u.name.as_deref(), u.soft, u.hard),
        (Some("nofile"), Some(1024), Some(2048))
    );
    assert_eq!(h.cap_add.unwrap(), ["NET_ADMIN"]);
    assert_eq!(h.cap_drop.unwrap(), ["ALL"]);
    assert_eq!(h.readonly_rootfs, Some(true));
    assert_eq!(h.privileged, Some(false));
    assert_eq!(h.shm_size, Some(32 << 20));
    let log = h.log_config.unwrap();
    assert_eq!(log.typ.as_deref(), Some("json-file"));
    assert_eq!(log.config.unwrap()["max-size"], "1m");
    let rp = h.restart_policy.unwrap();
    assert_eq!(rp.name.unwrap().to_string(), "on-failure");
    assert_eq!(rp.maximum_retry_count, Some(3));
    assert_eq!(h.tmpfs.unwrap()["/run"], "size=16m,mode=1777");
    let mounts = c.mounts.clone().unwrap();
    let data = mounts
        .iter()
        .find(|m| m.destination.as_deref() == Some("/data"))
        .unwrap();
    let volume = data.name.clone().unwrap();
    assert!(volume.ends_with("-settings-data-1"), "{volume}");
    let bind = mounts
        .iter()
        .find(|m| m.destination.as_deref() == Some("/hostdir"))
        .unwrap();
    assert_eq!(bind.rw, Some(false));
    assert_eq!(
        bind.source.as_deref(),
        Some(dir.path().join("hostdir").to_str().unwrap())
    );
    // The health check runs: the daemon calls the container healthy.
    wait_until("healthy", Duration::from_secs(20), || {
        inspect(&docker, &id)
            .state
            .and_then(|s| s.health)
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .as_deref()
            == Some("healthy")
    });

    // The kernel's view of its process.
    let pid = c.state.unwrap().pid.unwrap();
    assert_eq!(nofile(pid), ["1024", "2048"]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let capbnd = status.lines().find(|l| l.starts_with("CapBnd")).unwrap();
    // CAP_NET_ADMIN is bit 12.
    assert_eq!(capbnd.split_whitespace().nth(1), Some("0000000000001000"));
    assert_eq!(cgroup_file(pid, "pids", "pids.max"), "64");
    // A privileged container (created only: this host may not grant every capability).
    let (_, _, privileged) = daemon_running(state.path(), "privileged", Duration::from_secs(5));
    let p = inspect(&docker, &privileged).host_config.unwrap();
    assert_eq!(p.privileged, Some(true));
    let v1 = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .any(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|c| c == "cpu"))
        });
    let quota = if v1 {
        cgroup_file(pid, "cpu", "cpu.cfs_quota_us")
    } else {
        cgroup_file(pid, "cpu", "cpu.max")
    };
    assert!(quota.starts_with("50000"), "{quota}");

    // The network and the volume: labelled, the probe reachable under its scenario name.
    let (nets, vols) = labelled(&docker);
    assert_eq!(nets.len(), 1, "{nets:?}");
    assert_eq!(vols, std::slice::from_ref(&volume));
    let (net, bridge) = network(&docker, &nets[0]);
    let labels = net.labels.unwrap();
    assert_eq!(labels["purpose"], "test");
    assert_eq!(labels["io.shakedown.network"], "backend");
    let subnet = net.ipam.unwrap().config.unwrap()[0].subnet.clone().unwrap();
    assert!(subnet.starts_with("10.214."), "{subnet}");
    let aliases = c.network_settings.unwrap().networks.unwrap()[&nets[0]]
        .aliases
        .clone()
        .unwrap();
    assert!(aliases.contains(&"probe".to_string()), "{aliases:?}");
    assert!(interfaces().contains(&bridge), "{bridge}");
    let vol = rt().block_on(docker.inspect_volume(&volume)).unwrap();
    assert_eq!(vol.labels["purpose"], "test");
    assert!(vol.labels.contains_key("io.shakedown.run"));

    // The next scenario runs on the same daemon: the first one's network and volume are gone.
    let _ = daemon_running(state.path(), "later", Duration::from_secs(60));
    assert_eq!(labelled(&docker), (vec![], vec![]));
    assert!(!interfaces().contains(&bridge), "{bridge} is left");
    let out = run.wait_with_output();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&report);
    assert_eq!(verdict(&r, "settings")["outcome"], "pass", "{r:#}");
}

#[test]
fn ctrl_c_removes_networks_and_volumes() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = settings_scenario(dir.path(), "120s");
    let (run, _, docker, _) = run_until(state.path(), dir.path(), &file, "probe", "probe-ready");
    let (nets, vols) = labelled(&docker);
    assert_eq!((nets.len(), vols.len()), (1, 1));
    let (_, bridge) = network(&docker, &nets[0]);
    assert!(interfaces().contains(&bridge));
    signal(run.child(), nix::sys::signal::Signal::SIGINT);
    let out = run.wait_with_output();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    // The host no longer has the network's bridge (a managed daemon's removal alone would leave it).
    assert!(!interfaces().contains(&bridge), "{bridge} is left");
    // And the journal says both were removed while the daemon still ran.
    let journal = std::fs::read_to_string(first_journal(state.path())).unwrap();
    let events: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for kind in ["network", "volume"] {
        let change = events
            .iter()
            .find(|e| e["event"] == "change_made" && e["handle"]["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} change"))["change"]
            .clone();
        assert!(
            events.iter().any(|e| e["event"] == "change_undone"
                && e["change"] == change
                && e["ok"] == true
                && e["detail"] == "removed"),
            "{kind} not removed: {journal}"
        );
    }
    let left: Vec<PathBuf> = std::fs::read_dir(state.path().join("managed"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn clean_removes_the_networks_of_a_killed_run_and_daemon() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = settings_scenario(dir.path(), "120s");
    let (run, sock, docker, _) = run_until(state.path(), dir.path(), &file, "probe", "probe-ready");
    let (nets, _) = labelled(&docker);
    let (_, bridge) = network(&docker, &nets[0]);
    signal(run.child(), nix::sys::signal::Signal::SIGKILL);
    let _ = run.wait();
    // The daemon dies too, so its network cannot be removed through its API: the sweep of its
    // directory must find the network's bridge.
    let pidfile = sock.parent().unwrap().parent().unwrap().join("docker.pid");
    let pid: i32 = std::fs::read_to_string(pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(interfaces().contains(&bridge));
    let out = shakedown(state.path()).arg("clean").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !interfaces().contains(&bridge),
        "{bridge} is left: {}",
        text(&out)
    );
}

#[test]
fn wait_for_health_follows_the_daemons_health_events() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let never = scenario(
        dir.path(),
        "never",
        r#"name: never-healthy
containers:
  sick:
    command: [sleep, "1000"]
    init: true
    healthcheck: {test: ["false"], interval: 200ms, retries: 1}
steps:
  - action: {start: {container: sick}}
  - action: {wait_for: {container: sick, state: running, health: healthy}}
    deadline: 3s
"#,
    );
    let health = scenario(
        dir.path(),
        "health",
        r#"name: health
containers:
  app:
    command: [sleep, "1000"]
    init: true
    healthcheck: {test: [test, -e, /tmp/ready], interval: 200ms, timeout: 1s, retries: 2}
steps:
  - action: {start: {container: app}}
  - action: {wait_for: {container: app, state: running, health: unhealthy}}
    deadline: 20s
  - action: {exec: {container: app, command: [touch, /tmp/ready]}}
  - action: {wait_for: {container: app, state: running, health: healthy}}
    deadline: 20s
  - name: hold
    action: {sleep: {duration: 60s}}
"#,
    );
    let report = dir.path().join("r.json");
    let run = run_one_by_one(state.path(), &[&never, &health], &report);
    let (_, docker, id) = daemon_running(state.path(), "app", Duration::from_secs(90));
    // The harness is in its hold step once the container is healthy for the daemon, and the
    // daemon's own events say it was unhealthy first.
    wait_until("healthy", Duration::from_secs(30), || {
        inspect(&docker, &id)
            .state
            .and_then(|s| s.health)
            .and_then(|h| h.status)
            .is_some_and(|s| s.to_string() == "healthy")
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let events: Vec<String> = rt().block_on(async {
        let opts = bollard::query_parameters::EventsOptions {
            since: Some("0".into()),
            until: Some((now + 2).to_string()),
            filters: Some([("container".to_string(), vec![id.clone()])].into()),
        };
        docker
            .events(Some(opts))
            .filter_map(|e| async move { e.ok().and_then(|e| e.action) })
            .filter(|a| std::future::ready(a.starts_with("health_status")))
            .collect()
            .await
    });
    let unhealthy = events.iter().position(|a| a.ends_with("unhealthy"));
    let healthy = events.iter().position(|a| a.ends_with(": healthy"));
    assert!(
        matches!((unhealthy, healthy), (Some(u), Some(h)) if u < h),
        "{events:?}"
    );
    signal(run.child(), nix::sys::signal::Signal::SIGINT);
    let out = run.wait_with_output();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let r = json(&report);
    // The container that never becomes healthy fails its wait: no wrong pass.
    assert_eq!(verdict(&r, "never-healthy")["outcome"], "fail", "{r:#}");
}

#[test]
fn bad_values_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "bad",
        r#"name: bad
requires:
  daemon_options: {live-restore: true, shutdown-timeout: 5, Bad_Key: 1}
volumes: {data: {}}
networks: {net: {}}
containers:
  c:
    volumes:
      - {volume: nope, target: /x}
      - {source: relative/path, target: /y}
      - {source: "{{daemon_sock}}", target: /z}
      - {volume: data, target: rel}
    tmpfs: {run: "size=1m"}
    networks: [nope]
    hostname: "bad_host!"
    user: "a b"
    working_dir: rel
    cpus: 0
    pids_limit: 0
    cap_add: [net_admin]
    log: {driver: ""}
steps:
  - action: {start: {container: c}}
"#,
    );
    let err = refused(shakedown(dir.path()).arg("validate").arg(&file));
    let f = file.display();
    for (at, what) in [
        ("3:34", "\"live-restore\" cannot be set in daemon_options"),
        ("3:70", "\"Bad_Key\" is not a daemon.json key"),
        (
            "9:18",
            "volume \"nope\", which is not in the top-level `volumes`",
        ),
        (
            "10:18",
            "source \"relative/path\" must be an absolute host path",
        ),
        ("11:18", "the only templates are {{daemon_socket}}"),
        ("12:32", "target \"rel\" must be an absolute path"),
        ("13:18", "tmpfs path \"run\" must be an absolute path"),
        (
            "14:16",
            "network \"nope\", which is not in the top-level `networks`",
        ),
        ("15:15", "hostname \"bad_host!\""),
        ("16:11", "user \"a b\""),
        ("17:18", "working_dir \"rel\""),
        ("18:11", "cpus 0 must be between"),
        ("19:17", "pids_limit 0 must be at least 1"),
        ("20:15", "\"net_admin\" is not a capability name"),
        ("21:19", "log driver \"\" is not a driver name"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in {err}"));
        assert!(line.contains(&format!("{f}:{at}:")), "{line}");
    }
    // Errors found while parsing (a value docker cannot take) also name their place.
    for (yaml, at, what) in [
        ("restart: on-failure:x", "8:14", "invalid restart policy"),
        (
            "ulimits: {nofiles: 5}",
            "8:15",
            "unknown ulimit \"nofiles\"",
        ),
        (
            "ulimits: {nofile: {soft: 9, hard: 5}}",
            "8:23",
            "soft limit 9 is above the hard limit 5",
        ),
    ] {
        let file = scenario(
            dir.path(),
            "bad2",
            &format!("name: bad2\n\n\n\n\ncontainers:\n  c:\n    {yaml}\nsteps:\n  - action: {{start: {{container: c}}}}\n"),
        );
        let err = refused(shakedown(dir.path()).arg("validate").arg(&file));
        assert!(
            err.contains(&format!("{}:{at}: ", file.display())) && err.contains(what),
            "{yaml}: {err}"
        );
    }
}

#[test]
fn daemon_options_reach_the_managed_daemon_and_are_checked_elsewhere() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "dopts",
        r#"name: dopts
requires:
  daemon_options:
    default-ulimits: {nofile: {Name: nofile, Soft: 333, Hard: 444}}
    shutdown-timeout: 7
    labels: [io.shakedown.test=dopts]
containers:
  c:
    command: [sh, -c, "ulimit -n; ulimit -Hn; sleep 1000"]
    init: true
steps:
  - action: {start: {container: c}}
  - action: {sleep: {duration: 60s}}
"#,
    );
    let (run, sock, docker, id) = run_until(state.path(), dir.path(), &file, "c", "444");
    assert!(logs(&docker, &id).contains("333\n444"));
    let pid = inspect(&docker, &id).state.unwrap().pid.unwrap();
    assert_eq!(nofile(pid), ["333", "444"]);
    let info = rt().block_on(docker.info()).unwrap();
    assert_eq!(info.labels.unwrap(), ["io.shakedown.test=dopts"]);

    // The same daemon as one the harness did not start: what `docker info` shows is compared,
    // what it does not show is refused, before anything runs.
    let host = format!("unix://{}", sock.display());
    for (options, what) in [
        (
            "shutdown-timeout: 7",
            "cannot be verified on an existing daemon",
        ),
        (
            "experimental: true",
            "the daemon runs with experimental: false",
        ),
        (
            "labels: [io.shakedown.test=other]",
            "the daemon's labels are",
        ),
    ] {
        let f = scenario(
            dir.path(),
            "other",
            &format!("name: other\nrequires:\n  daemon_options: {{{options}}}\ncontainers: {{x: {{}}}}\nsteps:\n  - action: {{start: {{container: x}}}}\n"),
        );
        let mut cmd = shakedown(state.path());
        cmd.env("DOCKER_HOST", &host)
            .args(["run", "--target", "docker"])
            .arg(&f);
        let err = refused(&mut cmd);
        assert!(err.contains(what), "{err}");
    }
    let list = rt()
        .block_on(docker.list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        })))
        .unwrap();
    assert_eq!(list.len(), 1, "a refused scenario created something");
    signal(run.child(), nix::sys::signal::Signal::SIGINT);
    assert_eq!(run.wait().code(), Some(130));
}
