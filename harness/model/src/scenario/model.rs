//! The scenario file format. Every struct denies unknown keys, so a typo is an error with its location.
//!
//! Steps are externally tagged enums (`action: {stop: {container: web}}`) because serde-saphyr keeps
//! source locations through those, and loses them through internally tagged or flattened ones.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::action::{Action, Deadlines};
pub use crate::action::{Command, ContainerRef};
use crate::expect::Expect;
use crate::units::{ByteSize, HumanDuration, Percent};

pub use super::params::VarValue;

/// One scenario file: containers, the daemon it needs, and ordered steps with expectations.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short unique name, used in reports and labels (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// What this scenario reproduces and why it matters.
    #[serde(default)]
    pub description: String,
    /// Field reports this scenario reproduces (issue URLs).
    #[serde(default)]
    pub references: Vec<String>,
    /// Free-form tags; `shakedown run --filter` matches names and tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// What the scenario needs from the daemon and whether it disturbs it.
    #[serde(default)]
    pub requires: Requirements,
    /// Where the images the containers use come from, by image reference (no registry is used):
    /// loaded into the daemon a managed target starts, once per daemon.
    #[serde(default)]
    pub images: BTreeMap<String, ImageSource>,
    /// Containers by name; a step refers to them by that name. Created by their first `start`.
    #[serde(default)]
    pub containers: BTreeMap<String, ContainerSpec>,
    /// Named volumes by name, created by the harness on the target daemon (labelled, recorded in
    /// the ledger) when the first container that mounts one is created, and removed with the
    /// iteration.
    #[serde(default)]
    pub volumes: BTreeMap<String, VolumeSpec>,
    /// User-defined bridge networks by name, created like volumes; a container joins them with
    /// `networks: [NAME]` and is reachable there under its scenario name.
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkSpec>,
    /// Ordered steps; each runs within its deadline and may carry expectations.
    pub steps: Vec<Step>,
    /// Run the steps this many times (fresh containers each time) and report min/p50/p95/max per measure.
    #[serde(default)]
    pub repeat: Option<u32>,
    /// How much a timing may change between the sides of `shakedown qualify` before it counts
    /// (overrides the `--thresholds` file for this scenario).
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
    /// Parameters and their defaults, used as `"{{ vars.NAME }}"` anywhere else in the file
    /// (a placeholder that is a whole value takes the value's type: bool, number or text).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, VarValue>,
    /// Named variants, each setting some `vars`: the file yields one scenario per variant, named
    /// `NAME[VARIANT]`, each run and judged on its own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub matrix: BTreeMap<String, BTreeMap<String, VarValue>>,
}

/// Where an image comes from.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ImageSource {
    /// A `docker save` archive, its path relative to the scenario file; it must contain the
    /// reference.
    Tar(PathBuf),
    /// Copied from the daemon at `DOCKER_HOST` (or /var/run/docker.sock): the image's reference
    /// there.
    Host(String),
    /// A directory with a Dockerfile (relative to the scenario file), built on the target daemon
    /// with the images it has (the fixture image, images loaded before).
    Build(PathBuf),
}

/// What a scenario requires of the engine it runs on.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// The daemon must run with `--live-restore` (`true`) or without it (`false`); unset: either.
    #[serde(default)]
    pub live_restore: Option<bool>,
    /// The daemon must run with the userland proxy (`true`, docker's default) or without it
    /// (`false`: hairpin NAT on the bridge ports, the churn trigger seen in the field).
    #[serde(default)]
    pub userland_proxy: Option<bool>,
    /// The scenario disturbs the daemon itself (restarts, kills, freezes it). Refused on a daemon the
    /// harness did not start unless `--allow-disruptive` is given.
    #[serde(default)]
    pub disruptive: bool,
    /// The scenario needs the host to itself: `run --jobs N` runs it alone (e.g. timing bounds tight
    /// enough that CPU contention matters). Host-wide checks imply it.
    #[serde(default)]
    pub exclusive: bool,
    /// Further daemon settings, as keys of dockerd's `daemon.json` (e.g. `shutdown-timeout: 5`,
    /// `default-ulimits: {nofile: {Name: nofile, Soft: 1024, Hard: 2048}}`): written into the
    /// managed daemon's config file. On `--target docker` the scenario is refused unless the running
    /// daemon visibly has each of them (only settings `docker info` shows can be checked there).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub daemon_options: BTreeMap<String, Spanned<serde_json::Value>>,
    /// The cgroup version the daemon must run on (`v1` or `v2`, as `docker info` reports it);
    /// unset: either. On a daemon with the other version the scenario is not run and its verdict
    /// is `skipped`, with the reason; when the version cannot be read, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<CgroupVersion>,
    /// The managed daemon's data-root is a filesystem the harness makes for this scenario (a
    /// loop-mounted image of this size and type), which `fill_disk` and `fill_inodes` may fill.
    /// On a daemon the harness did not start the scenario is skipped, with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_root: Option<super::data_root::DataRoot>,
}

