//! Reading scenario files: strict YAML parsing with file:line:col errors, then whole-scenario checks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::{PlannedScenario, Scenario};
use crate::error::{Error, Result};

/// Parses scenario text; `file` names it in errors. Returns every problem found, each starting with
/// `file:line:col:`.
pub fn load_str(text: &str, file: &Path) -> Result<Scenario> {
    let options = serde_saphyr::options! { with_snippet: false };
    let scenario: Scenario = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let report = serde_saphyr::miette::to_miette_report(&e, text, &file.display().to_string());
        let message = first_line(&e.to_string());
        Error::input(format!(
            "{}:{line}:{col}: {message}\n{report:?}",
            file.display()
        ))
    })?;
    let problems = validate(&scenario, file);
    if problems.is_empty() {
        Ok(scenario)
    } else {
        Err(Error::Input(problems))
    }
}

/// serde-saphyr's message ends with its own location; we print the location first, once.
fn first_line(msg: &str) -> String {
    let line = msg.lines().next().unwrap_or(msg).trim();
    match line.rfind(" at line ") {
        Some(i) if line[i..].contains(", column ") => line[..i].to_string(),
        _ => line.to_string(),
    }
}

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
    let files = discover(paths)?;
    let mut problems = Vec::new();
    let mut planned: Vec<PlannedScenario> = Vec::new();
    for file in files {
        match load_file(&file) {
            Ok(scenario) => {
                if let Some(prev) = planned.iter().find(|p| p.scenario.name == scenario.name) {
                    problems.push(format!(
                        "{}: scenario name {:?} is already used by {}",
                        file.display(),
                        scenario.name,
                        prev.file.display()
                    ));
                    continue;
                }
                let repeat = repeat.or(scenario.repeat).unwrap_or(1);
                planned.push(PlannedScenario {
                    file,
                    scenario,
                    repeat,
                });
            }
            Err(Error::Input(mut p)) => problems.append(&mut p),
            Err(other) => return Err(other),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    if let Some(f) = filter {
        planned.retain(|p| p.scenario.name.contains(f) || p.scenario.tags.iter().any(|t| t == f));
    }
    Ok(planned)
}

pub(super) fn at<T>(file: &Path, s: &Spanned<T>) -> String {
    format!(
        "{}:{}:{}",
        file.display(),
        s.referenced.line(),
        s.referenced.column()
    )
}

pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Whole-scenario checks that the YAML grammar cannot express: references resolve, names are usable.
fn validate(s: &Scenario, file: &Path) -> Vec<String> {
    let f = file.display();
    let mut problems = Vec::new();
    if !valid_name(&s.name) {
        problems.push(format!(
            "{f}: name {:?} must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
            s.name
        ));
    }
    if s.steps.is_empty() {
        problems.push(format!(
            "{f}: `steps` is empty: a scenario needs at least one step"
        ));
    }
    if s.repeat == Some(0) {
        problems.push(format!("{f}: `repeat` must be at least 1"));
    }
    for (name, c) in &s.containers {
        if !valid_name(name) {
            problems.push(format!(
                "{f}: container name {name:?} must be letters, digits, '-', '_' or '.'"
            ));
        }
        if let Some(sig) = &c.stop_signal {
            if crate::signal::parse(sig).is_none() {
                problems.push(format!(
                    "{f}: container {name:?}: unknown stop_signal {sig:?} (e.g. SIGTERM, SIGUSR1, 15)"
                ));
            }
        }
        if let (Some(m), Some(ms)) = (c.memory, c.memory_swap) {
            if ms.bytes() < m.bytes() {
                problems.push(format!(
                    "{f}: container {name:?}: memory_swap ({ms}) must be at least memory ({m})"
                ));
            }
        }
        if c.memory_swap.is_some() && c.memory.is_none() {
            problems.push(format!(
                "{f}: container {name:?}: memory_swap needs memory to be set too"
            ));
        }
    }
    problems.extend(super::settings::problems(s, file));
    let known: BTreeSet<&str> = s.containers.keys().map(String::as_str).collect();
    for (i, step) in s.steps.iter().enumerate() {
        for r in step.action.container_refs() {
            if !known.contains(r.value.as_str()) {
                problems.push(format!(
                    "{}: step {} refers to container {:?}, which is not in `containers` (known: {})",
                    at(file, r),
                    i + 1,
                    r.value,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.iter().copied().collect::<Vec<_>>().join(", ")
                    }
                ));
            }
        }
        if step.action.disruptive() && !s.requires.disruptive {
            problems.push(format!(
                "{f}: step {}: `{}` disturbs the daemon itself: declare it with `requires: {{disruptive: true}}`",
                i + 1,
                step.action.name()
            ));
        }
        for p in step.action.problems() {
            problems.push(format!("{f}: step {}: {p}", i + 1));
        }
        if let Some(e) = &step.expect {
            for p in e.problems() {
                problems.push(format!("{f}: step {}: {p}", i + 1));
            }
            if let Some(c) = e.kernel_log.as_ref().and_then(|k| k.container.as_ref()) {
                if !known.contains(c.as_str()) {
                    problems.push(format!(
                        "{f}: step {}: kernel_log refers to container {c:?}, which is not in `containers`",
                        i + 1
                    ));
                }
            }
            if step.action.container_refs().is_empty() && e.needs_container() {
                problems.push(format!(
                    "{f}: step {}: expectations on a container need an action on a container",
                    i + 1
                ));
            }
        }
    }
    problems
}
