//! `duration`: bounds on how long the step's action took, on the harness's monotonic clock.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::CheckResult;
use crate::record::{StepOutcome, StepRecord};
use crate::units::HumanDuration;

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
    /// Upper bound on the median, for measures taken many times (e.g. churn's `remove`).
    #[serde(default)]
    pub p50: Option<HumanDuration>,
    /// Upper bound on the 95th percentile (nearest rank).
    #[serde(default)]
    pub p95: Option<HumanDuration>,
}

impl Bounds {
    /// Whether `secs` lies within `min` and `max`.
    pub fn contains(&self, secs: f64) -> bool {
        self.min.is_none_or(|m| secs >= m.0.as_secs_f64())
            && self.max.is_none_or(|m| secs <= m.0.as_secs_f64())
    }

    /// Whether every value lies within `min`/`max` and the percentiles within `p50`/`p95`.
    pub fn holds(&self, values: &[f64]) -> bool {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let pct = |p: f64, b: Option<HumanDuration>| {
            b.is_none_or(|b| {
                sorted.is_empty() || crate::verdict::percentile(&sorted, p) <= b.0.as_secs_f64()
            })
        };
        values.iter().all(|v| self.contains(*v)) && pct(50.0, self.p50) && pct(95.0, self.p95)
    }

    /// Problems with the bounds themselves.
    pub fn problems(&self, what: &str) -> Vec<String> {
        match (self.min, self.max) {
            (None, None) if self.p50.is_none() && self.p95.is_none() => {
                vec![format!("{what}: give `min`, `max`, `p50` or `p95`")]
            }
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
        let mut parts = vec![match (self.min, self.max) {
            (Some(a), Some(b)) => format!("between {} and {}", v(a), v(b)),
            (Some(a), None) => format!("at least {}", v(a)),
            (None, Some(b)) => format!("at most {}", v(b)),
            (None, None) => String::new(),
        }];
        if let Some(p) = self.p50 {
            parts.push(format!("p50 at most {}", v(p)));
        }
        if let Some(p) = self.p95 {
            parts.push(format!("p95 at most {}", v(p)));
        }
        parts.retain(|p| !p.is_empty());
        if parts.is_empty() {
            "any".into()
        } else {
            parts.join(", ")
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
            &format!("not measured: step {}", crate::check::outcome_text(step)),
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
            crate::units::format_secs(v)
        } else {
            format!("{v}")
        }
    };
    let expected = bounds.text(timed);
    // A repeated action takes a measure several times: every value must be within min/max, and the
    // percentiles within p50/p95.
    let values = step.measure_values(measure);
    let pass = bounds.holds(&values);
    let observed = if values.len() > 5 {
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let p = |q| show(crate::verdict::percentile(&sorted, q));
        format!(
            "min {} p50 {} p95 {} max {} (n={})",
            show(sorted[0]),
            p(50.0),
            p(95.0),
            show(sorted[sorted.len() - 1]),
            sorted.len()
        )
    } else {
        values
            .iter()
            .map(|v| show(*v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    CheckResult::new(expectation, expected, observed, pass)
}

/// Checks the step's `duration` measure.
pub fn check(bounds: &Bounds, step: &StepRecord) -> CheckResult {
    check_measure("duration", "duration", bounds, step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::verdict::Outcome;

    fn b(min: Option<&str>, max: Option<&str>) -> Bounds {
        Bounds {
            min: min.map(|s| s.parse().unwrap()),
            max: max.map(|s| s.parse().unwrap()),
            ..Default::default()
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
            kind: Default::default(),
            message: "boom".into(),
            http_status: None,
        };
        assert_eq!(check(&b(None, Some("9s")), &s).outcome, Outcome::Unknown);
    }

    #[test]
    fn percentile_bounds() {
        let b = Bounds {
            p95: Some("1s".parse().unwrap()),
            ..Default::default()
        };
        let mut v = vec![0.1; 19];
        v.push(5.0); // one outlier in 20: the p95 (19th value) is still 0.1
        assert!(b.holds(&v));
        v.push(5.0);
        assert!(!b.holds(&v));
        assert_eq!(b.text(true), "p95 at most 1s");
    }

    #[test]
    fn inverted_bounds_are_a_problem() {
        assert_eq!(b(Some("5s"), Some("1s")).problems("duration").len(), 1);
        assert_eq!(b(None, None).problems("duration").len(), 1);
    }
}
