#![no_main]
//! See auscult::fuzz::descriptor for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| auscult::fuzz::descriptor(data));
