//! `leak_veth`: create orphan veth pairs attached to the engine's bridge — the debris a crashed
//! daemon can leave — so that leak detection can be shown to find them. They are named `sdleak…`,
//! carry the alias `shakedown:<run id>`, are journaled before they are made and deleted after the
//! iteration, whatever happens.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;

/// Arguments of `leak_veth`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakVeth {
    /// How many pairs (default 1).
    #[serde(default)]
    pub count: Option<u32>,
}

impl ActionKind for LeakVeth {
    const NAME: &'static str = "leak_veth";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
