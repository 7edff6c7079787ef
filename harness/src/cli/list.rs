//! `validate` and `list`: scenario files read and planned, nothing run.

use std::path::PathBuf;

use serde_json::json;

use super::{or_builtin, print_json, OutputFormat};
use ::run::scenario;
use model::error::{Result, EXIT_OK};

/// The version of `list --format json` and `validate --format json` output.
const LIST_FORMAT: u32 = 1;

/// `shakedown validate`: each file planned, or the first error.
pub(super) fn validate(paths: &[PathBuf], format: OutputFormat) -> Result<i32> {
    let plans = scenario::plan(paths, None, None)?;
    if format == OutputFormat::Json {
        let scenarios: Vec<_> = plans
            .iter()
            .map(|p| json!({"file": p.file, "name": p.name()}))
            .collect();
        print_json(&json!({"format": LIST_FORMAT, "valid": true, "scenarios": scenarios}));
        return Ok(EXIT_OK);
    }
    for p in &plans {
        println!("ok  {}  ({})", p.file.display(), p.name());
    }
    Ok(EXIT_OK)
}

/// `shakedown list`.
pub(super) fn list(paths: &[PathBuf], format: OutputFormat) -> Result<i32> {
    let plans = scenario::plan(&or_builtin(paths)?, None, None)?;
    if format == OutputFormat::Json {
        let scenarios: Vec<_> = plans
            .iter()
            .map(|p| {
                let s = &p.scenario;
                json!({
                    "name": p.name(),
                    "file": p.file,
                    "tags": s.tags,
                    "steps": s.steps.len(),
                    "disruptive": s.requires.disruptive,
                    "description": s.description,
                })
            })
            .collect();
        print_json(&json!({"format": LIST_FORMAT, "scenarios": scenarios}));
        return Ok(EXIT_OK);
    }
    for p in &plans {
        let s = &p.scenario;
        println!(
            "{}  [{}]  {} steps{}  {}",
            s.name,
            s.tags.join(", "),
            s.steps.len(),
            if s.requires.disruptive {
                ", disruptive"
            } else {
                ""
            },
            p.file.display()
        );
        let summary = first_sentence(&s.description);
        if !summary.is_empty() {
            println!("    {summary}");
        }
    }
    Ok(EXIT_OK)
}

/// The first sentence of a description, its lines joined (a wrapped YAML block is cut at the
/// sentence's end, never mid-sentence), up to 200 characters at a word boundary.
fn first_sentence(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = joined
        .match_indices(". ")
        .map(|(i, _)| i + 1)
        .next()
        .unwrap_or(joined.len());
    let sentence = &joined[..end];
    if sentence.chars().count() <= 200 {
        return sentence.to_string();
    }
    let head: String = sentence.chars().take(200).collect();
    match head.rfind(' ') {
        Some(i) => format!("{}…", &head[..i]),
        None => format!("{head}…"),
    }
}

#[cfg(test)]
mod tests {
    use super::first_sentence;

    #[test]
    fn list_shows_whole_first_sentences() {
        assert_eq!(
            first_sentence("The control run: a graceful restart\nstops the containers. More here."),
            "The control run: a graceful restart stops the containers."
        );
        assert_eq!(first_sentence("No full stop"), "No full stop");
        assert_eq!(first_sentence(""), "");
        let long = "word ".repeat(60);
        let s = first_sentence(&long);
        assert!(s.ends_with("word…") && s.chars().count() <= 201, "{s}");
    }
}
