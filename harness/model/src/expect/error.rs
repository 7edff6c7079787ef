//! `error`: the action must fail — e.g. a call the daemon must refuse — optionally with a text in
//! its error and the Docker API's HTTP status.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::record::StepOutcome;

/// `error: {contains, status}` (both optional: `{}` accepts any failure).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorExpect {
    /// Text the error must contain.
    #[serde(default)]
    pub contains: Option<String>,
    /// The Docker API's HTTP status, e.g. 404 or 409.
    #[serde(default)]
    pub status: Option<u16>,
    /// The action must not finish within the step's `deadline` (a hang the field reports, e.g. a
    /// `stop` of a frozen container): the step is cut off there, with forensics, and the steps
    /// after it still run. Cannot be combined with `contains` or `status`.
    #[serde(default)]
    pub deadline_exceeded: bool,
}

impl ErrorExpect {
    /// Whether a step with this outcome failed the way this expects (so the steps after it run).
    pub fn expects(&self, outcome: &StepOutcome) -> bool {
        match outcome {
            StepOutcome::Error { .. } => !self.deadline_exceeded,
            StepOutcome::DeadlineExceeded { .. } => self.deadline_exceeded,
            _ => false,
        }
    }

    /// Problems with the expectation itself.
    pub fn problems(&self) -> Vec<String> {
        if self.deadline_exceeded && (self.contains.is_some() || self.status.is_some()) {
            vec![
                "expect.error: `deadline_exceeded` cannot be combined with `contains` or \
                  `status` (a cut-off action has no error text or status)"
                    .into(),
            ]
        } else {
            vec![]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hang_is_expected_only_when_asked_for() {
        let hang = ErrorExpect {
            deadline_exceeded: true,
            ..Default::default()
        };
        assert!(!hang.expects(&StepOutcome::Ok));
        let cut_off = StepOutcome::DeadlineExceeded {
            deadline: std::time::Duration::from_secs(5),
        };
        assert!(hang.expects(&cut_off));
        // A hang is not a plain failure.
        assert!(!ErrorExpect::default().expects(&cut_off));
        let both = ErrorExpect {
            status: Some(500),
            ..hang
        };
        assert_eq!(both.problems().len(), 1);
    }
}
