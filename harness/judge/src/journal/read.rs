//! Reading a journal back, line by line (a long run's journal is never held in memory whole). A run
//! killed mid-write leaves its last line cut: that line is dropped and said so; a bad line anywhere
//! else is an error naming the file and line.

use std::io::BufRead;
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

/// Reads and parses a journal file into memory.
pub fn read(path: &Path) -> Result<Journaled> {
    let mut entries = Vec::new();
    let cut = for_each(path, |e| entries.push(e))?;
    Ok(Journaled { entries, cut })
}

/// Calls `f` with each entry of a journal file, in order; returns whether the last line was cut.
/// Checks that the file is a journal of a format this harness reads.
pub fn for_each(path: &Path, mut f: impl FnMut(Entry)) -> Result<bool> {
    let cannot = |e: std::io::Error| Error::input(format!("{}: cannot read: {e}", path.display()));
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(cannot)?);
    let mut line = String::new();
    let mut number = 0usize;
    let mut seen = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(cannot)? == 0 {
            return if seen == 0 {
                Err(Error::input(format!(
                    "{}:1: not a shakedown journal (it is empty)",
                    path.display()
                )))
            } else {
                Ok(false)
            };
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let entry = match serde_json::from_str::<Entry>(&line) {
            Ok(e) => e,
            // Only the very last line may be cut short: every complete line ends with a newline.
            Err(_) if !line.ends_with('\n') && seen > 0 => return Ok(true),
            Err(e) if seen == 0 => {
                return Err(Error::input(format!(
                    "{}:{number}: not a shakedown journal (its first line must be a run_started entry): {e}",
                    path.display()
                )))
            }
            Err(e) => {
                return Err(Error::input(format!(
                    "{}:{number}:{}: not a journal entry: {e}",
                    path.display(),
                    e.column()
                )))
            }
        };
        if seen == 0 {
            match &entry.event {
                Event::RunStarted(start) if start.format == FORMAT => {}
                Event::RunStarted(start) => {
                    return Err(Error::input(format!(
                    "{}: journal format {} is not supported (this shakedown reads format {FORMAT})",
                    path.display(),
                    start.format
                )))
                }
                _ => {
                    return Err(Error::input(format!(
                        "{}:1: not a shakedown journal (it must start with a run_started entry)",
                        path.display()
                    )))
                }
            }
        }
        seen += 1;
        f(entry);
    }
}
