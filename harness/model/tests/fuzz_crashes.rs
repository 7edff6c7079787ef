//! Every input on which fuzzing (`ci/fuzz.sh`) found a reader panicking, kept as it was found
//! (`tests/crashes/`) and, where it helps, reduced by hand: each must now load or be refused
//! with located problems.

use std::path::Path;

use model::error::Error;
use model::scenario::{expand, load_variants};

/// Loads a text that once crashed; returns its problems (empty when it loads).
fn problems(text: &str) -> Vec<String> {
    match load_variants(text, Path::new("crash.yaml")) {
        Ok(_) => vec![],
        Err(Error::Input(p)) => {
            for line in &p {
                assert!(line.starts_with("crash.yaml"), "{line}");
            }
            p
        }
        Err(e) => panic!("{e}"),
    }
}

fn crash(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/crashes")
            .join(name),
    )
    .unwrap()
}

#[test]
fn a_block_text_with_the_same_placeholder_twice_gets_both_replaced() {
    // Found by the matrix target: both placeholders of a `|` block were placed at the first one,
    // and the overlapping replacements sliced the text backwards (a panic).
    problems(&crash("matrix-block-placeholder-twice.yaml"));
    let text = "name: twice\nvars: {a: 7}\ndescription: |\n  {{ vars.a }} and {{ vars.a }}\n  then {{vars.a}}\nsteps:\n  - action: {sleep: {duration: 1ms}}\n";
    let v = expand(text, Path::new("crash.yaml")).unwrap();
    assert_eq!(
        v[0].text,
        "name: twice\nvars: {a: 7}\ndescription: |\n  7 and 7\n  then 7\nsteps:\n  - action: {sleep: {duration: 1ms}}\n"
    );
    let s = load_variants(text, Path::new("crash.yaml")).unwrap();
    assert_eq!(s[0].description, "7 and 7\nthen 7\n");
}
