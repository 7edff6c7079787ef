//! `duration`: bounds on how long the step's action took, on the harness's monotonic clock.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverted_bounds_are_a_problem() {
        let inverted = Bounds {
            min: Some("5s".parse().unwrap()),
            max: Some("1s".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(inverted.problems("duration").len(), 1);
        assert_eq!(Bounds::default().problems("duration").len(), 1);
    }
}
