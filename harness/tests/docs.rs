//! The documentation stays true: every YAML block in docs/scenarios.md is a complete scenario that
//! validates, and the documented error text is what the validator prints.

mod common;

use std::path::Path;

use shakedown::scenario::load_str;

fn blocks(lang: &str) -> Vec<String> {
    let text = std::fs::read_to_string(common::repo().join("docs/scenarios.md")).unwrap();
    let mut out = vec![];
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match (&mut cur, line.trim_start()) {
            (None, l) if l == format!("```{lang}") => cur = Some(String::new()),
            (Some(b), "```") => {
                out.push(std::mem::take(b));
                cur = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_yaml_example_validates() {
    let examples = blocks("yaml");
    assert!(examples.len() >= 7, "only {} examples", examples.len());
    for (i, yaml) in examples.iter().enumerate() {
        load_str(yaml, Path::new(&format!("docs example {}", i + 1)))
            .unwrap_or_else(|e| panic!("example {}:\n{yaml}\n{e}", i + 1));
    }
}

#[test]
fn the_documented_error_is_what_validate_prints() {
    let texts = blocks("text");
    let (bad, printed) = (&texts[0], texts[1].trim());
    let err = load_str(bad, Path::new("broken.yaml"))
        .unwrap_err()
        .to_string();
    let first = format!("error: {}", err.lines().next().unwrap());
    assert_eq!(first, printed);
}
