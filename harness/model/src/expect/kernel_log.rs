//! `kernel_log`: kernel lines seen from the iteration's start until the step's end must include
//! (`present`) or exclude (`absent`) classes of lines, optionally only those naming a container's id
//! (an OOM kill's `task_memcg=/docker/<id>`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kernel::KernelClass;

/// What the kernel log must or must not show.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KernelLog {
    /// Classes that must appear: `oom_kill`, `unregister_netdevice`, `hung_task`, `warning`.
    #[serde(default)]
    pub present: Vec<KernelClass>,
    /// Classes that must not appear.
    #[serde(default)]
    pub absent: Vec<KernelClass>,
    /// Only count lines that name this scenario container's id.
    #[serde(default)]
    pub container: Option<String>,
    /// Only count lines that name this process (`task=NAME,` as the oom-kill line names the task
    /// it killed, or `(NAME)`), e.g. `dockerd`.
    #[serde(default)]
    pub task: Option<String>,
}
