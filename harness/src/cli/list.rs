//! `validate` and `list`: scenario files read and planned, nothing run.

use std::path::PathBuf;

use super::or_builtin;
use ::run::scenario;
use model::error::{Result, EXIT_OK};

/// `shakedown validate`: each file planned, or the first error.
pub(super) fn validate(paths: &[PathBuf]) -> Result<i32> {
    let plans = scenario::plan(paths, None, None)?;
    for p in &plans {
        println!("ok  {}  ({})", p.file.display(), p.name());
    }
    Ok(EXIT_OK)
}

/// `shakedown list`.
pub(super) fn list(paths: &[PathBuf]) -> Result<i32> {
    let plans = scenario::plan(&or_builtin(paths), None, None)?;
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
