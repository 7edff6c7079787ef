//! `requires: {data_root: {size: 512MiB, fs: ext4}}`: the managed daemon's data-root is a
//! filesystem the harness makes for the scenario (a sparse image file, `mkfs`, loop-mounted under
//! the run's own directory), so that filling it never touches the host's own filesystems.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::ByteSize;

/// The smallest image the harness makes (xfs refuses filesystems under 300 MiB).
pub const MIN_SIZE: u64 = 64 << 20;
/// The smallest xfs filesystem `mkfs.xfs` makes.
pub const MIN_XFS_SIZE: u64 = 300 << 20;
/// The largest image the harness makes.
pub const MAX_SIZE: u64 = 16 << 30;

/// A filesystem the harness makes for a managed daemon's data-root.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DataRoot {
    /// The image's size (its filesystem's capacity), e.g. `512MiB`: 64 MiB (300 MiB for xfs) to
    /// 16 GiB.
    pub size: ByteSize,
    /// The filesystem type.
    #[serde(default)]
    pub fs: FsType,
}

/// A filesystem type the harness can make.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FsType {
    /// ext4 (`mkfs.ext4 -m 0`: no blocks reserved for root, so root's writes fill it too).
    #[default]
    Ext4,
    /// xfs (`mkfs.xfs`).
    Xfs,
}

impl FsType {
    /// The name `mkfs.NAME` and `/proc/filesystems` use.
    pub fn name(self) -> &'static str {
        match self {
            FsType::Ext4 => "ext4",
            FsType::Xfs => "xfs",
        }
    }
}

impl DataRoot {
    /// What is wrong with it, if anything.
    pub fn problems(&self) -> Vec<String> {
        let size = self.size.bytes();
        let min = match self.fs {
            FsType::Ext4 => MIN_SIZE,
            FsType::Xfs => MIN_XFS_SIZE,
        };
        if size < min || size > MAX_SIZE {
            return vec![format!(
                "data_root: size {} is outside {} to {} for {}",
                self.size,
                ByteSize(min),
                ByteSize(MAX_SIZE),
                self.fs.name()
            )];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> DataRoot {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn sizes_are_bounded_per_filesystem() {
        assert!(parse("{size: 512MiB, fs: ext4}").problems().is_empty());
        assert!(parse("{size: 512MiB}").problems().is_empty());
        assert!(parse("{size: 512MiB, fs: xfs}").problems().is_empty());
        assert_eq!(parse("{size: 128MiB, fs: xfs}").problems().len(), 1);
        assert_eq!(parse("{size: 1MiB}").problems().len(), 1);
        assert_eq!(parse("{size: 64GiB}").problems().len(), 1);
        assert!(serde_saphyr::from_str::<DataRoot>("{size: 1GiB, fs: btrfs}").is_err());
    }
}
