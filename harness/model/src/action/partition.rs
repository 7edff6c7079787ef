//! `partition`: drop traffic between a container and another container (or an address, optionally
//! one TCP port), in one or both directions, with iptables rules inside the container's network
//! namespace (joined through the descriptor held since the container was observed), each carrying
//! the comment `shakedown:<run id>` and journaled before it is inserted. Healed when `duration`
//! ends (and always at the end of the step).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::window::{self, ProbeSpec};
use super::ActionKind;
use super::Deadlines;
use crate::units::HumanDuration;

/// Which traffic a partition drops.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Both ways (default).
    #[default]
    Both,
    /// From the container out.
    Egress,
    /// Into the container.
    Ingress,
}

/// Arguments of `partition`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The container whose namespace gets the rules.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// The other side: a scenario container...
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub to: Option<Spanned<String>>,
    /// ...or an address or CIDR.
    #[serde(default)]
    pub address: Option<String>,
    /// Only this TCP port of the other side.
    #[serde(default)]
    pub port: Option<u16>,
    /// Direction (default both).
    #[serde(default)]
    pub direction: Direction,
    /// How long the partition lasts.
    pub duration: HumanDuration,
    /// A probe run before, during and after.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
}

impl ActionKind for Partition {
    const NAME: &'static str = "partition";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        let mut v = vec![&self.container];
        v.extend(self.to.as_ref());
        v.extend(self.probe.iter().flat_map(ProbeSpec::refs));
        v
    }

    fn problems(&self) -> Vec<String> {
        match (&self.to, &self.address) {
            (None, None) => vec!["partition: give `to` (a container) or `address`".into()],
            (Some(_), Some(_)) => vec!["partition: give `to` or `address`, not both".into()],
            _ => vec![],
        }
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        window::deadline(self.duration, self.probe.as_ref(), Duration::from_secs(30))
    }
}
