//! Scenario files on disk: finding them, reading them and planning them. What a scenario is, and
//! how its text is parsed, validated and planned, is the model's ([`model::scenario`], re-exported
//! here); this module only does the reading.

use std::path::{Path, PathBuf};

pub use model::scenario::*;

use model::error::{Error, Result};

/// Reads and parses one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input(format!("{}: cannot read: {e}", path.display())))?;
    load_str(&text, path)
}

/// Expands paths into scenario files: files as given, directories to their `*.yaml`/`*.yml` (sorted).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::input(format!("{}: cannot read directory: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                problems.push(format!("{}: no *.yaml scenario files in it", p.display()));
            }
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            problems.push(format!("{}: no such file or directory", p.display()));
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(Error::Input(problems))
    }
}

/// Loads, validates and plans scenario files, collecting every problem of every file before failing.
/// `repeat` overrides each scenario's own `repeat`; `filter` keeps scenarios whose name or a tag
/// contains it.
pub fn plan(
    paths: &[PathBuf],
    repeat: Option<u32>,
    filter: Option<&str>,
) -> Result<Vec<PlannedScenario>> {
    let texts = discover(paths)?
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).map_err(|e| e.to_string());
            (f, text)
        })
        .collect();
    plan_texts(texts, repeat, filter)
}
