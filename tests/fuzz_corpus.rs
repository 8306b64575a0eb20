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

#[test]
fn a_flac_whose_comment_claims_4_gib_is_read_without_its_metadata() {
    // Found by the decode target: symphonia 0.5 allocates a Vorbis
    // comment's declared length (here 0xffffffff) before reading it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let evil = std::fs::read(root.join("regressions/decode/flac-vorbis-comment-4gib")).unwrap();
    assert_eq!(&evil[..4], b"fLaC");
    let err = auscult::audio::decode_bytes(evil, Path::new("evil.flac")).expect_err("the file holds no valid frames");
    assert!(err.to_string().starts_with("evil.flac: "), "{err}");
    // FLAC with tags still decodes, to the WAV seed's signal (libsndfile
    // rounded the two files' 16-bit samples differently, by at most 1 LSB).
    let flac = auscult::audio::decode_file(&root.join("corpus/decode/pcm16-mono.flac")).unwrap();
    let wav = auscult::audio::decode_file(&root.join("corpus/decode/pcm16-mono.wav")).unwrap();
    assert_eq!((flac.samples.len(), flac.sample_rate), (wav.samples.len(), wav.sample_rate));
    let worst = flac.samples.iter().zip(&wav.samples).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1.0 / 32768.0, "{worst}");
}

#[test]
fn a_wav_with_a_sample_rate_of_0_is_an_error_not_a_panic() {
    // Found by the decode target: symphonia 0.5 panics building a time base
    // from a zero rate.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    // The second file's first fmt chunk is fine; a later one says 0 Hz.
    for file in ["wav-sample-rate-zero", "wav-second-fmt-chunk-rate-zero"] {
        let bad = std::fs::read(root.join("regressions/decode").join(file)).unwrap();
        let err = auscult::audio::decode_bytes(bad, Path::new("zero.wav")).expect_err("a rate of 0 is not audio");
        let text = err.to_string();
        assert_eq!(text, "zero.wav: corrupt audio: the format chunk declares a sample rate of 0 Hz", "{file}");
    }
}

#[test]
fn only_streams_that_start_as_wav_or_flac_reach_the_decoder() {
    // Found by the decode target: symphonia's probe scans ahead for a
    // marker, so "fLaC" 10 bytes in reached its FLAC metadata reader.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let bad = std::fs::read(root.join("regressions/decode/flac-marker-not-at-start")).unwrap();
    let err = auscult::audio::decode_bytes(bad, Path::new("x.flac")).expect_err("not a stream we read");
    assert!(matches!(err, auscult::audio::DecodeError::Unsupported { .. }), "{err}");
}
