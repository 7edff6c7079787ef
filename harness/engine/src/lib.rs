//! Targets: where scenarios run. `managed` starts a private dockerd that the harness owns (its own
//! roots, socket, containerd namespace and bridge); `docker` uses an existing daemon and refuses
//! disruptive scenarios unless they are explicitly allowed.

pub mod fixture;
pub mod images;

pub mod bundle;
pub mod cache;
pub mod compose;
pub mod daemon;
pub mod managed;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use docker::DockerClient;
use journal::{Change, ChangeScope};
use ledger::{ChangeId, Ledger};
use managed::{DaemonOptions, EngineBinaries, ManagedDaemon};
use model::error::{Error, Result};
use model::scenario::PlannedScenario;

pub use model::action::{READY_DEADLINE, STOP_DEADLINE};

/// Shared control of the daemon process, for daemon faults and for the target itself.
pub type DaemonHandle = Arc<tokio::sync::Mutex<daemon::Daemon>>;

/// Which kind of target to run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetKind {
    /// A private dockerd started and owned by the harness.
    Managed,
    /// An existing daemon, from DOCKER_HOST or the default socket.
    Docker,
}

impl TargetKind {
    /// Name as given on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Managed => "managed",
            TargetKind::Docker => "docker",
        }
    }
}

/// Settings for opening a target.
#[derive(Clone, Debug)]
pub struct TargetOptions {
    /// Target kind.
    pub kind: TargetKind,
    /// Directory holding the engine's binaries for the managed target (default: PATH).
    pub engine_dir: Option<PathBuf>,
    /// Allow scenarios that disturb a daemon the harness did not start.
    pub allow_disruptive: bool,
    /// The harness's state directory (managed daemons live under `managed/`).
    pub state_dir: PathBuf,
    /// Further dockerd arguments for the managed daemon (a side of `qualify`, say).
    pub daemon_args: Vec<String>,
    /// The user's daemon configuration (`run --daemon-config`): the managed daemon's `daemon.json`
    /// starts from its settings.
    pub daemon_config: managed::UserConfig,
}

/// The harness's state directory: `$SHAKEDOWN_STATE_DIR`, else `/var/lib/shakedown`.
pub fn default_state_dir() -> PathBuf {
    host::private::state_dir()
}

/// An open target: a daemon client, and the daemon itself when the harness owns it.
pub struct Target {
    kind: TargetKind,
    client: DockerClient,
    managed: Option<DaemonHandle>,
    allow_disruptive: bool,
    managed_change: Option<ChangeId>,
    daemon_args: Vec<String>,
    daemon_config: managed::UserConfig,
}

