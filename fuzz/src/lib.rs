//! The checks of shakedown's fuzz targets, one function per reader of input shakedown did not
//! write. Each takes any bytes and panics only when a reader breaks its contract: a panic
//! inside the reader, an error that does not say where, or an accepted input that breaks an
//! invariant. The libFuzzer targets (`fuzz_targets/`) call them, and so does the corpus test
//! (`tests/corpus.rs`), which replays every input of `corpus/` with the stable toolchain.

use std::path::{Path, PathBuf};

use judge::compare::{compare, SideRuns};
use judge::journal::End;
use model::error::Error;
use model::journal::PlannedEntry;
use model::limits::{MAX_MATRIX_VARIANTS, MAX_REPEAT, MAX_STEPS};

/// Scenario loading and planning: any text is planned or refused with located problems, and a
/// plan reads back from its journal line exactly (what `judge` and remote runs rely on).
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = PathBuf::from("fuzz.yaml");
    match model::scenario::plan_texts(vec![(file.clone(), Ok(text.to_string()))], None, None) {
        Ok(plans) => {
            for p in plans {
                assert!(p.scenario.steps.len() <= MAX_STEPS);
                assert!((1..=MAX_REPEAT).contains(&p.repeat));
                let entry = PlannedEntry {
                    file: p.file.clone(),
                    repeat: p.repeat,
                    scenario: p.scenario.clone(),
                };
                let line = serde_json::to_string(&entry).expect("a plan serializes");
                let back: PlannedEntry = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("a plan does not read back from its journal: {e}\n{line}")
                });
                assert_eq!(
                    serde_json::to_string(&back).unwrap(),
                    line,
                    "plan changed on the way back"
                );
            }
        }
        Err(Error::Input(problems)) => {
            assert!(!problems.is_empty());
            for p in problems {
                assert!(
                    p.starts_with("fuzz.yaml"),
                    "a problem without its file: {p}"
                );
            }
        }
        Err(other) => panic!("scenario text gave a non-input error: {other}"),
    }
}

/// `vars`/`matrix` expansion: any text expands into variants or located problems; every variant
/// keeps the original's lines (so positions in errors point into the file as written), and the
/// variants load or are refused with located problems.
pub fn matrix(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("fuzz.yaml");
    match model::scenario::expand(text, file) {
        Ok(variants) => {
            assert!(!variants.is_empty() && variants.len() <= MAX_MATRIX_VARIANTS);
            let lines = text.matches('\n').count();
            for v in &variants {
                assert_eq!(
                    v.text.matches('\n').count(),
                    lines,
                    "variant {:?} moved lines:\n{}",
                    v.name,
                    v.text
                );
                for (i, l) in v.text.split('\n').enumerate() {
                    let line = i as u64 + 1;
                    for col in [1, l.chars().count() as u64 + 1] {
                        let (ol, oc) = v.map.original(line, col);
                        assert_eq!(ol, line);
                        assert!(oc >= 1);
                    }
                }
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            for p in problems {
                assert!(
                    p.starts_with("fuzz.yaml:"),
                    "a problem without its place: {p}"
                );
            }
        }
    }
    match model::scenario::load_variants(text, file) {
        Ok(all) => assert!(!all.is_empty()),
        Err(Error::Input(problems)) => {
            for p in problems {
                assert!(
                    p.starts_with("fuzz.yaml"),
                    "a problem without its file: {p}"
                );
            }
        }
        Err(other) => panic!("scenario text gave a non-input error: {other}"),
    }
}

/// The inventory of `run --targets FILE`: any text gives targets (at least one, names unique) or
/// an error naming the file.
pub fn inventory(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match model::config::inventory(text, Path::new("fuzz.yaml")) {
        Ok(inv) => {
            assert!(!inv.targets.is_empty());
            for (i, t) in inv.targets.iter().enumerate() {
                assert!(inv.targets[..i].iter().all(|o| o.name != t.name));
            }
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.yaml"), "{e}"),
    }
}

/// The thresholds file of `qualify --thresholds FILE`: any text gives thresholds (whose every
/// measure resolves to a finite threshold and floor) or an error naming the file.
pub fn thresholds(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match model::config::thresholds(text, Path::new("fuzz.yaml")) {
        Ok(t) => {
            for name in t.measures.keys().map(String::as_str).chain(["duration"]) {
                let (threshold, floor) = t.of(None, name);
                assert!(threshold.is_finite() && threshold >= 0.0, "{threshold}");
                assert!(floor.is_finite() && floor >= 0.0, "{floor}");
            }
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.yaml"), "{e}"),
    }
}

/// The journal reader, fold and judgement: any bytes give a verdict per planned scenario or an
/// error; a journal that breaks its format never lets a scenario pass or be skipped; and the
/// qualify comparison of the journal with itself runs.
pub fn journal(data: &[u8]) {
    let name = "fuzz.jsonl";
    let Ok(end) = judge::journal::scan(data, name, |_| {}) else {
        assert!(judge::judge_reader(data, name).is_err());
        return;
    };
    let Ok(judged) = judge::judge_reader(data, name) else {
        return;
    };
    assert_eq!(judged.verdicts.len(), judged.plans.len());
    assert_eq!(judged.record.scenarios.len(), judged.plans.len());
    if let End::Broken(reason) = &end {
        for v in &judged.verdicts {
            assert!(
                !v.outcome.is_ok(),
                "{} is {:?} in a broken journal ({reason})",
                v.name,
                v.outcome
            );
        }
        assert!(judged.record.interrupted.is_some());
    }
    let side = || SideRuns {
        spec: "fuzz".into(),
        plans: judged.plans.clone(),
        records: vec![judged.record.clone(); 3],
        journals: vec![],
    };
    let report = compare(&side(), &side(), &Default::default(), "fuzz");
    assert_eq!(report.scenarios.len(), judged.plans.len());
}
