//! `file_progress`: does a container make progress, seen from the host without the daemon? Reads
//! a file inside the container (e.g. a counter the application rewrites) through the process the
//! harness holds (`/proc/PID/root`, checked to still be the container's), then waits up to
//! `within` for its content to change. Works while dockerd is down — e.g. to see an application
//! blocked on its full log pipe. The verdict is the `probe` fact (`up`: it changed, `down`: it did
//! not), which the `probe` expectation judges; `time_to_progress` is how long the change took.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::Deadlines;
use crate::units::HumanDuration;

/// Arguments of `file_progress`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileProgress {
    /// The container (it must be running; observed running in an earlier step).
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// The file's absolute path inside the container.
    pub path: String,
    /// How long to wait for the content to change (default 5s).
    #[serde(default)]
    pub within: Option<HumanDuration>,
}

impl FileProgress {
    /// How long to wait for the content to change.
    pub fn within(&self) -> Duration {
        self.within
            .map(HumanDuration::get)
            .unwrap_or(Duration::from_secs(5))
    }
}

impl ActionKind for FileProgress {
    const NAME: &'static str = "file_progress";
    const ANCHORS_ITSELF: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn problems(&self) -> Vec<String> {
        if self.path.starts_with('/') {
            vec![]
        } else {
            vec![format!(
                "file_progress: path {:?} must be absolute (as the container sees it)",
                self.path
            )]
        }
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        self.within() + Duration::from_secs(30)
    }
}
