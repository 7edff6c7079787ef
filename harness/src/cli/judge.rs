//! `judge`: a journal read, judged and reported — the reports of `run` too.

use std::io::Write;
use std::path::Path;

use model::error::{Error, Result, EXIT_FAILED, EXIT_OK};
use report::{self, Report};

/// Report files to write.
pub(super) struct Outputs<'a> {
    pub(super) json: Option<&'a Path>,
    pub(super) junit: Option<&'a Path>,
    pub(super) html: Option<&'a Path>,
}

/// The report of a journal: its record folded and judged.
pub(super) fn report_of(path: &Path) -> Result<Report> {
    let judged = journal::judge_journal(path)?;
    Ok(Report::new(judged.record, judged.verdicts))
}

/// Reads a journal, judges it and writes its reports; the exit code says whether all passed.
/// With `--json -` the JSON report is standard output's only content (the terminal text goes to
/// standard error).
pub(super) fn judge(
    command: report::document::Command,
    path: &Path,
    out: &Outputs<'_>,
    verbose: bool,
) -> Result<i32> {
    let journal = path;
    let report = report_of(journal)?;
    let text = report::terminal::render(&report, verbose);
    if out.json == Some(Path::new("-")) {
        eprint!("{text}");
    } else {
        print!("{text}");
        let _ = std::io::stdout().flush();
    }
    if let Some(path) = out.json {
        report::json::write(command, &report, journal, path)
            .map_err(|e| Error::env(format!("{e:#}")))?;
    }
    if let Some(path) = out.junit {
        report::junit::write(&report, path).map_err(|e| Error::env(format!("{e:#}")))?;
    }
    if let Some(path) = out.html {
        std::fs::write(path, report::html::run_page(&report))
            .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(if report.succeeded() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
