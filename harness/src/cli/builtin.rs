//! The built-in suite, embedded in the binary (`build.rs`): a copied binary runs it from any
//! directory with nothing beside it. Runs read it from `<state>/builtin/<source id>/`, written
//! from the embedded copy (so plans, journals and remote bundles name real files);
//! `shakedown scenarios export DIR` writes it out to edit.

use std::path::{Path, PathBuf};

use model::error::{Error, Result};

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The schema file the exported scenarios name in their `yaml-language-server` line.
const SCHEMA_FILE: &str = "scenario.schema.json";

/// The directory holding the built-in suite of this build, written from the embedded copy where a
/// file is missing or differs.
pub fn suite() -> Result<PathBuf> {
    let state = host::private::state_dir();
    let dir = state.join("builtin").join(version::SOURCE_ID);
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        Error::env(format!(
            "cannot {what} the built-in suite at {}: {e} (set SHAKEDOWN_STATE_DIR, or `shakedown scenarios export DIR` and run DIR)",
            p.display()
        ))
    };
    host::private::ensure_dir(&state)
        .and_then(|()| host::private::create_dir_all(&dir))
        .map_err(|e| fail("write", &dir, e))?;
    for (name, text) in BUILTIN {
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() == Some(text.as_bytes()) {
            continue;
        }
        // Whole or not at all: another run may be reading the same directory.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        host::private::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| fail("write", &path, e))?;
    }
    // Only this build's scenarios: a file put there by hand would otherwise run as built-in.
    let entries = std::fs::read_dir(&dir).map_err(|e| fail("read", &dir, e))?;
    for e in entries.flatten() {
        let name = e.file_name();
        // Dot files are other runs' files being written (renamed into place when whole).
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if !BUILTIN.iter().any(|(n, _)| name.to_str() == Some(n)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(dir)
}

/// Writes the built-in suite and its schema into `dir` (created if missing), with the user's
/// umask; an existing file with other content is refused before anything is written, unless
/// `force`. Returns the files written.
pub fn export(dir: &Path, schema: &str, force: bool) -> Result<Vec<PathBuf>> {
    let mut files: Vec<(PathBuf, String)> = BUILTIN
        .iter()
        .map(|(name, text)| {
            (
                dir.join(name),
                text.replacen(
                    "$schema=../scenario.schema.json",
                    &format!("$schema={SCHEMA_FILE}"),
                    1,
                ),
            )
        })
        .collect();
    files.push((dir.join(SCHEMA_FILE), schema.to_string()));
    if !force {
        for (path, text) in &files {
            if let Ok(old) = std::fs::read(path) {
                if old != text.as_bytes() {
                    return Err(Error::input(format!(
                        "{} exists with other content: nothing written (--force overwrites)",
                        path.display()
                    )));
                }
            }
        }
    }
    let fail =
        |p: &Path, e: std::io::Error| Error::input(format!("cannot write {}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    for (path, text) in &files {
        std::fs::write(path, text).map_err(|e| fail(path, e))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_suite_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        assert_eq!(embedded, on_disk);
        for (name, text) in BUILTIN {
            assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), *text);
        }
    }
}
