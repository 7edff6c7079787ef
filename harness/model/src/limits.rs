//! Bounds on what shakedown reads: scenario files, their `vars`/`matrix` expansion, inventories,
//! thresholds files and journals all come from elsewhere (an issue, a colleague, a remote host),
//! so each reader refuses input beyond a documented size with an error that says what was too big
//! and where, instead of holding a gigabyte in memory or planning a billion iterations.
//!
//! Every bound is far above what a real scenario or run needs; each is tested where it is raised.

use std::time::Duration;

/// Largest scenario file, inventory or thresholds file read, in bytes (1 MiB; the largest
/// built-in scenario is a few KiB).
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Deepest nesting of YAML maps and sequences in a scenario, inventory or thresholds file (a
/// scenario needs about 8: steps → step → expect → exits → …).
pub const MAX_YAML_DEPTH: usize = 32;

/// Most YAML aliases (`*name`) in one file, and most anchors (`&name`): enough to reuse a
/// container or an expectation, far too few for an alias bomb.
pub const MAX_YAML_ALIASES: usize = 1_000;

/// Most steps in one scenario.
pub const MAX_STEPS: usize = 1_000;

/// Largest `repeat` (in a scenario or from `--repeat`): iterations of a scenario's steps.
pub const MAX_REPEAT: u32 = 10_000;

/// Most `matrix` variants in one scenario file.
pub const MAX_MATRIX_VARIANTS: usize = 256;

/// Most text the variants of one file expand to together, in bytes (the file's size times its
/// variants, about): each variant is parsed and validated.
pub const MAX_EXPANDED_BYTES: usize = 16 << 20;

/// Longest duration a scenario may give (a deadline, a sleep, a timeout, a threshold's floor):
/// 7 days. Longer ones are mistakes, and would overflow the clock arithmetic that uses them.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Longest journal line read, in bytes (64 MiB). The longest line a run writes is its plan: the
/// scenarios it runs, each at most [`MAX_FILE_BYTES`] as YAML.
pub const MAX_JOURNAL_LINE_BYTES: usize = 64 << 20;

/// serde-saphyr's budget for every YAML file shakedown reads: [`MAX_YAML_DEPTH`] and
/// [`MAX_YAML_ALIASES`], the library's defaults otherwise (node, event and byte counts).
pub fn yaml_budget() -> Option<serde_saphyr::Budget> {
    serde_saphyr::budget! {
        max_depth: MAX_YAML_DEPTH,
        max_aliases: MAX_YAML_ALIASES,
        max_anchors: MAX_YAML_ALIASES,
    }
}

/// A size in bytes for a message: `1 MiB`, `64 MiB`, `1500 bytes`.
pub fn bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// The problem of a text over [`MAX_FILE_BYTES`], naming the file, or `None`.
pub fn file_too_big(text: &str, file: &std::path::Path, what: &str) -> Option<String> {
    (text.len() > MAX_FILE_BYTES).then(|| {
        format!(
            "{}: the {what} is {} bytes, more than the limit of {} (MAX_FILE_BYTES)",
            file.display(),
            text.len(),
            bytes(MAX_FILE_BYTES)
        )
    })
}

/// A clear message for a serde-saphyr error that is a budget breach (too deep, too many
/// aliases, …), or `None` for other errors.
pub fn budget_message(e: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach as B;
    let serde_saphyr::Error::Budget { breach, .. } = e else {
        return None;
    };
    Some(match breach {
        B::Depth { .. } => {
            format!("YAML nested more than {MAX_YAML_DEPTH} levels deep (MAX_YAML_DEPTH)")
        }
        B::Aliases { .. } => {
            format!("more than {MAX_YAML_ALIASES} YAML aliases (MAX_YAML_ALIASES)")
        }
        B::Anchors { .. } => {
            format!("more than {MAX_YAML_ALIASES} YAML anchors (MAX_YAML_ALIASES)")
        }
        B::AliasAnchorRatio { aliases, anchors } => {
            format!("{aliases} YAML aliases of {anchors} anchors: too many aliases per anchor")
        }
        other => format!("the YAML is too large for shakedown to read ({other:?})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_their_unit() {
        assert_eq!(bytes(MAX_FILE_BYTES), "1 MiB");
        assert_eq!(bytes(MAX_JOURNAL_LINE_BYTES), "64 MiB");
        assert_eq!(bytes(2048), "2 KiB");
        assert_eq!(bytes(1500), "1500 bytes");
    }
}
