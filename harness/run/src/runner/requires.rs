//! What a scenario requires of the host that no daemon setting can give it (its cgroup version):
//! decided per scenario, on the daemon it would run on, before anything is started for it. A
//! scenario the daemon cannot serve is not run and journaled as skipped, with the reason; when the
//! daemon's answer cannot be had, it is not run either and journaled as undecided (`unknown`).

use crate::scenario::{CgroupVersion, PlannedScenario};
use docker::DockerClient;
use engine::{Target, TargetKind};
use journal::{Event, Journal};

/// Whether a scenario runs on a daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It runs.
    Run,
    /// The daemon cannot have what it requires: skipped, for this reason.
    Skip(String),
    /// Whether the daemon has it could not be told: not run, unknown, for this reason.
    Undecided(String),
}

/// The cgroup version the daemon reports (`docker info`'s `CgroupVersion`), read within the call
/// deadline; `Err` says why it is not known.
pub async fn daemon_cgroup(docker: &DockerClient) -> Result<CgroupVersion, String> {
    let version = docker
        .cgroup_version()
        .await
        .map_err(|e| format!("the daemon's cgroup version could not be read: {e:#}"))?;
    match version {
        Some(1) => Ok(CgroupVersion::V1),
        Some(2) => Ok(CgroupVersion::V2),
        _ => Err(
            "the daemon does not report its cgroup version (`docker info`: CgroupVersion)".into(),
        ),
    }
}

/// The decision for `plan` given what reading the daemon's cgroup version gave (`None`: not read,
/// because nothing needed it) and whether the harness started the daemon (only then can it give
/// the daemon a data-root of its making).
pub fn decide(
    plan: &PlannedScenario,
    have: Option<&Result<CgroupVersion, String>>,
    managed: bool,
) -> Decision {
    if let (Some(d), false) = (plan.scenario.requires.data_root, managed) {
        return Decision::Skip(format!(
            "needs a {} {} data-root the harness makes for a daemon it starts (--target managed); \
             the host's own filesystems are never filled",
            d.size,
            d.fs.name()
        ));
    }
    let Some(want) = plan.scenario.requires.cgroup else {
        return Decision::Run;
    };
    match have {
        Some(Ok(have)) if *have == want => Decision::Run,
        Some(Ok(have)) => Decision::Skip(format!("needs {want}; the daemon runs {have}")),
        Some(Err(why)) => Decision::Undecided(format!("needs {want}, and {why}")),
        None => Decision::Undecided(format!(
            "needs {want}, and the daemon's cgroup version was not read"
        )),
    }
}

/// Decides, before anything is prepared for them, which scenarios of `plans` run on the daemon at
/// `docker` (the daemon is asked once, and only when a scenario has a requirement to check), and
/// journals each one that does not (`scenario_skipped`, `scenario_undecided`). Returns the indices
/// of those that run, in plan order.
///
/// One daemon answers for all the run's daemons: they share the host, and the cgroup version is
/// the host's.
pub async fn screen(target: &Target, plans: &[PlannedScenario], journal: &Journal) -> Vec<usize> {
    let docker = target.client();
    let managed = target.kind() == TargetKind::Managed;
    let have = if plans.iter().any(|p| p.scenario.requires.cgroup.is_some()) {
        Some(daemon_cgroup(docker).await)
    } else {
        None
    };
    let mut runnable = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        match decide(plan, have.as_ref(), managed) {
            Decision::Run => runnable.push(index),
            Decision::Skip(reason) => journal.emit(Event::ScenarioSkipped {
                scenario: index,
                reason,
            }),
            Decision::Undecided(reason) => journal.emit(Event::ScenarioUndecided {
                scenario: index,
                reason,
            }),
        }
    }
    runnable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(requires: &str) -> PlannedScenario {
        let yaml = format!(
            "name: t\nrequires: {requires}\ncontainers:\n  c: {{}}\nsteps:\n  - action: {{start: {{container: c}}}}\n"
        );
        PlannedScenario {
            file: "t.yaml".into(),
            scenario: crate::scenario::load_str(&yaml, std::path::Path::new("t.yaml")).unwrap(),
            repeat: 1,
        }
    }

    #[test]
    fn the_other_version_skips_and_an_unknown_one_never_does() {
        let v1 = plan("{cgroup: v1}");
        assert_eq!(
            decide(&v1, Some(&Ok(CgroupVersion::V1)), true),
            Decision::Run
        );
        assert_eq!(
            decide(&v1, Some(&Ok(CgroupVersion::V2)), true),
            Decision::Skip("needs cgroup v1; the daemon runs cgroup v2".into())
        );
        assert_eq!(
            decide(&plan("{cgroup: v2}"), Some(&Ok(CgroupVersion::V1)), true),
            Decision::Skip("needs cgroup v2; the daemon runs cgroup v1".into())
        );
        // Fail closed: a version that cannot be read is undecided, never skipped, never run.
        let why = Err("no answer within 20s".to_string());
        assert!(matches!(
            decide(&v1, Some(&why), true),
            Decision::Undecided(r) if r.contains("needs cgroup v1") && r.contains("no answer")
        ));
        assert!(matches!(decide(&v1, None, true), Decision::Undecided(_)));
        // No requirement: runs, whatever the daemon says.
        let any = plan("{}");
        assert_eq!(decide(&any, None, false), Decision::Run);
        assert_eq!(decide(&any, Some(&why), true), Decision::Run);
    }

    #[test]
    fn a_data_root_is_made_only_for_a_managed_daemon() {
        let fs = plan("{data_root: {size: 512MiB, fs: ext4}}");
        assert_eq!(decide(&fs, None, true), Decision::Run);
        assert!(matches!(
            decide(&fs, None, false),
            Decision::Skip(r) if r.contains("512MiB ext4 data-root") && r.contains("--target managed")
        ));
    }
}
