//! Reading a journal back. A run killed mid-write leaves its last line cut: that line is dropped
//! and said so; a bad line anywhere else is an error naming the file and line.

use std::path::Path;

use super::{Entry, Event, FORMAT};
use crate::error::{Error, Result};

/// A journal as read from a file.
#[derive(Clone, Debug)]
pub struct Journaled {
    /// Its entries, in file order.
    pub entries: Vec<Entry>,
    /// Whether the last line was cut (the run was killed while writing it).
    pub cut: bool,
}

/// Reads and parses a journal file.
pub fn read(path: &Path) -> Result<Journaled> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input(format!("{}: cannot read: {e}", path.display())))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut entries = Vec::with_capacity(lines.len());
    let mut cut = false;
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => entries.push(e),
            // Only the very last line may be cut short, and only when the file does not end
            // with a newline (every complete line does).
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => cut = true,
            Err(e) if entries.is_empty() => {
                return Err(Error::input(format!(
                "{}:{}: not a shakedown journal (its first line must be a run_started entry): {e}",
                path.display(),
                i + 1
            )))
            }
            Err(e) => {
                return Err(Error::input(format!(
                    "{}:{}:{}: not a journal entry: {e}",
                    path.display(),
                    i + 1,
                    e.column()
                )))
            }
        }
    }
    match entries.first().map(|e| &e.event) {
        Some(Event::RunStarted(start)) if start.format == FORMAT => Ok(Journaled { entries, cut }),
        Some(Event::RunStarted(start)) => Err(Error::input(format!(
            "{}: journal format {} is not supported (this shakedown reads format {FORMAT})",
            path.display(),
            start.format
        ))),
        _ => Err(Error::input(format!(
            "{}:1: not a shakedown journal (it must start with a run_started entry)",
            path.display()
        ))),
    }
}