/// A cgroup version (`docker info`'s `CgroupVersion`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    /// cgroup v1 (legacy or hybrid hierarchy).
    V1,
    /// cgroup v2 (the unified hierarchy).
    V2,
}

impl std::fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "cgroup v1",
            CgroupVersion::V2 => "cgroup v2",
        })
    }
}

impl PartialEq for Requirements {
    fn eq(&self, o: &Self) -> bool {
        self.live_restore == o.live_restore
            && self.userland_proxy == o.userland_proxy
            && self.disruptive == o.disruptive
            && self.exclusive == o.exclusive
            && self.daemon_options_plain() == o.daemon_options_plain()
            && self.cgroup == o.cgroup
            && self.data_root == o.data_root
    }
}

impl Eq for Requirements {}

impl Requirements {
    /// The daemon options without their source locations.
    pub fn daemon_options_plain(&self) -> BTreeMap<String, serde_json::Value> {
        self.daemon_options
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect()
    }
}

/// A named volume of the scenario.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    /// Extra labels (the harness adds its own `io.shakedown.*` labels).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A user-defined network of the scenario (driver `bridge`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// No route out of the network (`docker network create --internal`).
    #[serde(default)]
    pub internal: bool,
    /// Extra labels (the harness adds its own `io.shakedown.*` labels).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One mount of a container: a named volume of the scenario (`volume`) or a host path (`source`),
/// at `target`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    /// A volume of the scenario's top-level `volumes`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub volume: Option<Spanned<String>>,
    /// A host path to bind-mount (absolute), or `{{daemon_socket}}` (the target daemon's own API
    /// socket file) or `{{daemon_socket_dir}}` (the directory that socket is in).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub source: Option<Spanned<String>>,
    /// Where it appears in the container (absolute).
    #[schemars(with = "String")]
    pub target: Spanned<String>,
    /// Mount it read-only.
    #[serde(default)]
    pub read_only: bool,
}

/// A health check (`docker run --health-*`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthcheckSpec {
    /// The check: a list of arguments (run directly), or a string run by the container's shell.
    pub test: Command,
    /// Time between checks (default 30s).
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// A check taking longer fails (default 30s).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// Consecutive failures that make the container `unhealthy` (default 3).
    #[serde(default)]
    pub retries: Option<u32>,
    /// Failures during this time after the start do not count (default 0s).
    #[serde(default)]
    pub start_period: Option<HumanDuration>,
}

/// The resource limits docker knows (`--ulimit NAME=...`).
pub const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// The name of a resource limit, one of [`ULIMIT_NAMES`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct UlimitName(pub String);

impl<'de> Deserialize<'de> for UlimitName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if ULIMIT_NAMES.contains(&s.as_str()) {
            Ok(UlimitName(s))
        } else {
            Err(serde::de::Error::custom(format!(
                "unknown ulimit {s:?} (known: {})",
                ULIMIT_NAMES.join(", ")
            )))
        }
    }
}

/// A resource limit: one number for both soft and hard, or `{soft, hard}`; -1 is unlimited.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum UlimitSpec {
    /// Soft and hard limit alike.
    Both(i64),
    /// Soft and hard limits apart.
    Apart {
        /// The soft limit.
        soft: i64,
        /// The hard limit (at least the soft one).
        hard: i64,
    },
}

impl<'de> Deserialize<'de> for UlimitSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Apart {
            soft: i64,
            hard: i64,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Both(i64),
            Apart(Apart),
        }
        let err = |m: String| Err(serde::de::Error::custom(m));
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("a ulimit is a number, or {soft: N, hard: N}"))?
        {
            Raw::Both(n) if n < -1 => err(format!("invalid ulimit {n}: -1 (unlimited) or more")),
            Raw::Both(n) => Ok(UlimitSpec::Both(n)),
            Raw::Apart(a) if a.soft < -1 || a.hard < -1 => err(format!(
                "invalid ulimit {{soft: {}, hard: {}}}: -1 (unlimited) or more",
                a.soft, a.hard
            )),
            Raw::Apart(a) if a.hard != -1 && (a.soft == -1 || a.soft > a.hard) => err(format!(
                "invalid ulimit: soft limit {} is above the hard limit {}",
                a.soft, a.hard
            )),
            Raw::Apart(a) => Ok(UlimitSpec::Apart {
                soft: a.soft,
                hard: a.hard,
            }),
        }
    }
}

