//! `run --html`: a self-contained page with each scenario's timeline — steps, the fault window
//! from the journal's change records, probe samples, daemon events — opened in headless Chromium,
//! its plots rendered; `judge --html` writes the same page from the journal.

mod common;

use common::{assert_plots_rendered, builtin, pixels_near, run_json, screenshot, shakedown, text};

#[test]
fn a_run_page_shows_every_timeline_in_a_browser() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("run.html");
    let file = builtin().join("dependency-outage.yaml");
    let (out, r) = run_json(
        state.path(),
        dir.path(),
        &[file.as_path()],
        &["--html", page.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (dom, plots) = assert_plots_rendered(&page);
    let iterations = r["targets"][0]["run"]["scenarios"][0]["iterations"]
        .as_array()
        .unwrap();
    assert_eq!(plots, iterations.len(), "a timeline per iteration");
    // The fault window is the journaled change (the stopped dependency) until its undo.
    let faults = iterations[0]["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1, "{faults:?}");
    let f = &faults[0];
    assert!(
        f["description"]
            .as_str()
            .unwrap()
            .starts_with("stopped container"),
        "{f}"
    );
    let window = f["until"].as_f64().unwrap() - f["from"].as_f64().unwrap();
    assert!((2.5..10.0).contains(&window), "a 3 s outage: {window}");
    assert!(
        dom.contains("stopped container"),
        "no fault window on the page"
    );
    assert!(
        dom.contains("during: "),
        "no probe sample during the fault on the page"
    );
    assert!(dom.contains(" die server"), "no daemon event on the page");
    let (_, _, rgba) = screenshot(&page, &dir.path().join("run.png"), 1600);
    assert!(
        pixels_near(&rgba, [0xff, 0x98, 0x00], 4) >= 100,
        "no fault window drawn"
    );
    assert!(
        pixels_near(&rgba, [0x64, 0xb5, 0xf6], 4) >= 100,
        "no steps drawn"
    );

    // The same page, judged again from the journal.
    let again = dir.path().join("again.html");
    let out = shakedown(state.path())
        .arg("judge")
        .arg(dir.path().join("j.jsonl"))
        .arg("--html")
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        std::fs::read_to_string(&page).unwrap()
    );
}
