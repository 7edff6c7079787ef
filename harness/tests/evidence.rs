//! Evidence of what the containers did: a failed scenario's terminal text and JUnit failure carry
//! each container's last output and final state (read before the container is removed), and the
//! JSON report keeps them for every scenario.

mod common;

use common::{run_json, scenario, text};

#[test]
fn a_failed_container_says_why_in_the_terminal_and_the_junit() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "crash",
        r#"name: crash
containers:
  app:
    command: [sh, -c, "for i in $(seq 1 30); do echo line $i; done; echo 'Exception: java.lang.OutOfMemoryError: Java heap space' >&2; exit 1"]
steps:
  - action: {start: {container: app}}
  - action: {wait: {container: app}}
    expect: {exit_code: 0}
"#,
    );
    let junit = dir.path().join("r.xml");
    let (out, r) = run_json(
        state.path(),
        dir.path(),
        &[file.as_path()],
        &["--junit", junit.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("output of app (exited, exit code 1):"),
        "{stdout}"
    );
    // stderr (where the reason is) first, then stdout; each stream apart, since the daemon's
    // interleaving of the two is not the order they were written in.
    assert!(
        stdout.contains(
            "  stderr:\n      Exception: java.lang.OutOfMemoryError: Java heap space\n    stdout:\n      …\n      line 21\n"
        ),
        "{stdout}"
    );
    // The last lines only, in the terminal.
    assert!(
        stdout.contains("line 30") && !stdout.contains("line 5\n"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("java.lang.OutOfMemoryError"), "{xml}");
    // More of it in the JUnit text (40 lines): all 31 here.
    assert!(
        xml.contains("line 1\n") || xml.contains("line 1&#xA;"),
        "{xml}"
    );
    let o = &r["targets"][0]["run"]["scenarios"][0]["iterations"][0]["outputs"][0];
    assert_eq!(o["container"], "app");
    assert_eq!(o["observation"]["exit_code"], 1);
    assert!(
        o["stdout"].as_str().unwrap().starts_with("line 1\n"),
        "{o:#}"
    );
    assert!(
        o["stdout"].as_str().unwrap().ends_with("line 30\n"),
        "{o:#}"
    );
    assert_eq!(
        o["stderr"],
        "Exception: java.lang.OutOfMemoryError: Java heap space\n"
    );
}
