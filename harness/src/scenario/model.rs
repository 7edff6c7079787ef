//! The scenario file format. Every struct denies unknown keys, so a typo is an error with its location.
//!
//! Steps are externally tagged enums (`action: {stop: {container: web}}`) because serde-saphyr keeps
//! source locations through those, and loses them through internally tagged or flattened ones.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::action::Action;
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
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
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
    /// Restart policy: `no`, `always`, `unless-stopped`, `on-failure`.
    #[serde(default)]
    pub restart: Option<RestartPolicy>,
    /// Remove the container when it exits (`--rm`).
    #[serde(default)]
    pub auto_remove: bool,
    /// Container TCP ports to publish on ephemeral host ports (`-p PORT`): docker-proxy processes,
    /// or hairpin NAT with `requires: {userland_proxy: false}`.
    #[serde(default)]
    pub publish: Vec<u16>,
}

/// A container command.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Command {
    /// Arguments, the first being the program.
    Args(Vec<String>),
    /// A shell command line, run as `/bin/sh -c LINE`.
    Shell(String),
}

impl Command {
    /// The argument vector docker receives.
    pub fn to_args(&self) -> Vec<String> {
        match self {
            Command::Args(a) => a.clone(),
            Command::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
        }
    }
}

/// Docker restart policies.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restart.
    No,
    /// Always restart, also after a daemon restart.
    Always,
    /// Restart unless stopped by the user.
    UnlessStopped,
    /// Restart when the exit code is non-zero.
    OnFailure,
}

impl RestartPolicy {
    /// The name docker uses.
    pub fn as_docker(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure => "on-failure",
        }
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

/// A reference to a container of the scenario, keeping where it was written for error messages.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerRef {
    /// The container's name in the scenario's `containers`.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
}

impl ContainerRef {
    /// The referenced name.
    pub fn name(&self) -> &str {
        &self.container.value
    }
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
