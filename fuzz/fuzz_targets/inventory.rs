//! The inventory of `run --targets FILE`: any text gives targets (at least one, names unique) or
//! an error naming the file.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shakedown_fuzz::inventory(data));
