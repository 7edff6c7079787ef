//! Reading scenario files: strict YAML parsing with file:line:col errors, then whole-scenario checks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::params::PosMap;
use super::{PlannedScenario, Scenario};
use crate::error::{Error, Result};
use crate::limits;

/// Parses scenario text; `file` names it in errors. Returns every problem found, each starting with
/// `file:line:col:`. A file with a `matrix` yields its first variant (see [`load_variants`]).
pub fn load_str(text: &str, file: &Path) -> Result<Scenario> {
    let mut all = load_variants(text, file)?;
    Ok(all.swap_remove(0))
}

/// Parses scenario text into its scenarios: one, or one per `matrix` variant (named
/// `NAME[VARIANT]`, with its `vars` resolved and no `matrix`). Every variant is validated; problems
/// point at the original text.
pub fn load_variants(text: &str, file: &Path) -> Result<Vec<Scenario>> {
    if let Some(p) = limits::file_too_big(text, file, "scenario file") {
        return Err(Error::input(p));
    }
    let variants = super::params::expand(text, file).map_err(Error::Input)?;
    let count = variants.len();
    // Each variant's problems: a problem every variant has is reported once, others name theirs.
    let mut found: Vec<(Option<String>, Vec<String>)> = Vec::new();
    let mut out = Vec::new();
    for v in variants {
        match parse(&v.text, file, &v.map) {
            Ok(mut s) => {
                if let Some(name) = &v.name {
                    s.name = format!("{}[{name}]", s.name);
                    s.matrix.clear();
                }
                if !s.vars.is_empty() || v.name.is_some() {
                    s.vars = v.values;
                }
                out.push(s);
            }
            Err(Error::Input(p)) => found.push((v.name, p)),
            Err(other) => return Err(other),
        }
    }
    let mut problems: Vec<String> = Vec::new();
    for (name, lines) in &found {
        for line in lines {
            let first = |l: &String| l.lines().next().unwrap_or_default().to_string();
            let everywhere = found.len() == count
                && found
                    .iter()
                    .all(|(_, ls)| ls.iter().any(|l| first(l) == first(line)));
            let line = match name {
                Some(n) if !everywhere => match line.split_once('\n') {
                    // Which variant, after the first line (a report may follow).
                    Some((first, rest)) => format!("{first} (variant {n:?})\n{rest}"),
                    None => format!("{line} (variant {n:?})"),
                },
                _ => line.clone(),
            };
            if !problems.iter().any(|p| first(p) == first(&line)) {
                problems.push(line);
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Input(problems))
    }
}

/// Parses and validates one (substituted) text; `map` turns its positions into the original's.
fn parse(text: &str, file: &Path, map: &PosMap) -> Result<Scenario> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        budget: limits::yaml_budget(),
    };
    let scenario: Scenario = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| map.original(l.line(), l.column()))
            .unwrap_or((0, 0));
        if let Some(message) = limits::budget_message(&e) {
            return Error::input(format!("{}:{line}:{col}: {message}", file.display()));
        }
        let report = serde_saphyr::miette::to_miette_report(&e, text, &file.display().to_string());
        let message = first_line(&e.to_string());
        Error::input(format!(
            "{}:{line}:{col}: {message}\n{report:?}",
            file.display()
        ))
    })?;
    let problems = validate(&scenario, &Src { file, map, text });
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

