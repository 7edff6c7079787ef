//! The thresholds file of `qualify --thresholds FILE`: any text gives thresholds (whose every
//! measure resolves to a finite threshold and floor) or an error naming the file.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shakedown_fuzz::thresholds(data));
