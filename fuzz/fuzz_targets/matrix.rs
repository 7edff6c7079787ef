//! `vars`/`matrix` expansion: any text expands into variants or located problems; every variant
//! keeps the original's lines (so positions in errors point into the file as written), and the
//! variants load or are refused with located problems.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shakedown_fuzz::matrix(data));
