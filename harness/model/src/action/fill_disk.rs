//! `fill_disk`: fill a filesystem the scenario made (`requires: {data_root: ...}`) until only
//! `free` bytes are left for root (none by default), with files the ledger holds before they are
//! written. They are removed when the step's `duration` ends, else by a later `release: true` or
//! at the end of the iteration. Nothing of the host's own filesystems is ever filled: a scenario
//! without a harness-made filesystem is refused when it is loaded.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{ActionKind, Deadlines};
use crate::units::{ByteSize, HumanDuration};

/// What a fill fills: `data_root`, or `{volume: NAME}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FillTarget {
    /// The filesystem the harness made for the managed daemon's data-root (its images, container
    /// layers, volumes and logs all live on it): fill files at its root.
    DataRoot,
    /// A named volume of the scenario (on that filesystem): fill files inside the volume, where
    /// the containers that mount it see them.
    Volume(String),
}

impl FillTarget {
    /// As written in scenarios.
    pub fn name(&self) -> String {
        match self {
            FillTarget::DataRoot => "data_root".into(),
            FillTarget::Volume(v) => format!("volume {v:?}"),
        }
    }
}

/// Arguments of `fill_disk`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FillDisk {
    /// The filesystem to fill: `data_root`, or `{volume: NAME}` (a volume of the scenario).
    #[schemars(with = "FillTarget")]
    pub target: Spanned<FillTarget>,
    /// Bytes left free (for root) once filled; default 0, a full disk.
    #[serde(default)]
    pub free: Option<ByteSize>,
    /// How long it stays full; without it, until `release: true` or the end of the iteration.
    #[serde(default)]
    pub duration: Option<HumanDuration>,
    /// Remove what earlier fills of this target in the iteration wrote.
    #[serde(default)]
    pub release: bool,
}

/// The problems of a fill's arguments shared by `fill_disk` and `fill_inodes`.
pub(super) fn fill_problems(name: &str, release: bool, sized: bool, timed: bool) -> Vec<String> {
    if release && (sized || timed) {
        vec![format!("{name}: `release` takes no argument but `target`")]
    } else {
        vec![]
    }
}

impl ActionKind for FillDisk {
    const NAME: &'static str = "fill_disk";
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
        self.duration.map(|d| d.get()).unwrap_or_default() + Duration::from_secs(60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(yaml: &str) -> FillDisk {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn a_fill_or_a_release() {
        assert!(fill("{target: data_root}").problems().is_empty());
        assert!(fill("{target: data_root, free: 1MiB, duration: 2s}")
            .problems()
            .is_empty());
        assert!(fill("{target: data_root, release: true}")
            .problems()
            .is_empty());
        assert_eq!(
            fill("{target: data_root, release: true, free: 0}")
                .problems()
                .len(),
            1
        );
        assert_eq!(
            fill("{target: {volume: db}}").target.value,
            FillTarget::Volume("db".into())
        );
        assert!(serde_saphyr::from_str::<FillDisk>("{target: /var}").is_err());
        assert!(serde_saphyr::from_str::<FillDisk>("{free: 0}").is_err());
    }
}
