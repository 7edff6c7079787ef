//! Where `run` goes: `--target` as written, or the inventory of `--targets FILE`, each target with
//! the name reports give it.

use super::RunArgs;
use engine::TargetKind;
use model::error::{Error, Result};
use remote::Place;

/// Where a run goes: this machine (`managed` or `docker`), or a host over SSH.
pub type TargetArg = Place<TargetKind>;

/// `--target` (and an inventory entry's `address`).
/// `docker` whose daemon is `ssh://…` (`DOCKER_HOST`, or a context's endpoint) runs there, on that
/// host's own daemon (`ssh://…?daemon=docker`): faults act on the host the daemon runs on.
pub(super) fn parse_target(s: &str) -> std::result::Result<TargetArg, String> {
    if s == "docker" {
        if let Ok(e) = docker::Endpoint::from_env() {
            if e.host.starts_with("ssh://") {
                let there = format!("{}?daemon=docker", e.host.trim_end_matches('/'));
                return Place::parse(&there, local_target)
                    .map_err(|err| format!("{} ({}): {err}", e.host, e.source));
            }
        }
    }
    Place::parse(s, local_target)
}

/// A target on this machine.
fn local_target(s: &str) -> std::result::Result<TargetKind, String> {
    match s {
        "managed" => Ok(TargetKind::Managed),
        "docker" => Ok(TargetKind::Docker),
        s => Err(format!(
            "unknown target {s:?}: managed, docker, ssh://[USER@]HOST[:PORT], vagrant:MACHINE or vm:NAME"
        )),
    }
}

/// The target as written on the command line.
fn label(t: &TargetArg) -> String {
    match t {
        TargetArg::Local(k) => k.as_str().into(),
        TargetArg::Remote(h) => h.label(),
    }
}

/// A target of a run with the name reports give it.
pub(super) struct NamedTarget {
    pub(super) name: String,
    pub(super) target: TargetArg,
    pub(super) labels: std::collections::BTreeMap<String, String>,
}

/// The targets of a run: `--target` as given, or the entries of `--targets FILE`.
pub(super) fn run_targets(args: &RunArgs) -> Result<Vec<NamedTarget>> {
    let Some(file) = &args.targets else {
        return Ok(args
            .target
            .iter()
            .map(|t| NamedTarget {
                name: label(t),
                target: t.clone(),
                labels: Default::default(),
            })
            .collect());
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::input(format!("{}: {e}", file.display())))?;
    let inv = model::config::inventory(&text, file)?;
    let mut out: Vec<NamedTarget> = vec![];
    for t in inv.targets {
        let target = parse_target(&t.address)
            .map_err(|e| Error::input(format!("{}: target {:?}: {e}", file.display(), t.name)))?;
        out.push(NamedTarget {
            name: t.name,
            target,
            labels: t.labels,
        });
    }
    Ok(out)
}