impl UlimitSpec {
    /// (soft, hard).
    pub fn limits(self) -> (i64, i64) {
        match self {
            UlimitSpec::Both(n) => (n, n),
            UlimitSpec::Apart { soft, hard } => (soft, hard),
        }
    }
}

/// Where a container's output goes (`--log-driver`, `--log-opt`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// The logging driver, e.g. `json-file`, `local`, `none`.
    #[schemars(with = "String")]
    pub driver: Spanned<String>,
    /// The driver's options, e.g. `max-size: 1m`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// A container the scenario uses.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// Image: `fixture` (default) is the harness's own offline image (busybox, bash, tini and the
    /// `shakedown-fixture` helper); any other name must already exist on the daemon.
    #[serde(default)]
    pub image: Option<String>,
    /// Command: a list of arguments, or a string run by `/bin/sh -c`.
    #[serde(default)]
    pub command: Option<Command>,
    /// Overrides the image's entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Run the daemon's init (tini) as PID 1, like `docker run --init`.
    #[serde(default)]
    pub init: bool,
    /// Memory limit (`-m`), e.g. `64MiB`.
    #[serde(default)]
    pub memory: Option<ByteSize>,
    /// Memory plus swap limit (`--memory-swap`); equal to `memory` means no swap.
    #[serde(default)]
    pub memory_swap: Option<ByteSize>,
    /// Signal `docker stop` sends first (`--stop-signal`), e.g. `SIGUSR1`.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// Grace period of `docker stop` before SIGKILL (`--stop-timeout`), whole seconds.
    #[serde(default)]
    pub stop_timeout: Option<HumanDuration>,
    /// Environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Extra labels (the harness adds its own `io.shakedown.*` labels).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Restart policy: `no`, `always`, `unless-stopped`, `on-failure`, or `on-failure:N` (at most
    /// N restarts).
    #[serde(default)]
    pub restart: Option<RestartPolicy>,
    /// Remove the container when it exits (`--rm`).
    #[serde(default)]
    pub auto_remove: bool,
    /// Container TCP ports to publish on ephemeral host ports (`-p PORT`): docker-proxy processes,
    /// or hairpin NAT with `requires: {userland_proxy: false}`.
    #[serde(default)]
    pub publish: Vec<u16>,
    /// Mounts: named volumes of the scenario and bind mounts of host paths (`-v`).
    #[serde(default)]
    pub volumes: Vec<MountSpec>,
    /// tmpfs mounts: container path → mount options, e.g. `{/run: "size=16m"}` (`--tmpfs`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub tmpfs: BTreeMap<String, Spanned<String>>,
    /// Networks of the scenario's top-level `networks` to join instead of the default bridge; the
    /// container is reachable there under its scenario name (a DNS alias).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub networks: Vec<Spanned<String>>,
    /// Host name inside the container (`--hostname`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub hostname: Option<Spanned<String>>,
    /// User the command runs as: `NAME`, `UID`, `UID:GID` (`--user`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub user: Option<Spanned<String>>,
    /// Working directory of the command, absolute (`--workdir`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub working_dir: Option<Spanned<String>>,
    /// Health check (`--health-cmd` and friends).
    #[serde(default)]
    pub healthcheck: Option<HealthcheckSpec>,
    /// CPUs the container may use, e.g. `0.5` (`--cpus`).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub cpus: Option<Spanned<f64>>,
    /// Maximum number of processes and threads (`--pids-limit`), at least 1.
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub pids_limit: Option<Spanned<i64>>,
    /// Resource limits by name (`nofile`, `nproc`, `core`, ...): a number, or `{soft, hard}`
    /// (`--ulimit`).
    #[serde(default)]
    pub ulimits: BTreeMap<UlimitName, UlimitSpec>,
    /// Capabilities to add, e.g. `NET_ADMIN` (`--cap-add`; `ALL` for all).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub cap_add: Vec<Spanned<String>>,
    /// Capabilities to drop, e.g. `CHOWN` (`--cap-drop`; `ALL` for all).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub cap_drop: Vec<Spanned<String>>,
    /// Run privileged (`--privileged`).
    #[serde(default)]
    pub privileged: bool,
    /// Mount the root file system read-only (`--read-only`).
    #[serde(default)]
    pub read_only: bool,
    /// Size of /dev/shm (`--shm-size`), e.g. `64MiB`.
    #[serde(default)]
    pub shm_size: Option<ByteSize>,
    /// Logging driver and its options (`--log-driver`, `--log-opt`).
    #[serde(default)]
    pub log: Option<LogSpec>,
}