/// Validates and plans scenario files already read (`(file, its text or why it could not be
/// read)`, in order), collecting every problem of every file before failing. `repeat` overrides
/// each scenario's own `repeat`; `filter` keeps scenarios whose name or a tag contains it.
pub fn plan_texts(
    files: Vec<(PathBuf, std::result::Result<String, String>)>,
    repeat: Option<u32>,
    filter: Option<&str>,
) -> Result<Vec<PlannedScenario>> {
    if let Some(r) = repeat.filter(|&r| r > limits::MAX_REPEAT) {
        return Err(Error::input(format!(
            "--repeat {r} is more than the limit of {} (MAX_REPEAT)",
            limits::MAX_REPEAT
        )));
    }
    let mut problems = Vec::new();
    let mut planned: Vec<PlannedScenario> = Vec::new();
    for (file, text) in files {
        let loaded = text
            .map_err(|e| Error::input(format!("{}: cannot read: {e}", file.display())))
            .and_then(|text| load_variants(&text, &file));
        match loaded {
            Ok(scenarios) => {
                for scenario in scenarios {
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
                        file: file.clone(),
                        scenario,
                        repeat,
                    });
                }
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

/// The file being validated, and how positions in the parsed text map to it.
pub(super) struct Src<'a> {
    pub(super) file: &'a Path,
    map: &'a PosMap,
    /// The parsed (substituted) text.
    text: &'a str,
}

impl Src<'_> {
    /// `file:line:col` of the value of a top-level key, or `file` when it cannot be placed.
    fn key(&self, key: &str) -> String {
        match super::params::top_level_value_at(self.text, key) {
            Some((line, col)) => {
                let (line, col) = self.map.original(line, col);
                format!("{}:{line}:{col}", self.file.display())
            }
            None => self.file.display().to_string(),
        }
    }
}

pub(super) fn at<T>(src: &Src<'_>, s: &Spanned<T>) -> String {
    let (line, col) = src.map.original(s.referenced.line(), s.referenced.column());
    format!("{}:{line}:{col}", src.file.display())
}

