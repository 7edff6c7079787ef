//! The JSON report: the whole record (every step, measure, event, the environment fingerprint) and every
//! verdict with expected and observed values.

use std::path::Path;

use super::Report;

/// Writes the report as pretty JSON.
pub fn write(report: &Report, path: &Path) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}
