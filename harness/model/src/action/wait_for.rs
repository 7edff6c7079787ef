//! `wait_for`: poll a container until it reaches a state (e.g. `running` again after a restart
//! policy kicked in, `removed` after `--rm`), and measure how long that took.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;
use crate::expect::State;

/// Arguments of `wait_for`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitFor {
    /// The container's name in the scenario.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// The state to reach.
    pub state: State,
    /// Also require the restart count to have grown since the container's anchor (the restart
    /// policy acted): its look before the latest step whose effect may still unfold, such as a
    /// `kill`, or else its latest look.
    #[serde(default)]
    pub restarted: bool,
    /// Also require this health (`starting`, `healthy`, `unhealthy`); the container needs a
    /// `healthcheck`.
    #[serde(default)]
    pub health: Option<Health>,
}

/// A container's health as its health check reports it.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Within the start period, or no check has passed or failed often enough yet.
    Starting,
    /// The last check passed.
    Healthy,
    /// `retries` checks in a row failed.
    Unhealthy,
}

impl Health {
    /// The name as docker writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

impl ActionKind for WaitFor {
    const NAME: &'static str = "wait_for";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(60)
    }
}
