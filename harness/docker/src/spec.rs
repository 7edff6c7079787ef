//! What a container is created from, in the harness's words, and the bollard body made of it.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HostConfig, RestartPolicy as BollardRestart, RestartPolicyNameEnum,
};

/// A health check as docker takes it.
#[derive(Clone, Debug, Default)]
pub struct HealthSpec {
    /// `["CMD", args...]` or `["CMD-SHELL", line]`.
    pub test: Vec<String>,
    /// Nanoseconds between checks (0: docker's default).
    pub interval: i64,
    /// Nanoseconds a check may take (0: docker's default).
    pub timeout: i64,
    /// Consecutive failures that make the container unhealthy (0: docker's default).
    pub retries: i64,
    /// Nanoseconds after the start during which failures do not count.
    pub start_period: i64,
}

/// The host config and create body docker needs, kept here so the bollard types stay in this module.
#[derive(Default)]
pub struct CreateSpec<'a> {
    /// Image reference.
    pub image: &'a str,
    /// Command.
    pub cmd: Option<Vec<String>>,
    /// Entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Environment `K=V`.
    pub env: Vec<String>,
    /// Labels, the harness's included.
    pub labels: HashMap<String, String>,
    /// `--init`.
    pub init: bool,
    /// `-m` bytes.
    pub memory: Option<u64>,
    /// `--memory-swap` bytes.
    pub memory_swap: Option<u64>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout` seconds.
    pub stop_timeout: Option<i64>,
    /// Restart policy name.
    pub restart: Option<&'a str>,
    /// Maximum restart count of `on-failure`.
    pub restart_max: Option<i64>,
    /// `--rm`.
    pub auto_remove: bool,
    /// TCP ports published on ephemeral host ports.
    pub publish: Vec<u16>,
    /// `-v SRC:DST[:ro]`: host paths and volume names.
    pub binds: Vec<String>,
    /// `--tmpfs PATH:OPTIONS`.
    pub tmpfs: HashMap<String, String>,
    /// Networks to join (docker names) with the DNS aliases in each; the first is the container's
    /// network mode, the others are connected after the create
    /// ([`DockerClient::connect_network`](super::DockerClient::connect_network)).
    pub networks: Vec<(String, Vec<String>)>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--workdir`.
    pub working_dir: Option<String>,
    /// `--health-*`.
    pub healthcheck: Option<HealthSpec>,
    /// `--cpus`, in billionths of a CPU.
    pub nano_cpus: Option<i64>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--ulimit NAME=SOFT:HARD`.
    pub ulimits: Vec<(String, i64, i64)>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `--shm-size` bytes.
    pub shm_size: Option<i64>,
    /// `--log-driver` and `--log-opt`s.
    pub log: Option<(String, HashMap<String, String>)>,
}

impl<'a> CreateSpec<'a> {
    /// A plain container: an image and a command, nothing else set.
    pub fn plain(image: &'a str, cmd: &[&str]) -> Self {
        CreateSpec {
            image,
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    /// The bollard create body.
    pub fn to_body(&self) -> ContainerCreateBody {
        let restart = self.restart.map(|r| BollardRestart {
            name: Some(match r {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::NO,
            }),
            maximum_retry_count: self.restart_max,
        });
        let ports: Vec<String> = self.publish.iter().map(|p| format!("{p}/tcp")).collect();
        let bindings: bollard::models::PortMap = ports
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    Some(vec![bollard::models::PortBinding {
                        host_ip: None,
                        host_port: Some(String::new()),
                    }]),
                )
            })
            .collect();
        let networking =
            self.networks
                .first()
                .map(|(net, aliases)| bollard::models::NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(
                        net.clone(),
                        bollard::models::EndpointSettings {
                            aliases: Some(aliases.clone()),
                            ..Default::default()
                        },
                    )])),
                });
        let nonempty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        ContainerCreateBody {
            image: Some(self.image.to_string()),
            exposed_ports: (!ports.is_empty()).then_some(ports),
            cmd: self.cmd.clone(),
            entrypoint: self.entrypoint.clone(),
            env: Some(self.env.clone()),
            labels: Some(self.labels.clone()),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            hostname: self.hostname.clone(),
            user: self.user.clone(),
            working_dir: self.working_dir.clone(),
            healthcheck: self
                .healthcheck
                .as_ref()
                .map(|h| bollard::models::HealthConfig {
                    test: Some(h.test.clone()),
                    interval: Some(h.interval),
                    timeout: Some(h.timeout),
                    retries: Some(h.retries),
                    start_period: Some(h.start_period),
                    ..Default::default()
                }),
            networking_config: networking,
            host_config: Some(HostConfig {
                init: self.init.then_some(true),
                memory: self.memory.map(|m| m as i64),
                memory_swap: self.memory_swap.map(|m| m as i64),
                restart_policy: restart,
                auto_remove: self.auto_remove.then_some(true),
                port_bindings: (!bindings.is_empty()).then_some(bindings),
                binds: nonempty(&self.binds),
                tmpfs: (!self.tmpfs.is_empty()).then(|| self.tmpfs.clone()),
                network_mode: self.networks.first().map(|(n, _)| n.clone()),
                nano_cpus: self.nano_cpus,
                pids_limit: self.pids_limit,
                ulimits: (!self.ulimits.is_empty()).then(|| {
                    self.ulimits
                        .iter()
                        .map(|(name, soft, hard)| bollard::models::ResourcesUlimits {
                            name: Some(name.clone()),
                            soft: Some(*soft),
                            hard: Some(*hard),
                        })
                        .collect()
                }),
                cap_add: nonempty(&self.cap_add),
                cap_drop: nonempty(&self.cap_drop),
                privileged: self.privileged.then_some(true),
                readonly_rootfs: self.read_only.then_some(true),
                shm_size: self.shm_size,
                log_config: self.log.as_ref().map(|(driver, opts)| {
                    bollard::models::HostConfigLogConfig {
                        typ: Some(driver.clone()),
                        config: Some(opts.clone()),
                    }
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}
