//! The JSON report of one journal (`run` on one target, `judge`): a [`Document`] with one target,
//! carrying the whole record (every step, measure, event, the environment fingerprint) and every
//! verdict with expected and observed values.

use std::collections::BTreeMap;
use std::path::Path;

use super::document::{Command, Document, Target};
use super::Report;

/// The report of one journal as a document with one target, named as the journal names it.
pub fn document(command: Command, report: &Report, journal: &Path) -> Document {
    let name = report.run.target.clone();
    Document::of_targets(
        command,
        vec![Target::ran(
            &name,
            &BTreeMap::new(),
            Some(journal),
            report.clone(),
        )],
    )
}

/// Writes the report of one journal as pretty JSON to `path` (`-`: standard output).
pub fn write(command: Command, report: &Report, journal: &Path, path: &Path) -> anyhow::Result<()> {
    document(command, report, journal).write(path)
}
