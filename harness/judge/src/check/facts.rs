//! The checks of facts that actions record: `api`, `probe` and `output`, read back as typed
//! [`Fact`]s. A fact present but unreadable (a journal edited or cut mid-value) is `unknown`.

use super::CheckResult;
use crate::expect::{Api, ProbeState};
use crate::fact::Fact;
use crate::record::{StepOutcome, StepRecord};

/// The first of `names` the step recorded: `Ok(None)` when it recorded none, `Err(name)` when one
/// is there but not a value of that fact.
fn fact(step: &StepRecord, names: &[&'static str]) -> Result<Option<Fact>, &'static str> {
    for n in names {
        if step.facts.contains_key(*n) {
            return Fact::parse(&step.facts, n).map(Some).ok_or(n);
        }
    }
    Ok(None)
}

fn unreadable(name: &str, want: String, fact: &str) -> CheckResult {
    CheckResult::unknown(name, want, &format!("the fact {fact} could not be read"))
}

/// Checks the API state the step recorded (`api` from `probe_api`, `api_during_freeze` from
/// `daemon_freeze`).
pub fn check_api(expected: Api, step: &StepRecord) -> CheckResult {
    let name = "api";
    let want = expected.as_str().to_string();
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, want, "not observed: the step did not complete");
    }
    match fact(step, &["api", "api_during_freeze"]) {
        Ok(Some(Fact::Api(a) | Fact::ApiDuringFreeze(a))) => {
            CheckResult::new(name, want, a.as_str().into(), a == expected)
        }
        Err(f) => unreadable(name, want, f),
        _ => CheckResult::new(
            name,
            want,
            "this step does not probe the API (use probe_api)".into(),
            false,
        ),
    }
}

/// Checks the `probe` fact of a `probe` or `log` step.
pub fn check_probe(expected: ProbeState, step: &StepRecord) -> CheckResult {
    let name = "probe";
    let word = |p: ProbeState| match p {
        ProbeState::Up => "up",
        ProbeState::Down => "down",
    };
    let want = word(expected).to_string();
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, want, "not observed: the step did not complete");
    }
    match fact(step, &["probe"]) {
        Ok(Some(Fact::Probe(None))) => CheckResult::unknown(
            name,
            want,
            "the probe could not be run (see the step's samples)",
        ),
        Ok(Some(Fact::Probe(Some(seen)))) => {
            let detail = match Fact::parse(&step.facts, "progress") {
                Some(p) => format!("{} (progress: {})", word(seen), p.value()),
                None => word(seen).to_string(),
            };
            CheckResult::new(name, want, detail, seen == expected)
        }
        Err(f) => unreadable(name, want, f),
        _ => CheckResult::new(
            name,
            want,
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
    match fact(step, &["exec_output"]) {
        Ok(Some(Fact::ExecOutput(out))) => {
            let shown: String = out.chars().take(200).collect();
            CheckResult::new(name, want, format!("{shown:?}"), out.contains(contains))
        }
        Err(f) => unreadable(name, want, f),
        _ => CheckResult::new(name, want, "no output: not an exec step".into(), false),
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
        // A fact that is there but unreadable is unknown, never a pass or a plain fail.
        s.facts.insert("probe".into(), "dow".into());
        assert_eq!(check_probe(ProbeState::Down, &s).outcome, Outcome::Unknown);
        s.facts.insert("api_during_freeze".into(), "maybe".into());
        assert_eq!(check_api(Api::Unresponsive, &s).outcome, Outcome::Unknown);
    }
}
