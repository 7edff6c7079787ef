//! The probe that network faults and dependency outages run around a fault ([`ProbeSpec`]), and
//! the default deadline of such a fault step.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::units::HumanDuration;

/// A probe from a container (or the host) to a container's port.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// The container whose network namespace the probe runs in (default: the host).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// The container probed.
    #[schemars(with = "String")]
    pub to: Spanned<String>,
    /// Its TCP port.
    pub port: u16,
    /// Check an HTTP answer instead of a bare TCP connect.
    #[serde(default)]
    pub http: Option<HttpCheck>,
    /// Time between probes (default 200ms).
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// Deadline of one probe (default 1s).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// How long to wait for recovery after healing (default 15s).
    #[serde(default)]
    pub recovery: Option<HumanDuration>,
}

/// An HTTP check.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// Path (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// Expected status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
}

impl ProbeSpec {
    /// Containers it names.
    pub fn refs(&self) -> Vec<&Spanned<String>> {
        let mut v = vec![&self.to];
        v.extend(self.from.as_ref());
        v
    }

    /// Deadline of one probe.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(1))
    }

    /// Time between probes.
    pub fn interval(&self) -> Duration {
        self.interval
            .map(|d| d.get())
            .unwrap_or(Duration::from_millis(200))
    }

    /// The time a probe window may add to a step beyond the fault itself.
    pub fn allowance(&self) -> Duration {
        self.recovery
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(15))
            + self.timeout() * 8
    }
}

/// The default deadline of a fault step: the fault, the probe window around it, and `margin`.
pub fn deadline(duration: HumanDuration, probe: Option<&ProbeSpec>, margin: Duration) -> Duration {
    duration.get() + probe.map(ProbeSpec::allowance).unwrap_or_default() + margin
}
