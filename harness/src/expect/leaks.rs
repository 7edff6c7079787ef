//! `leaks`: what `check_leaks` found. `none` requires every kind to be empty; a list of kinds
//! (`[veth, netns]`) requires each to have been found — a scenario that shows the detector fires.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CheckResult;
use crate::record::{StepOutcome, StepRecord};

/// Kinds of leaks.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LeakKind {
    /// Host veth interfaces.
    Veth,
    /// Ports of the engine's bridge.
    BridgePort,
    /// Network namespaces pinned by nsfs mounts.
    Netns,
    /// overlay/shm mounts under the daemon's directories.
    Mount,
    /// containerd shims in the daemon's namespace.
    Shim,
    /// Container cgroups.
    Cgroup,
}

impl LeakKind {
    fn as_str(self) -> &'static str {
        match self {
            LeakKind::Veth => "veth",
            LeakKind::BridgePort => "bridge_port",
            LeakKind::Netns => "netns",
            LeakKind::Mount => "mount",
            LeakKind::Shim => "shim",
            LeakKind::Cgroup => "cgroup",
        }
    }
}

/// The word `none`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NoLeaks {
    /// Nothing may be left.
    None,
}

/// `none`, or the kinds that must be found.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum Leaks {
    /// `leaks: none`.
    None(NoLeaks),
    /// `leaks: [veth, netns]`.
    Found(Vec<LeakKind>),
}

/// Checks the leaks a `check_leaks` step recorded.
pub fn check(e: &Leaks, step: &StepRecord) -> CheckResult {
    let name = "leaks";
    let want = match e {
        Leaks::None(_) => "none".to_string(),
        Leaks::Found(k) => format!(
            "found: {}",
            k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, want, "not observed: the step did not complete");
    }
    let found: Vec<(String, String)> = step
        .facts
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("leaked_")?.to_string(), v.clone())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if !step.facts.keys().any(|k| k.starts_with("leaked_")) {
        return CheckResult::new(
            name,
            want,
            "this step does not check leaks (use check_leaks)".into(),
            false,
        );
    }
    let observed = if found.is_empty() {
        "none".to_string()
    } else {
        found
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.replace('\n', ", ")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let pass = match e {
        Leaks::None(_) => found.is_empty(),
        Leaks::Found(kinds) => kinds
            .iter()
            .all(|k| found.iter().any(|(f, _)| f == k.as_str())),
    };
    CheckResult::new(name, want, observed, pass)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::testutil::*;
    use crate::verdict::Outcome;

    #[test]
    fn none_and_found() {
        let mut s = step(exited(0, false), 0.1);
        s.facts.insert("leaked_veth".into(), String::new());
        s.facts.insert("leaked_netns".into(), String::new());
        assert_eq!(
            check(&Leaks::None(NoLeaks::None), &s).outcome,
            Outcome::Pass
        );
        assert_eq!(
            check(&Leaks::Found(vec![LeakKind::Veth]), &s).outcome,
            Outcome::Fail
        );
        s.facts
            .insert("leaked_veth".into(), "sdleak1\nsdleak2".into());
        let r = check(&Leaks::None(NoLeaks::None), &s);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(
            r.observed.contains("veth: sdleak1, sdleak2"),
            "{}",
            r.observed
        );
        assert_eq!(
            check(&Leaks::Found(vec![LeakKind::Veth]), &s).outcome,
            Outcome::Pass
        );
    }
}
