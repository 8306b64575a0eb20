#![no_main]
//! See auscult::fuzz::decode for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| auscult::fuzz::decode(data));
