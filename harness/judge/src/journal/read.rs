//! Reading a journal back, line by line (a long run's journal is never held in memory whole, and
//! no line longer than [`MAX_JOURNAL_LINE_BYTES`] is). A run killed mid-write leaves its last line
//! cut: that line is dropped and said so. A line that breaks the format after a journal's first
//! line — not an entry, not UTF-8, too long — ends the reading there ([`End::Broken`]): [`read`]
//! and [`for_each`] refuse the journal, naming the file and line; the fold judges what came before
//! and ends the run `unknown` with the reason.

use std::io::{BufRead, Read};
use std::path::Path;

use model::limits::{self, MAX_JOURNAL_LINE_BYTES};

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

/// How a journal's text ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// At the end of a complete line.
    Complete,
    /// With a line cut short (no newline, not an entry): the run was killed while writing it.
    Cut,
    /// At a line that breaks the format; the reason names the journal and the line. Nothing after
    /// it was read.
    Broken(String),
}

/// Reads and parses a journal file into memory; a line that breaks the format is an error.
pub fn read(path: &Path) -> Result<Journaled> {
    let mut entries = Vec::new();
    let cut = for_each(path, |e| entries.push(e))?;
    Ok(Journaled { entries, cut })
}

/// Calls `f` with each entry of a journal file, in order; returns whether the last line was cut.
/// Checks that the file is a journal of a format this harness reads; a line that breaks the
/// format is an error.
pub fn for_each(path: &Path, f: impl FnMut(Entry)) -> Result<bool> {
    match scan_path(path, f)? {
        End::Complete => Ok(false),
        End::Cut => Ok(true),
        End::Broken(reason) => Err(Error::input(reason)),
    }
}

/// [`scan`] of a journal file.
pub fn scan_path(path: &Path, f: impl FnMut(Entry)) -> Result<End> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::input(format!("{}: cannot read: {e}", path.display())))?;
    scan(
        std::io::BufReader::new(file),
        &path.display().to_string(),
        f,
    )
}

/// Calls `f` with each entry of a journal read from `input` (named `name` in messages), in order,
/// and says how the text ends. An error when the text is not a journal of a format this harness
/// reads (empty, or its first line is not a `run_started` entry of [`FORMAT`]) or cannot be read.
pub fn scan(mut input: impl BufRead, name: &str, mut f: impl FnMut(Entry)) -> Result<End> {
    let cannot = |e: std::io::Error| Error::input(format!("{name}: cannot read: {e}"));
    let mut line = Vec::new();
    let mut number = 0usize;
    let mut seen = 0usize;
    loop {
        line.clear();
        let limit = MAX_JOURNAL_LINE_BYTES as u64 + 1;
        if (&mut input)
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(cannot)?
            == 0
        {
            return if seen == 0 {
                Err(Error::input(format!(
                    "{name}:1: not a shakedown journal (it is empty)"
                )))
            } else {
                Ok(End::Complete)
            };
        }
        number += 1;
        let complete = line.last() == Some(&b'\n');
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.len() > MAX_JOURNAL_LINE_BYTES {
            let reason = format!(
                "{name}:{number}: a line longer than {} (MAX_JOURNAL_LINE_BYTES)",
                limits::bytes(MAX_JOURNAL_LINE_BYTES)
            );
            return if seen == 0 {
                Err(Error::input(format!("{reason}: not a shakedown journal")))
            } else {
                Ok(End::Broken(reason))
            };
        }
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Every complete line ends with a newline: only the very last one can lack it, cut short
        // by a killed writer (whatever it holds, the writer did not finish it, so it is dropped).
        if !complete && seen > 0 {
            return Ok(End::Cut);
        }
        let entry = match serde_json::from_slice::<Entry>(text) {
            Ok(e) => e,
            Err(e) if seen == 0 => {
                return Err(Error::input(format!(
                    "{name}:{number}: not a shakedown journal (its first line must be a run_started entry): {e}"
                )))
            }
            Err(e) => {
                return Ok(End::Broken(format!(
                    "{name}:{number}:{}: not a journal entry: {e}",
                    e.column()
                )))
            }
        };
        if seen == 0 {
            match &entry.event {
                Event::RunStarted(start) if start.format == FORMAT => {}
                Event::RunStarted(start) => {
                    return Err(Error::input(format!(
                        "{name}: journal format {} is not supported (this shakedown reads format {FORMAT})",
                        start.format
                    )))
                }
                _ => {
                    return Err(Error::input(format!(
                        "{name}:{number}: not a shakedown journal (it must start with a run_started entry)"
                    )))
                }
            }
        }
        seen += 1;
        f(entry);
    }
}
