//! Every input of every target's corpus (`corpus/<target>/`: the seeds and what fuzzing found,
//! crashes included once fixed) through the target's checks, with the stable toolchain: the
//! regression run of `ci/fuzz.sh --regress`.

use std::path::Path;

/// A target's checks.
type Check = fn(&[u8]);

#[test]
fn every_corpus_input_passes_its_target() {
    let targets: [(&str, Check); 5] = [
        ("scenario", shakedown_fuzz::scenario),
        ("matrix", shakedown_fuzz::matrix),
        ("inventory", shakedown_fuzz::inventory),
        ("thresholds", shakedown_fuzz::thresholds),
        ("journal", shakedown_fuzz::journal),
    ];
    for (target, check) in targets {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        inputs.sort();
        assert!(inputs.len() >= 3, "{target}: {} inputs", inputs.len());
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                panic!("{target}: {} fails", input.display());
            }
        }
    }
}
