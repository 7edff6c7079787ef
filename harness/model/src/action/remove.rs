//! `remove`: force-remove a container (`docker rm -f`), e.g. before counting leftovers.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::{ContainerRef, Deadlines};

/// Arguments of `remove`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Remove(pub ContainerRef);

impl ActionKind for Remove {
    const NAME: &'static str = "remove";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.0.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(60)
    }
}