/// Docker restart policies, written `no`, `always`, `unless-stopped`, `on-failure` or
/// `on-failure:N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Never restart.
    No,
    /// Always restart, also after a daemon restart.
    Always,
    /// Restart unless stopped by the user.
    UnlessStopped,
    /// Restart when the exit code is non-zero, at most this many times (unset: no limit).
    OnFailure(Option<u32>),
}

impl RestartPolicy {
    /// The name docker uses.
    pub fn as_docker(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure(_) => "on-failure",
        }
    }

    /// The maximum restart count docker is given (`on-failure:N`).
    pub fn max_retries(self) -> Option<u32> {
        match self {
            RestartPolicy::OnFailure(n) => n,
            _ => None,
        }
    }
}

impl std::str::FromStr for RestartPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure(None),
            other => match other.strip_prefix("on-failure:").map(str::parse::<u32>) {
                Some(Ok(n)) if n > 0 => RestartPolicy::OnFailure(Some(n)),
                _ => {
                    return Err(format!(
                        "invalid restart policy {s:?}: use no, always, unless-stopped, on-failure \
                         or on-failure:N with N at least 1"
                    ))
                }
            },
        })
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.max_retries() {
            Some(n) => write!(f, "on-failure:{n}"),
            None => f.write_str(self.as_docker()),
        }
    }
}

impl<'de> Deserialize<'de> for RestartPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for RestartPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl JsonSchema for RestartPolicy {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RestartPolicy".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Restart policy: no, always, unless-stopped, on-failure, on-failure:N.",
            "type": "string",
            "pattern": "^(no|always|unless-stopped|on-failure(:[1-9][0-9]*)?)$"
        })
    }
}

/// One step: an action, its deadline, and what must hold afterwards.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A label for reports; default `<action> <container>`. Unique within the scenario; a `join`
    /// names a background step by it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// What to do.
    pub action: Action,
    /// Run the step in the background: the next step starts at once, while this one runs within
    /// its own deadline and is judged like any step. A later `join` step waits for it; one never
    /// joined is awaited at the end of the iteration.
    #[serde(default)]
    pub background: bool,
    /// The action must finish within this time, or the step fails with "deadline exceeded"
    /// (default: the action's own default, e.g. stop timeout + 30s).
    #[serde(default)]
    pub deadline: Option<HumanDuration>,
    /// Expectations checked after the action.
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// How much a timing may change before it counts: a relative threshold and an absolute floor
/// (changes smaller than the floor never count), overall and per measure.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Relative change that counts (default 25%).
    #[serde(default)]
    pub threshold: Option<Percent>,
    /// Absolute change below which nothing counts (default 20ms).
    #[serde(default)]
    pub floor: Option<HumanDuration>,
    /// Per measure name (`duration`, `api_back`, ...).
    #[serde(default)]
    pub measures: BTreeMap<String, MeasureThreshold>,
}

/// A measure's own threshold and floor.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MeasureThreshold {
    /// Relative change that counts.
    #[serde(default)]
    pub threshold: Option<Percent>,
    /// Absolute change below which nothing counts.
    #[serde(default)]
    pub floor: Option<HumanDuration>,
}

/// Default relative threshold.
pub const DEFAULT_THRESHOLD: f64 = 0.25;
/// Default absolute floor, seconds.
pub const DEFAULT_FLOOR: f64 = 0.020;

impl Thresholds {
    /// Threshold (fraction) and floor (seconds) of a measure: the scenario's own setting first,
    /// then this (the configuration file's), then the defaults.
    pub fn of(&self, scenario: Option<&Thresholds>, measure: &str) -> (f64, f64) {
        let layers = [scenario, Some(self)];
        let pick =
            |f: &dyn Fn(&Thresholds) -> Option<f64>| layers.iter().flatten().find_map(|t| f(t));
        let threshold = pick(&|t| {
            t.measures
                .get(measure)
                .and_then(|m| m.threshold)
                .or(t.threshold)
                .map(Percent::fraction)
        })
        .unwrap_or(DEFAULT_THRESHOLD);
        let floor = pick(&|t| {
            t.measures
                .get(measure)
                .and_then(|m| m.floor)
                .or(t.floor)
                .map(|d| d.get().as_secs_f64())
        })
        .unwrap_or(DEFAULT_FLOOR);
        (threshold, floor)
    }
}

impl Deadlines for Scenario {
    fn step_deadline(&self, name: &str) -> Option<std::time::Duration> {
        let step = self
            .steps
            .iter()
            .find(|s| s.name.as_ref().is_some_and(|n| n.value == name))?;
        Some(
            step.deadline
                .map(|d| d.get())
                .unwrap_or_else(|| step.action.default_deadline(self)),
        )
    }

    fn stop_timeout(&self, container: &str) -> Option<HumanDuration> {
        self.containers.get(container).and_then(|c| c.stop_timeout)
    }
}
