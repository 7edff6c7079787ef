//! Every bound on what a scenario file may ask for: refused just above the limit with an input
//! error (exit 2) that says what was too big and where, and accepted at the limit.

use std::fmt::Write;
use std::path::Path;

use model::error::{Error, EXIT_USAGE};
use model::limits::*;
use model::scenario::{load_variants, plan_texts};

const FILE: &str = "big.yaml";

/// The problems of a text that must be refused, as one string; checks it is an input error.
fn refused(text: &str) -> String {
    match load_variants(text, Path::new(FILE)) {
        Ok(_) => panic!("accepted:\n{}", &text[..text.len().min(400)]),
        Err(e) => {
            assert!(matches!(e, Error::Input(_)), "{e}");
            assert_eq!(e.exit_code(), EXIT_USAGE);
            e.to_string()
        }
    }
}

fn accepted(text: &str) {
    if let Err(e) = load_variants(text, Path::new(FILE)) {
        panic!("refused: {e}");
    }
}

/// A scenario with `n` sleeping steps and the given extra top-level lines.
fn scenario(steps: usize, extra: &str) -> String {
    let mut s = format!("name: big\n{extra}steps:\n");
    for _ in 0..steps {
        s.push_str("  - action: {sleep: {duration: 1ms}}\n");
    }
    s
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_parsing() {
    let base = scenario(1, "");
    let mut at_limit = base.clone();
    at_limit.push('#');
    at_limit.push_str(&"x".repeat(MAX_FILE_BYTES - at_limit.len()));
    assert_eq!(at_limit.len(), MAX_FILE_BYTES);
    accepted(&at_limit);
    let e = refused(&format!("{at_limit}x"));
    assert_eq!(
        e,
        format!(
            "big.yaml: the scenario file is {} bytes, more than the limit of 1 MiB (MAX_FILE_BYTES)",
            MAX_FILE_BYTES + 1
        )
    );
}

/// A container whose daemon-side labels nest `depth` flow maps below the root's own levels.
fn nested(levels: usize) -> String {
    let value = format!("{}1{}", "{a: ".repeat(levels), "}".repeat(levels));
    format!(
        "name: deep\nrequires: {{daemon_options: {{x: {value}}}}}\nsteps:\n  - action: {{sleep: {{duration: 1ms}}}}\n"
    )
}

#[test]
fn yaml_nested_too_deep_is_refused_where_it_goes_too_deep() {
    // root map (1), requires (2), daemon_options (3), then the value's maps.
    let e = refused(&nested(MAX_YAML_DEPTH - 2));
    assert!(
        e.starts_with("big.yaml:2:")
            && e.contains("nested more than 32 levels deep (MAX_YAML_DEPTH)"),
        "{e}"
    );
    // One level less is not refused for its depth (the daemon option itself may be refused).
    let text = nested(MAX_YAML_DEPTH - 3);
    if let Err(e) = load_variants(&text, Path::new(FILE)) {
        assert!(!e.to_string().contains("MAX_YAML_DEPTH"), "{e}");
    }
}

#[test]
fn too_many_yaml_aliases_are_refused() {
    let aliases = |n: usize| {
        let mut cmd = String::from("[&a x");
        for _ in 0..n {
            cmd.push_str(", *a");
        }
        cmd.push(']');
        format!(
            "name: aliases\ncontainers:\n  c: {{command: {cmd}}}\nsteps:\n  - action: {{start: {{container: c}}}}\n"
        )
    };
    // Reuse within the ratio is fine.
    accepted(&aliases(9));
    let e = refused(&aliases(MAX_YAML_ALIASES + 1));
    assert!(
        e.starts_with("big.yaml:3:")
            && e.contains("more than 1000 YAML aliases (MAX_YAML_ALIASES)"),
        "{e}"
    );
}

#[test]
fn too_many_steps_are_refused_at_the_steps() {
    accepted(&scenario(MAX_STEPS, ""));
    let e = refused(&scenario(MAX_STEPS + 1, "description: many\n"));
    assert_eq!(
        e,
        "big.yaml:4:3: 1001 steps, more than the limit of 1000 per scenario (MAX_STEPS)"
    );
}

#[test]
fn a_repeat_over_the_limit_is_refused_in_the_file_and_on_the_command_line() {
    accepted(&scenario(1, &format!("repeat: {MAX_REPEAT}\n")));
    let e = refused(&scenario(1, &format!("repeat: {}\n", MAX_REPEAT + 1)));
    assert_eq!(
        e,
        "big.yaml:2:9: `repeat: 10001` is more than the limit of 10000 (MAX_REPEAT)"
    );
    // A repeat beyond u32 is a type error at the same place, never a wrap-around.
    let e = refused(&scenario(1, "repeat: 1000000000000\n"));
    assert!(e.starts_with("big.yaml:2:9:"), "{e}");
    let files = || vec![(FILE.into(), Ok(scenario(1, "")))];
    assert!(plan_texts(files(), Some(MAX_REPEAT), None).is_ok());
    let e = plan_texts(files(), Some(MAX_REPEAT + 1), None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "--repeat 10001 is more than the limit of 10000 (MAX_REPEAT)"
    );
}

/// A file with `n` matrix variants, padded with a comment to `bytes` at least.
fn matrix(n: usize, bytes: usize) -> String {
    let mut s = String::from("name: m\nvars: {d: 1ms}\nmatrix:\n");
    for i in 0..n {
        writeln!(s, "  v{i}: {{d: 2ms}}").unwrap();
    }
    s.push_str("steps:\n  - action: {sleep: {duration: \"{{ vars.d }}\"}}\n");
    if s.len() < bytes {
        s.push('#');
        s.push_str(&"x".repeat(bytes - s.len()));
    }
    s
}

#[test]
fn a_matrix_over_its_limits_is_refused_at_the_matrix() {
    assert_eq!(
        load_variants(&matrix(MAX_MATRIX_VARIANTS, 0), Path::new(FILE))
            .unwrap()
            .len(),
        MAX_MATRIX_VARIANTS
    );
    let e = refused(&matrix(MAX_MATRIX_VARIANTS + 1, 0));
    assert_eq!(
        e,
        "big.yaml:4:3: `matrix` has 257 variants, more than the limit of 256 (MAX_MATRIX_VARIANTS)"
    );
    // Fewer variants of a bigger file: what they expand to together is bounded too.
    let variants = 20;
    let e = refused(&matrix(variants, MAX_EXPANDED_BYTES / variants + 1));
    assert!(
        e.starts_with("big.yaml:4:3: `matrix` has 20 variants of a ")
            && e.ends_with("together more than the limit of 16 MiB (MAX_EXPANDED_BYTES)"),
        "{e}"
    );
    accepted(&matrix(variants, MAX_EXPANDED_BYTES / variants - 100));
}

#[test]
fn durations_over_the_limit_are_refused_where_they_are_written() {
    let sleep = |d: &str| format!("name: long\nsteps:\n  - action: {{sleep: {{duration: {d}}}}}\n");
    accepted(&sleep("168h"));
    accepted(&sleep("604800"));
    for (written, shown) in [
        ("169h", "\"169h\""),
        ("604801", "\"604801\""),
        ("10081m", "\"10081m\""),
        // These once panicked converting to a duration.
        ("1e30", "\"1000000000000000000000000000000\""),
        ("18446744073709551615", "\"18446744073709551615\""),
    ] {
        let e = refused(&sleep(written));
        assert!(
            e.starts_with("big.yaml:3:")
                && e.contains(&format!(
                    "invalid duration {shown}: longer than the limit of 604800s (MAX_DURATION)"
                )),
            "{written}: {e}"
        );
    }
}
