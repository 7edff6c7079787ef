//! The journal reader, fold and judgement: any bytes give a verdict per planned scenario or an
//! error; a journal that breaks its format never lets a scenario pass or be skipped; and the
//! qualify comparison of the journal with itself runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shakedown_fuzz::journal(data));
