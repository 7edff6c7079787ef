//! A scenario container's settings as docker takes them, and the networks and volumes it needs:
//! created on the target daemon when the first container that uses one is created, labelled,
//! journaled in the ledger before they are made and removed when the iteration ends.

use std::collections::HashMap;

use anyhow::anyhow;

use crate::ctx::Ctx;
use crate::scenario::settings::{DAEMON_SOCKET, DAEMON_SOCKET_DIR};
use crate::scenario::{Command, ContainerSpec};
use docker::{
    CreateSpec, HealthSpec, LABEL_HOST, LABEL_ITERATION, LABEL_PID, LABEL_RUN, LABEL_SCENARIO,
};
use journal::Change;

/// Label carrying a network's name within its scenario.
pub const LABEL_NETWORK: &str = "io.shakedown.network";
/// Label carrying a volume's name within its scenario.
pub const LABEL_VOLUME: &str = "io.shakedown.volume";

/// Serialises the creation of networks and volumes, so two containers created at once (churn's
/// copies) never both create one.
static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn nanos(d: Option<model::units::HumanDuration>) -> i64 {
    d.map(|d| d.get().as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

impl Ctx<'_> {
    /// The labels of a network or volume of this iteration.
    fn resource_labels(
        &self,
        kind_label: &str,
        name: &str,
        extra: &std::collections::BTreeMap<String, String>,
    ) -> HashMap<String, String> {
        let mut labels: HashMap<String, String> = extra.clone().into_iter().collect();
        labels.insert(LABEL_RUN.into(), self.run_id.into());
        labels.insert(LABEL_ITERATION.into(), self.iteration_label.clone());
        labels.insert(LABEL_SCENARIO.into(), self.plan.name().into());
        labels.insert(kind_label.into(), name.into());
        labels.insert(LABEL_PID.into(), std::process::id().to_string());
        labels.insert(LABEL_HOST.into(), host::hostname());
        labels
    }

    /// The docker name of a scenario network in this iteration, created (and journaled) if it
    /// was not yet.
    pub async fn ensure_network(&self, name: &str) -> anyhow::Result<String> {
        let spec = self
            .plan
            .scenario
            .networks
            .get(name)
            .ok_or_else(|| anyhow!("unknown network {name:?}"))?;
        let labels = self.resource_labels(LABEL_NETWORK, name, &spec.labels);
        let internal = spec.internal;
        let handle = |daemon, name| Change::Network { daemon, name };
        self.ensure_resource(name, "network", handle, |n| async move {
            self.docker
                .create_network(&n, labels, internal)
                .await
                .map(drop)
        })
        .await
    }

    /// The docker name of a scenario volume in this iteration, created (and journaled) if it
    /// was not yet.
    pub async fn ensure_volume(&self, name: &str) -> anyhow::Result<String> {
        let spec = self
            .plan
            .scenario
            .volumes
            .get(name)
            .ok_or_else(|| anyhow!("unknown volume {name:?}"))?;
        let labels = self.resource_labels(LABEL_VOLUME, name, &spec.labels);
        let handle = |daemon, name| Change::Volume { daemon, name };
        self.ensure_resource(name, "volume", handle, |n| async move {
            self.docker.create_volume(&n, labels).await
        })
        .await
    }

    /// Creates a network or volume once per iteration: journaled (by `change`) before `create`
    /// makes it, undone at once when making it fails.
    async fn ensure_resource<F>(
        &self,
        name: &str,
        kind: &str,
        change: impl Fn(String, String) -> Change,
        create: impl FnOnce(String) -> F,
    ) -> anyhow::Result<String>
    where
        F: std::future::Future<Output = anyhow::Result<()>>,
    {
        let docker_name = self.docker_name(name);
        let handle = change(self.docker.host().to_string(), docker_name.clone());
        let _guard = CREATING.lock().await;
        if !self.ledger.outstanding(|c| *c == handle).is_empty() {
            return Ok(docker_name);
        }
        let id = self.change(self.iteration_scope(), handle, None).await?;
        if let Err(e) = create(docker_name.clone()).await {
            let _ = self.undo(id).await;
            return Err(e.context(format!("creating {kind} {name:?}")));
        }
        Ok(docker_name)
    }

    /// The target daemon's API socket path, for `{{daemon_socket}}` binds.
    fn daemon_socket(&self) -> anyhow::Result<std::path::PathBuf> {
        let host = self.docker.host();
        host.strip_prefix("unix://")
            .or_else(|| host.starts_with('/').then_some(host))
            .map(std::path::PathBuf::from)
            .ok_or_else(|| {
                anyhow!("{DAEMON_SOCKET} needs a daemon reached through a unix socket, not {host}")
            })
    }

    /// Fills in `create` from a scenario container's settings: mounts (creating its volumes),
    /// networks (creating them; the container's scenario name is its DNS alias there), and the
    /// rest as docker takes it.
    pub async fn apply_settings(
        &self,
        name: &str,
        spec: &ContainerSpec,
        create: &mut CreateSpec<'_>,
    ) -> anyhow::Result<()> {
        for m in &spec.volumes {
            let source = match (&m.volume, &m.source) {
                (Some(v), _) => self.ensure_volume(&v.value).await?,
                (None, Some(s)) if s.value == DAEMON_SOCKET => {
                    self.daemon_socket()?.display().to_string()
                }
                (None, Some(s)) if s.value == DAEMON_SOCKET_DIR => self
                    .daemon_socket()?
                    .parent()
                    .ok_or_else(|| anyhow!("the daemon's socket has no directory"))?
                    .display()
                    .to_string(),
                (None, Some(s)) => s.value.clone(),
                (None, None) => return Err(anyhow!("a mount without a source")),
            };
            let ro = if m.read_only { ":ro" } else { "" };
            create
                .binds
                .push(format!("{source}:{}{ro}", m.target.value));
        }
        create.tmpfs = spec
            .tmpfs
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        for n in &spec.networks {
            let docker_name = self.ensure_network(&n.value).await?;
            create.networks.push((docker_name, vec![name.to_string()]));
        }
        create.hostname = spec.hostname.as_ref().map(|h| h.value.clone());
        create.user = spec.user.as_ref().map(|u| u.value.clone());
        create.working_dir = spec.working_dir.as_ref().map(|w| w.value.clone());
        create.healthcheck = spec.healthcheck.as_ref().map(|h| HealthSpec {
            test: match &h.test {
                Command::Args(a) => std::iter::once("CMD".to_string())
                    .chain(a.iter().cloned())
                    .collect(),
                Command::Shell(l) => vec!["CMD-SHELL".into(), l.clone()],
            },
            interval: nanos(h.interval),
            timeout: nanos(h.timeout),
            retries: h.retries.map(i64::from).unwrap_or(0),
            start_period: nanos(h.start_period),
        });
        create.nano_cpus = spec.cpus.as_ref().map(|c| (c.value * 1e9).round() as i64);
        create.pids_limit = spec.pids_limit.as_ref().map(|p| p.value);
        create.ulimits = spec
            .ulimits
            .iter()
            .map(|(k, v)| {
                let (soft, hard) = v.limits();
                (k.0.clone(), soft, hard)
            })
            .collect();
        create.cap_add = spec.cap_add.iter().map(|c| c.value.clone()).collect();
        create.cap_drop = spec.cap_drop.iter().map(|c| c.value.clone()).collect();
        create.privileged = spec.privileged;
        create.read_only = spec.read_only;
        create.shm_size = spec.shm_size.map(|s| s.bytes() as i64);
        create.log = spec.log.as_ref().map(|l| {
            (
                l.driver.value.clone(),
                l.options.clone().into_iter().collect(),
            )
        });
        create.restart_max = spec.restart.and_then(|r| r.max_retries()).map(i64::from);
        Ok(())
    }

    /// Joins a created container to its networks after the first (docker takes one at create).
    pub async fn connect_more_networks(
        &self,
        id: &str,
        create: &CreateSpec<'_>,
    ) -> anyhow::Result<()> {
        for (net, aliases) in create.networks.iter().skip(1) {
            self.docker
                .connect_network(net, id, aliases.clone())
                .await?;
        }
        Ok(())
    }
}
