//! Scenario loading and planning: any text is planned or refused with located problems, and a
//! plan reads back from its journal line exactly (what `judge` and remote runs rely on).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shakedown_fuzz::scenario(data));