/// Whether a name is usable: 1-64 letters, digits, `-`, `_` or `.`, starting with a letter or digit.
pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Whole-scenario checks that the YAML grammar cannot express: references resolve, names are usable.
fn validate(s: &Scenario, src: &Src<'_>) -> Vec<String> {
    let file = src;
    let f = src.file.display();
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
    if let Some(r) = s.repeat.filter(|&r| r > limits::MAX_REPEAT) {
        problems.push(format!(
            "{}: `repeat: {r}` is more than the limit of {} (MAX_REPEAT)",
            src.key("repeat"),
            limits::MAX_REPEAT
        ));
    }
    if s.steps.len() > limits::MAX_STEPS {
        problems.push(format!(
            "{}: {} steps, more than the limit of {} per scenario (MAX_STEPS)",
            src.key("steps"),
            s.steps.len(),
            limits::MAX_STEPS
        ));
        // Each step's own problems would only bury this one.
        return problems;
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
    problems.extend(validate_concurrency(s, file));
    for p in s.requires.data_root.iter().flat_map(|d| d.problems()) {
        problems.push(format!("{f}: requires: {p}"));
    }
    problems.extend(super::settings::problems(s, file));
    let known: BTreeSet<&str> = s.containers.keys().map(String::as_str).collect();
    let labels: Vec<String> = s
        .steps
        .iter()
        .map(|st| {
            st.name
                .as_ref()
                .map(|n| n.value.clone())
                .unwrap_or_else(|| st.action.describe())
        })
        .collect();
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
        if let Some(t) = step.action.fill_target() {
            if let crate::action::FillTarget::Volume(v) = &t.value {
                if !s.volumes.contains_key(v) {
                    problems.push(format!(
                        "{}: step {}: `{}` fills volume {v:?}, which is not in `volumes`",
                        at(file, t),
                        i + 1,
                        step.action.name()
                    ));
                }
            }
            let size = s.requires.data_root.map(|d| d.size);
            if let (crate::action::Action::FillDisk(fd), Some(size)) = (&step.action, size) {
                if fd.free.is_some_and(|free| free >= size) {
                    problems.push(format!(
                        "{}: step {}: `fill_disk` leaves {} free, beyond the {size} image of \
                         `requires: {{data_root: ...}}`",
                        at(file, t),
                        i + 1,
                        fd.free.unwrap_or_default()
                    ));
                }
            }
            if size.is_none() {
                problems.push(format!(
                    "{}: step {}: `{}` fills {}, a filesystem the scenario did not make: declare \
                     it with `requires: {{data_root: {{size: 512MiB, fs: ext4}}}}` (the host's own \
                     filesystems are never filled)",
                    at(file, t),
                    i + 1,
                    step.action.name(),
                    t.value.name()
                ));
            }
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
            for (rel, a) in e.comparisons() {
                problems.extend(comparison_problems(s, &labels, i, a).into_iter().map(|p| {
                    format!(
                        "{}: step {}: `{}`: {p}",
                        at(file, &a.step),
                        i + 1,
                        rel.key()
                    )
                }));
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

/// Step names are unique; a `join` names an earlier background step, once; a `join` itself runs in
/// the foreground.
fn validate_concurrency(s: &Scenario, file: &Src<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    // name → 0-based index of the step that has it
    let mut names: std::collections::BTreeMap<&str, usize> = Default::default();
    for (i, step) in s.steps.iter().enumerate() {
        let Some(n) = &step.name else { continue };
        if let Some(first) = names.get(n.value.as_str()) {
            problems.push(format!(
                "{}: step {}: name {:?} is already used by step {} (step names must be unique)",
                at(file, n),
                i + 1,
                n.value,
                first + 1
            ));
        } else {
            names.insert(&n.value, i);
        }
    }
    // background step index → the join step that joined it
    let mut joined: std::collections::BTreeMap<usize, usize> = Default::default();
    for (i, step) in s.steps.iter().enumerate() {
        let crate::action::Action::Join(j) = &step.action else {
            continue;
        };
        let here = at(file, &j.step);
        if step.background {
            problems.push(format!(
                "{here}: step {}: a `join` cannot run in the background itself",
                i + 1
            ));
        }
        let Some(&target) = names.get(j.step.value.as_str()) else {
            problems.push(format!(
                "{here}: step {}: `join` names step {:?}, which no step has as its `name`",
                i + 1,
                j.step.value
            ));
            continue;
        };
        if target >= i {
            problems.push(format!(
                "{here}: step {}: `join` names step {:?} (step {}), which does not come before it",
                i + 1,
                j.step.value,
                target + 1
            ));
        } else if !s.steps[target].background {
            problems.push(format!(
                "{here}: step {}: `join` names step {:?}, which does not run in the background \
                 (give it `background: true`)",
                i + 1,
                j.step.value
            ));
        } else if let Some(prev) = joined.insert(target, i) {
            problems.push(format!(
                "{here}: step {}: step {:?} is already joined by step {}",
                i + 1,
                j.step.value,
                prev + 1
            ));
        }
    }
    problems
}

/// Problems of a comparison with an earlier step (`same_as`, ...) of step `i`: the step it names
/// must exist once, run before, and observe every compared fact, like step `i` itself.
fn comparison_problems(
    s: &Scenario,
    labels: &[String],
    i: usize,
    a: &crate::expect::Against,
) -> Vec<String> {
    let name = a.step.value.as_str();
    let found: Vec<usize> = (0..labels.len()).filter(|&j| labels[j] == name).collect();
    let j = match found[..] {
        [] => {
            let earlier: Vec<String> = labels[..i].iter().map(|l| format!("{l:?}")).collect();
            return vec![format!(
                "no step is named {name:?} (earlier steps: {})",
                if earlier.is_empty() {
                    "none".to_string()
                } else {
                    earlier.join(", ")
                }
            )];
        }
        [j] => j,
        _ => {
            return vec![format!(
                "{} steps are labelled {name:?}: give the one meant a unique `name`",
                found.len()
            )]
        }
    };
    if j >= i {
        return vec![format!(
            "step {name:?} (step {}) does not run before this one: compare with an earlier step",
            j + 1
        )];
    }
    let mut p = Vec::new();
    for f in &a.fields {
        let what = match f {
            crate::expect::Field::Output => "is not an `exec`",
            _ => "acts on no container",
        };
        if !observes(*f, &s.steps[j].action) {
            p.push(format!(
                "step {name:?} does not observe `{}`: it {what}",
                f.name()
            ));
        }
        if !observes(*f, &s.steps[i].action) {
            p.push(format!(
                "this step does not observe `{}`: it {what}",
                f.name()
            ));
        }
    }
    p
}

/// Whether a step with this action observes a field: container fields need a container, `output`
/// an `exec`.
fn observes(f: crate::expect::Field, action: &crate::action::Action) -> bool {
    match f {
        crate::expect::Field::Output => action.name() == "exec",
        _ => action.container().is_some(),
    }
}