/// The managed daemon's options for a scenario: the user's configuration (`base`), under the
/// scenario's `daemon_options`, under what the scenario requires and the side's flags — a key of
/// `base` that a requirement or a flag decides is left out, so the scenario gets what it asks.
fn daemon_options(
    plan: &PlannedScenario,
    daemon_args: &[String],
    base: &std::collections::BTreeMap<String, serde_json::Value>,
) -> DaemonOptions {
    let requires = &plan.scenario.requires;
    let mut extra_args = vec![];
    if requires.userland_proxy == Some(false) {
        extra_args.push("--userland-proxy=false".to_string());
    }
    extra_args.extend(daemon_args.iter().cloned());
    let flagged: Vec<&str> = extra_args
        .iter()
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split('=').next().unwrap_or(a))
        .collect();
    let decided = |k: &str| {
        flagged.contains(&k)
            || (k == "live-restore" && requires.live_restore.is_some())
            || (k == "userland-proxy" && requires.userland_proxy.is_some())
    };
    let mut config: std::collections::BTreeMap<String, serde_json::Value> = base
        .iter()
        .filter(|(k, _)| !decided(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    config.extend(requires.daemon_options_plain());
    DaemonOptions {
        live_restore: requires.live_restore.unwrap_or(false),
        extra_args,
        config,
        ..Default::default()
    }
}

/// What the host lacks to make the filesystems the scenarios require (`requires: {data_root:
/// ...}`): a `mkfs`, `losetup`, `mount`, or the filesystem in the kernel; one line per scenario.
fn data_root_lacks(plans: &[PlannedScenario]) -> Vec<String> {
    let kernel = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let mut lines = Vec::new();
    for p in plans {
        let Some(d) = p.scenario.requires.data_root else {
            continue;
        };
        let fs = d.fs.name();
        let mkfs = format!("mkfs.{fs}");
        let mut missing: Vec<String> = [mkfs.as_str(), "losetup", "mount"]
            .into_iter()
            .filter(|t| host::cmd::which(t).is_none())
            .map(|t| format!("{t} (not on PATH)"))
            .collect();
        if !kernel.split_whitespace().any(|k| k == fs) {
            missing.push(format!("{fs} in the kernel (/proc/filesystems)"));
        }
        if !std::path::Path::new("/dev/loop-control").exists() {
            missing.push("loop devices (/dev/loop-control)".into());
        }
        if !missing.is_empty() {
            lines.push(format!(
                "{}: scenario {:?} requires a {} data-root the harness makes, and this host lacks {}",
                p.file.display(),
                p.name(),
                fs,
                missing.join(", ")
            ));
        }
    }
    lines
}

/// Daemon options `docker info` shows, with where: an option not listed cannot be verified on a
/// daemon the harness did not start.
const VERIFIABLE_OPTIONS: &[&str] = &[
    "experimental",
    "default-runtime",
    "storage-driver",
    "labels",
    "no-new-privileges",
    "selinux-enabled",
];

/// Whether the daemon whose `docker info` is `info` runs with `key: want`; `Err` says why not or
/// that it cannot be told.
fn verify_option(
    key: &str,
    want: &serde_json::Value,
    info: &serde_json::Value,
) -> std::result::Result<(), String> {
    use serde_json::Value;
    let security = |name: &str| {
        info["SecurityOptions"].as_array().is_some_and(|a| {
            a.iter().any(|o| {
                o.as_str()
                    .is_some_and(|o| o.split(',').any(|p| p == format!("name={name}")))
            })
        })
    };
    let have = match key {
        "experimental" => info["ExperimentalBuild"].clone(),
        "default-runtime" => info["DefaultRuntime"].clone(),
        "storage-driver" => info["Driver"].clone(),
        "labels" => {
            let mut v: Vec<String> = info["Labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect();
            v.sort();
            let mut w: Vec<String> = want
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect();
            w.sort();
            return if v == w {
                Ok(())
            } else {
                Err(format!("the daemon's labels are {v:?}"))
            };
        }
        "no-new-privileges" => Value::Bool(security("no-new-privileges")),
        "selinux-enabled" => Value::Bool(security("selinux")),
        _ => {
            return Err(format!(
                "{key:?} cannot be verified on an existing daemon (`docker info` does not show it;                  verifiable: {}): use --target managed",
                VERIFIABLE_OPTIONS.join(", ")
            ))
        }
    };
    if &have == want {
        Ok(())
    } else {
        Err(format!("the daemon runs with {key}: {have}"))
    }
}

impl Target {
    /// The daemon's configuration for the journal's fingerprint: its settings, where they came
    /// from (or why there are none), and the user's settings the harness left out.
    pub async fn configuration(
        &self,
    ) -> (BTreeMap<String, serde_json::Value>, String, Vec<String>) {
        let c = &self.daemon_config;
        if self.kind == TargetKind::Managed {
            let source = match &c.file {
                Some(f) => format!("{} (--daemon-config)", f.display()),
                None => "none (the harness's own settings only)".into(),
            };
            return (c.settings.clone(), source, c.left_out.clone());
        }
        let file = match &self.managed {
            Some(d) => d.lock().await.config_file(),
            None => None,
        };
        let Some(path) = file else {
            return (
                BTreeMap::new(),
                "unknown: the daemon's process is not one on this host".into(),
                vec![],
            );
        };
        let shown = path.display().to_string();
        let read = host::blocking(
            "reading the daemon's configuration file",
            Duration::from_secs(5),
            {
                let path = path.clone();
                move || std::fs::read_to_string(path)
            },
        )
        .await;
        match read {
            Ok(Ok(text)) => {
                match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&text) {
                    Ok(map) => (map, shown, vec![]),
                    Err(e) => (
                        BTreeMap::new(),
                        format!("{shown}: not a JSON object: {e}"),
                        vec![],
                    ),
                }
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => (
                BTreeMap::new(),
                format!("{shown}: none (the daemon's defaults and flags)"),
                vec![],
            ),
            Ok(Err(e)) => (
                BTreeMap::new(),
                format!("{shown}: cannot read: {e}"),
                vec![],
            ),
            Err(e) => (BTreeMap::new(), format!("{shown}: {e}"), vec![]),
        }
    }

    /// Opens a target; for `managed`, clears what earlier killed runs left and starts a daemon with
    /// the options the first scenario needs (journaled in the ledger before it is started).
    pub async fn open(
        opts: &TargetOptions,
        first: Option<&PlannedScenario>,
        ledger: &Ledger,
    ) -> Result<Target> {
        match opts.kind {
            TargetKind::Docker => {
                let endpoint = docker::Endpoint::from_env()
                    .map_err(|e| Error::env(format!("the Docker daemon to use: {e:#}")))?;
                let host = endpoint.host.clone();
                let client = DockerClient::connect_endpoint(&endpoint).map_err(Error::env)?;
                client.ping(Duration::from_secs(10)).await.map_err(|e| {
                    let e = format!("{e:#}");
                    let hint = if e.contains("HTTP request to an HTTPS server") {
                        "it speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), or use a Docker context"
                    } else {
                        "start it, or set DOCKER_HOST or DOCKER_CONTEXT, or use --target managed"
                    };
                    Error::env(format!(
                        "the Docker daemon at {host} ({}) does not answer: {e}\n({hint})",
                        endpoint.source
                    ))
                })?;
                // A local daemon's process is found behind its socket: its roots, bridge and
                // containerd namespace scope leak detection, and with --allow-disruptive daemon
                // faults may act on it (disruptive scenarios are refused otherwise).
                let mut managed = None;
                if let Some(path) = host.strip_prefix("unix://") {
                    let live = client
                        .fingerprint()
                        .await
                        .map(|f| f.live_restore)
                        .unwrap_or(false);
                    let log = opts.state_dir.join("restarted-dockerd.log");
                    let _ = host::private::create_dir_all(&opts.state_dir);
                    let socket = std::path::PathBuf::from(path);
                    let found = host::blocking(
                        "finding the daemon behind its socket",
                        Duration::from_secs(10),
                        move || daemon::SystemDaemon::discover(&socket, live, log),
                    )
                    .await;
                    match found {
                        Ok(Ok(d)) => {
                            managed =
                                Some(Arc::new(tokio::sync::Mutex::new(daemon::Daemon::System(d))))
                        }
                        Ok(Err(e)) => tracing::warn!("the daemon's process is unknown: {e:#}"),
                        Err(e) => tracing::warn!("the daemon's process is unknown: {e}"),
                    }
                }
                Ok(Target {
                    kind: opts.kind,
                    client,
                    managed,
                    allow_disruptive: opts.allow_disruptive,
                    managed_change: None,
                    daemon_args: opts.daemon_args.clone(),
                    daemon_config: opts.daemon_config.clone(),
                })
            }
            TargetKind::Managed => {
                let engine = EngineBinaries {
                    dir: opts.engine_dir.clone(),
                }
                .resolve()
                .map_err(|e| Error::env(format!("{e:#}")))?;
                let root = opts.state_dir.join("managed");
                host::private::create_dir_all(&root)
                    .map_err(|e| Error::env(format!("cannot create {}: {e}", root.display())))?;
                for line in managed::sweep_stale(&root)
                    .await
                    .map_err(|e| Error::env(format!("{e:#}")))?
                {
                    tracing::info!("recovered from an earlier run: {line}");
                }
                let options = first
                    .map(|p| daemon_options(p, &opts.daemon_args, &opts.daemon_config.settings))
                    .unwrap_or_else(|| DaemonOptions {
                        extra_args: opts.daemon_args.clone(),
                        config: opts.daemon_config.settings.clone(),
                        ..Default::default()
                    });
                // Write-ahead: the daemon's directory is made inside `start`; its owner file lets
                // a sweep find it should the harness die before the ledger knows its name.
                let change = ledger
                    .record(
                        ChangeScope::Run,
                        Change::ManagedDaemon {
                            dir: root.clone(),
                            id: String::new(),
                        },
                        None,
                    )
                    .await
                    .map_err(|e| Error::env(format!("{e}")))?;
                let daemon =
                    match ManagedDaemon::start(&root, &engine, &options, READY_DEADLINE).await {
                        Ok(d) => d,
                        Err(e) => {
                            ledger.resolved(
                                change,
                                "the daemon did not start (its directory was removed)",
                            );
                            // With the user's daemon.json, dockerd's refusal (its words quote
                            // the key) is that file's problem: bad input, exit 2; without one,
                            // a daemon that does not start is the environment's, exit 3.
                            let msg = format!("starting the managed dockerd: {e:#}");
                            return Err(if opts.daemon_config.settings.is_empty() {
                                Error::env(msg)
                            } else {
                                Error::input(msg)
                            });
                        }
                    };
                ledger
                    .update(
                        change,
                        Change::ManagedDaemon {
                            dir: daemon.dir().to_path_buf(),
                            id: daemon.id().to_string(),
                        },
                    )
                    .await;
                let client = match DockerClient::connect(&daemon.docker_host()) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = daemon.shutdown(STOP_DEADLINE).await;
                        return Err(Error::env(format!("{e:#}")));
                    }
                };
                Ok(Target {
                    kind: opts.kind,
                    client,
                    managed: Some(Arc::new(tokio::sync::Mutex::new(daemon::Daemon::Managed(
                        daemon,
                    )))),
                    allow_disruptive: true,
                    managed_change: Some(change),
                    daemon_args: opts.daemon_args.clone(),
                    daemon_config: opts.daemon_config.clone(),
                })
            }
        }
    }

    /// The target's kind.
    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    /// The daemon client.
    pub fn client(&self) -> &DockerClient {
        &self.client
    }

    /// The daemon process: the managed daemon, or a local daemon found behind its socket.
    pub fn daemon(&self) -> Option<DaemonHandle> {
        self.managed.clone()
    }

    /// Problems that make a scenario impossible on this target, decided before anything runs.
    pub async fn refusals(&self, plans: &[PlannedScenario]) -> Result<()> {
        if self.kind == TargetKind::Managed {
            let lacking = data_root_lacks(plans);
            if !lacking.is_empty() {
                return Err(Error::env(lacking.join("\n")));
            }
            let mut problems = Vec::new();
            for p in plans {
                let conflicts =
                    daemon_options(p, &self.daemon_args, &self.daemon_config.settings).conflicts();
                if !conflicts.is_empty() {
                    problems.push(format!(
                        "{}: scenario {:?} sets daemon option(s) {} in daemon_options, which are also                          given as dockerd flags ({}): dockerd refuses a setting given both ways",
                        p.file.display(),
                        p.name(),
                        conflicts.join(", "),
                        self.daemon_args.join(" ")
                    ));
                }
            }
            return if problems.is_empty() {
                Ok(())
            } else {
                Err(Error::Input(problems))
            };
        }
        let info = if plans
            .iter()
            .any(|p| !p.scenario.requires.daemon_options.is_empty())
        {
            self.client
                .info_json()
                .await
                .map_err(|e| Error::env(format!("{e:#}")))?
        } else {
            serde_json::Value::Null
        };
        let live = self
            .client
            .fingerprint()
            .await
            .map_err(|e| Error::env(format!("{e:#}")))?
            .live_restore;
        let mut problems = Vec::new();
        for p in plans {
            if p.scenario.requires.disruptive && !self.allow_disruptive {
                problems.push(format!(
                    "{}: scenario {:?} is disruptive (it disturbs the daemon itself) and the daemon at {} \
                     was not started by the harness: pass --allow-disruptive to run it anyway, or use --target managed",
                    p.file.display(),
                    p.name(),
                    self.client.host()
                ));
            }
            if p.scenario.requires.userland_proxy.is_some() {
                problems.push(format!(
                    "{}: scenario {:?} requires a userland-proxy setting, which only a daemon the harness starts can be given: use --target managed",
                    p.file.display(),
                    p.name()
                ));
            }
            for (key, want) in &p.scenario.requires.daemon_options {
                if let Err(why) = verify_option(key, &want.value, &info) {
                    problems.push(format!(
                        "{}: scenario {:?} requires daemon option {key}: {}, and the daemon at {}                          was not started by the harness: {why}",
                        p.file.display(),
                        p.name(),
                        want.value,
                        self.client.host()
                    ));
                }
            }
            if let Some(want) = p.scenario.requires.live_restore {
                if want != live {
                    problems.push(format!(
                        "{}: scenario {:?} requires live_restore: {want}, but the daemon at {} runs with live-restore {}",
                        p.file.display(),
                        p.name(),
                        self.client.host(),
                        if live { "enabled" } else { "disabled" }
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Input(problems))
        }
    }

    /// Makes the daemon fit a scenario: a managed daemon is restarted when it needs other options
    /// (`data_root`: a directory on the filesystem the harness made for the scenario, else its
    /// own `D/data`).
    pub async fn prepare(
        &mut self,
        plan: &PlannedScenario,
        data_root: Option<&std::path::Path>,
    ) -> anyhow::Result<()> {
        let Some(daemon) = self.managed.as_ref() else {
            return Ok(());
        };
        let mut daemon = daemon.lock().await;
        // A daemon the harness did not start is never restarted just to fit a scenario.
        if !matches!(*daemon, daemon::Daemon::Managed(_)) {
            return Ok(());
        }
        let want = DaemonOptions {
            data_root: data_root.map(std::path::Path::to_path_buf),
            ..daemon_options(plan, &self.daemon_args, &self.daemon_config.settings)
        };
        // A fault may have left it stopped (e.g. killed without restart): start it again.
        if !daemon.is_running() {
            daemon.start_again(&want, READY_DEADLINE).await?;
        } else if daemon.options() != &want {
            daemon.stop(STOP_DEADLINE).await?;
            daemon.start_again(&want, READY_DEADLINE).await?;
        }
        Ok(())
    }

    /// Stops a managed daemon that runs on a filesystem the harness made for a scenario, so that
    /// the filesystem can be unmounted; the next [`Target::prepare`] starts it again.
    pub async fn leave_data_root(&mut self) -> anyhow::Result<()> {
        let Some(daemon) = self.managed.as_ref() else {
            return Ok(());
        };
        let mut daemon = daemon.lock().await;
        if let daemon::Daemon::Managed(m) = &mut *daemon {
            if m.options().data_root.is_some() {
                m.stop(STOP_DEADLINE).await?;
            }
        }
        Ok(())
    }

    /// Closes the target; a managed daemon is stopped and everything it left is removed, and the
    /// ledger says so.
    pub async fn close(self, ledger: &Ledger) -> Vec<String> {
        let change = self.managed_change;
        match self.managed {
            None => vec![],
            Some(handle) => {
                let daemon = match Arc::try_unwrap(handle).map(|m| m.into_inner()) {
                    Ok(daemon::Daemon::Managed(m)) => m,
                    Ok(daemon::Daemon::System(_)) => return vec![],
                    Err(_) => {
                        return vec![
                            "the managed dockerd is still in use; `shakedown clean` will remove it"
                                .into(),
                        ]
                    }
                };
                let dir = daemon.dir().display().to_string();
                match daemon.shutdown(STOP_DEADLINE).await {
                    Ok(()) => {
                        let line = format!("stopped the managed dockerd and removed {dir}");
                        if let Some(c) = change {
                            ledger.resolved(c, &line);
                        }
                        vec![line]
                    }
                    Err(e) => vec![format!("stopping the managed dockerd: {e:#}")],
                }
            }
        }
    }
}
