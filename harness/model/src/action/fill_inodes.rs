//! `fill_inodes`: use up a filesystem the scenario made (`requires: {data_root: ...}`) until only
//! `free` inodes are left (none by default), with empty files in a directory the ledger holds
//! before it is made. Removed like `fill_disk`'s files: when the step's `duration` ends, else by
//! a later `release: true` or at the end of the iteration.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::fill_disk::{fill_problems, FillTarget};
use super::{ActionKind, Deadlines};
use crate::units::HumanDuration;

/// Arguments of `fill_inodes`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FillInodes {
    /// The filesystem to fill: `data_root`, or `{volume: NAME}` (a volume of the scenario).
    #[schemars(with = "FillTarget")]
    pub target: Spanned<FillTarget>,
    /// Inodes left free once filled; default 0.
    #[serde(default)]
    pub free: Option<u64>,
    /// How long it stays out of inodes; without it, until `release: true` or the end of the
    /// iteration.
    #[serde(default)]
    pub duration: Option<HumanDuration>,
    /// Remove what earlier fills of this target in the iteration made.
    #[serde(default)]
    pub release: bool,
}

impl ActionKind for FillInodes {
    const NAME: &'static str = "fill_inodes";
    const DISRUPTIVE: bool = true;

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn problems(&self) -> Vec<String> {
        fill_problems(
            Self::NAME,
            self.release,
            self.free.is_some(),
            self.duration.is_some(),
        )
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        // Tens of thousands of files on a small filesystem.
        self.duration.map(|d| d.get()).unwrap_or_default() + Duration::from_secs(120)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_or_a_release() {
        let f: FillInodes = serde_saphyr::from_str("{target: data_root, free: 10}").unwrap();
        assert!(f.problems().is_empty());
        let r: FillInodes =
            serde_saphyr::from_str("{target: data_root, release: true, duration: 1s}").unwrap();
        assert_eq!(r.problems().len(), 1);
    }
}
