//! Shaping faults on a container's `eth0`: `net_delay` (delay, jitter, correlation), `net_loss`,
//! `net_rate`, `net_corrupt`, `net_duplicate`. Each uses the kernel's netem where the kernel has it;
//! without netem, delay is served by the harness through NFQUEUE, loss becomes an iptables
//! `statistic` rule, rate is always `tbf`, and corrupt/duplicate are a clear error naming the missing
//! kernel feature. The mechanism chosen is the step's `mechanism` fact. Qdiscs carry a handle of
//! ours and rules the run's comment; each is journaled before it is added.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::window::{self, ProbeSpec};
use super::ActionKind;
use super::Deadlines;
use crate::units::HumanDuration;

fn deadline(duration: HumanDuration, probe: &Option<ProbeSpec>) -> Duration {
    window::deadline(duration, probe.as_ref(), Duration::from_secs(30))
}

fn refs<'a>(c: &'a Spanned<String>, probe: &'a Option<ProbeSpec>) -> Vec<&'a Spanned<String>> {
    let mut v = vec![c];
    v.extend(probe.iter().flat_map(ProbeSpec::refs));
    v
}

fn percent_problem(name: &str, p: f64) -> Vec<String> {
    if (0.0..=100.0).contains(&p) {
        vec![]
    } else {
        vec![format!("{name}: percent must be between 0 and 100")]
    }
}

/// Arguments of `net_delay`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetDelay {
    /// The container whose outgoing packets are delayed.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Added delay.
    pub delay: HumanDuration,
    /// ± jitter.
    #[serde(default)]
    pub jitter: Option<HumanDuration>,
    /// Jitter correlation in percent (netem only).
    #[serde(default)]
    pub correlation: Option<f64>,
    /// How long.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

impl ActionKind for NetDelay {
    const NAME: &'static str = "net_delay";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        refs(&self.container, &self.probe)
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        deadline(self.duration, &self.probe)
    }
}

/// Arguments of `net_loss`, `net_corrupt` and `net_duplicate`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetPercent {
    /// The container whose outgoing packets are affected.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Share of packets, 0-100.
    pub percent: f64,
    /// How long.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

macro_rules! percent_fault {
    ($ty:ident, $name:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $ty(pub NetPercent);

        impl ActionKind for $ty {
            const NAME: &'static str = $name;

            fn container_refs(&self) -> Vec<&Spanned<String>> {
                refs(&self.0.container, &self.0.probe)
            }

            fn problems(&self) -> Vec<String> {
                percent_problem($name, self.0.percent)
            }

            fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
                deadline(self.0.duration, &self.0.probe)
            }
        }
    };
}

percent_fault!(
    NetLoss,
    "net_loss",
    "Arguments of `net_loss`: drop a share of outgoing packets."
);
percent_fault!(
    NetCorrupt,
    "net_corrupt",
    "Arguments of `net_corrupt` (netem only)."
);
percent_fault!(
    NetDuplicate,
    "net_duplicate",
    "Arguments of `net_duplicate` (netem only)."
);

/// Arguments of `net_rate`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetRate {
    /// The container whose outgoing traffic is limited.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// Rate as tc writes it: `1mbit`, `500kbit`.
    pub rate: String,
    /// How long.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

impl ActionKind for NetRate {
    const NAME: &'static str = "net_rate";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        refs(&self.container, &self.probe)
    }

    fn problems(&self) -> Vec<String> {
        let ok = self
            .rate
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse::<f64>()
            .is_ok()
            && self.rate.ends_with("bit");
        if ok {
            vec![]
        } else {
            vec![format!(
                "net_rate: rate {:?} must look like 1mbit or 500kbit",
                self.rate
            )]
        }
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        deadline(self.duration, &self.probe)
    }
}
