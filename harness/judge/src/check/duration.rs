//! The `duration` check, and the check of bounds on a measure that `measures` shares.

use super::{outcome_text, CheckResult};
use crate::expect::Bounds;
use crate::record::{StepOutcome, StepRecord};
use crate::stats::percentile;
use crate::units::HumanDuration;

/// Whether `secs` lies within `min` and `max`.
pub fn contains(bounds: &Bounds, secs: f64) -> bool {
    bounds.min.is_none_or(|m| secs >= m.0.as_secs_f64())
        && bounds.max.is_none_or(|m| secs <= m.0.as_secs_f64())
}

/// Whether every value lies within `min`/`max` and the percentiles within `p50`/`p95`.
pub fn holds(bounds: &Bounds, values: &[f64]) -> bool {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pct = |p: f64, b: Option<HumanDuration>| {
        b.is_none_or(|b| sorted.is_empty() || percentile(&sorted, p) <= b.0.as_secs_f64())
    };
    values.iter().all(|v| contains(bounds, *v)) && pct(50.0, bounds.p50) && pct(95.0, bounds.p95)
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
            &format!("not measured: step {}", outcome_text(step)),
        );
    }
    let Some(first) = step.measure(measure) else {
        // `check_leaks` measures only the kinds it could read: one it could not is unknown.
        let unread = measure.strip_prefix("leaked_").and_then(|kind| {
            match step.leaks.as_ref()?.get(kind)? {
                crate::record::LeakFinding::Unavailable(why) => Some(why),
                _ => None,
            }
        });
        if let Some(why) = unread {
            return CheckResult::unknown(
                expectation,
                bounds.to_string(),
                &format!(
                    "not measured: the {} kind could not be read: {why}",
                    &measure[7..]
                ),
            );
        }
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
    let pass = holds(bounds, &values);
    let observed = if values.len() > 5 {
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let p = |q| show(percentile(&sorted, q));
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
        assert!(holds(&b, &v));
        v.push(5.0);
        assert!(!holds(&b, &v));
        assert_eq!(b.text(true), "p95 at most 1s");
    }
}
