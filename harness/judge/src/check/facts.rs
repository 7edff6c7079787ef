//! The checks of facts that actions record: `api`, `probe` and `output`.

use super::CheckResult;
use crate::expect::{Api, ProbeState};
use crate::record::{StepOutcome, StepRecord};

fn fact<'a>(step: &'a StepRecord, keys: &[&str]) -> Option<&'a String> {
    keys.iter().find_map(|k| step.facts.get(*k))
}

/// Checks the API state the step recorded (`api` from `probe_api`, `api_during_freeze` from
/// `daemon_freeze`).
pub fn check_api(expected: Api, step: &StepRecord) -> CheckResult {
    let name = "api";
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(
            name,
            expected.as_str().into(),
            "not observed: the step did not complete",
        );
    }
    match fact(step, &["api", "api_during_freeze"]) {
        Some(v) => CheckResult::new(
            name,
            expected.as_str().into(),
            v.clone(),
            v == expected.as_str(),
        ),
        None => CheckResult::new(
            name,
            expected.as_str().into(),
            "this step does not probe the API (use probe_api)".into(),
            false,
        ),
    }
}

/// Checks the `probe` fact of a `probe` or `log` step.
pub fn check_probe(expected: ProbeState, step: &StepRecord) -> CheckResult {
    let name = "probe";
    let want = match expected {
        ProbeState::Up => "up",
        ProbeState::Down => "down",
    };
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, want.into(), "not observed: the step did not complete");
    }
    match step.facts.get("probe") {
        Some(v) if v == "unknown" => CheckResult::unknown(
            name,
            want.into(),
            "the probe could not be run (see the step's samples)",
        ),
        Some(v) => {
            let detail = step
                .facts
                .get("progress")
                .map(|p| format!("{v} (progress: {p})"))
                .unwrap_or_else(|| v.clone());
            CheckResult::new(name, want.into(), detail, v == want)
        }
        None => CheckResult::new(
            name,
            want.into(),
            "this step does not probe (use probe or log)".into(),
            false,
        ),
    }
}

/// Checks that an exec's output contains a text.
pub fn check_output(contains: &str, step: &StepRecord) -> CheckResult {
    let name = "output";
    let want = format!("contains {contains:?}");
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, want, "not observed: the step did not complete");
    }
    match step.facts.get("exec_output") {
        Some(out) => {
            let shown: String = out.chars().take(200).collect();
            CheckResult::new(name, want, format!("{shown:?}"), out.contains(contains))
        }
        None => CheckResult::new(name, want, "no output: not an exec step".into(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::verdict::Outcome;

    #[test]
    fn api_and_output() {
        let mut s = step(exited(0, false), 0.1);
        assert_eq!(check_api(Api::Responsive, &s).outcome, Outcome::Fail);
        s.facts
            .insert("api_during_freeze".into(), "unresponsive".into());
        assert_eq!(check_api(Api::Unresponsive, &s).outcome, Outcome::Pass);
        assert_eq!(check_api(Api::Responsive, &s).outcome, Outcome::Fail);
        s.facts.insert("exec_output".into(), "hello world".into());
        assert_eq!(check_output("world", &s).outcome, Outcome::Pass);
        assert_eq!(check_output("mars", &s).outcome, Outcome::Fail);
        // A probe the harness could not run is neither up nor down.
        s.facts.insert("probe".into(), "unknown".into());
        assert_eq!(check_probe(ProbeState::Down, &s).outcome, Outcome::Unknown);
        assert_eq!(check_probe(ProbeState::Up, &s).outcome, Outcome::Unknown);
        s.facts.insert("probe".into(), "down".into());
        assert_eq!(check_probe(ProbeState::Down, &s).outcome, Outcome::Pass);
    }
}
