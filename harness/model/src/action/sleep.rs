//! `sleep`: let time pass (a container runs, memory grows, a fault lasts).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;
use crate::units::HumanDuration;

/// Arguments of `sleep`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sleep {
    /// How long.
    pub duration: HumanDuration,
}

impl ActionKind for Sleep {
    const NAME: &'static str = "sleep";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        self.duration.get() + Duration::from_secs(10)
    }
}
