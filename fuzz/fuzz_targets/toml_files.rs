#![no_main]
//! See auscult::fuzz::toml_files for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| auscult::fuzz::toml_files(data));
