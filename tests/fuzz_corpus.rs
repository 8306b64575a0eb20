//! Replays the committed fuzz corpus (fuzz/corpus/<target>/, the seeds and
//! what the fuzzer kept) and every input that once crashed a target
//! (fuzz/regressions/<target>/) through the fuzz targets' own bodies, so that
//! a fixed finding stays fixed without libFuzzer or nightly.

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(outcome.is_ok(), "{target}: {} broke a promise (see the panic above)", path.display());
            count += 1;
        }
    }
    assert!(count >= 3, "{target}: only {count} corpus files; the seeds are missing");
    println!("{target}: {count} inputs");
}

#[test]
fn decode_corpus() {
    replay("decode", auscult::fuzz::decode);
}

#[test]
fn toml_files_corpus() {
    replay("toml_files", auscult::fuzz::toml_files);
}

#[test]
fn annotations_corpus() {
    replay("annotations", auscult::fuzz::annotations);
}

#[test]
fn descriptor_corpus() {
    replay("descriptor", auscult::fuzz::descriptor);
}
