//! `duration`: bounds on how long the step's action took, on the harness's monotonic clock.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CheckResult;
use crate::record::{StepOutcome, StepRecord};
use crate::units::{format_duration, HumanDuration};

/// Inclusive bounds on a time: `{min: 4.5s, max: 8s}`; either may be left out.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// Lower bound (inclusive).
    #[serde(default)]
    pub min: Option<HumanDuration>,
    /// Upper bound (inclusive).
    #[serde(default)]
    pub max: Option<HumanDuration>,
}

impl Bounds {
    /// Whether `secs` lies within the bounds.
    pub fn contains(&self, secs: f64) -> bool {
        self.min.is_none_or(|m| secs >= m.0.as_secs_f64())
            && self.max.is_none_or(|m| secs <= m.0.as_secs_f64())
    }

    /// Problems with the bounds themselves.
    pub fn problems(&self, what: &str) -> Vec<String> {
        match (self.min, self.max) {
            (None, None) => vec![format!("{what}: give `min`, `max` or both")],
            (Some(a), Some(b)) if a > b => vec![format!("{what}: min ({a}) is above max ({b})")],
            _ => vec![],
        }
    }
}

impl Bounds {
    /// The bounds in words; as durations when `timed`, else as plain numbers (counts).
    pub fn text(&self, timed: bool) -> String {
        let v = |d: HumanDuration| {
            if timed {
                d.to_string()
            } else {
                format!("{}", d.get().as_secs_f64())
            }
        };
        match (self.min, self.max) {
            (Some(a), Some(b)) => format!("between {} and {}", v(a), v(b)),
            (Some(a), None) => format!("at least {}", v(a)),
            (None, Some(b)) => format!("at most {}", v(b)),
            (None, None) => "any".into(),
        }
    }
}

impl std::fmt::Display for Bounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(true))
    }
}

/// Checks a measured value (seconds) against bounds; shared by `duration` and `measures`.
pub(super) fn check_measure(
    expectation: &str,
    measure: &str,
    bounds: &Bounds,
    step: &StepRecord,
) -> CheckResult {
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(
            expectation,
            bounds.to_string(),
            &format!("not measured: step {}", super::outcome_text(step)),
        );
    }
    let Some(first) = step.measure(measure) else {
        return CheckResult::new(
            expectation,
            bounds.to_string(),
            format!("no measure `{measure}` was taken by this step"),
            false,
        );
    };
    let timed = first.unit == "s";
    let show = |v: f64| {
        if timed {
            format_duration(std::time::Duration::from_secs_f64(v.max(0.0)))
        } else {
            format!("{v}")
        }
    };
    let expected = bounds.text(timed);
    // A repeated action takes a measure several times: every value must be within bounds.
    let values = step.measure_values(measure);
    let pass = values.iter().all(|v| bounds.contains(*v));
    let observed = values
        .iter()
        .map(|v| show(*v))
        .collect::<Vec<_>>()
        .join(", ");
    CheckResult::new(expectation, expected, observed, pass)
}

/// Checks the step's `duration` measure.
pub fn check(bounds: &Bounds, step: &StepRecord) -> CheckResult {
    check_measure("duration", "duration", bounds, step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::testutil::*;
    use crate::verdict::Outcome;

    fn b(min: Option<&str>, max: Option<&str>) -> Bounds {
        Bounds {
            min: min.map(|s| s.parse().unwrap()),
            max: max.map(|s| s.parse().unwrap()),
        }
    }

    #[test]
    fn within_and_outside() {
        let s = step(exited(137, false), 5.1);
        assert_eq!(
            check(&b(Some("4.5s"), Some("8s")), &s).outcome,
            Outcome::Pass
        );
        let r = check(&b(None, Some("1s")), &s);
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(r.expected, "at most 1s");
        assert_eq!(r.observed, "5.1s");
        assert_eq!(check(&b(Some("6s"), None), &s).outcome, Outcome::Fail);
    }

    #[test]
    fn failed_step_is_unknown() {
        let mut s = step(exited(137, false), 5.1);
        s.outcome = StepOutcome::Error {
            message: "boom".into(),
        };
        assert_eq!(check(&b(None, Some("9s")), &s).outcome, Outcome::Unknown);
    }

    #[test]
    fn inverted_bounds_are_a_problem() {
        assert_eq!(b(Some("5s"), Some("1s")).problems("duration").len(), 1);
        assert_eq!(b(None, None).problems("duration").len(), 1);
    }
}
