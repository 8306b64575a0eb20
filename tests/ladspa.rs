//! LADSPA plugins in the chain, checked against a real LADSPA host: the
//! ladspa-sdk's `applyplugin`, run on the same recording with the same
//! control values, must give the same samples as `auscult process`.
//!
//! applyplugin reads 16-bit WAV as `s / 32767.5` and writes `x · 32767.5`
//! truncated (with clipping); the test feeds auscult exactly those floats
//! and quantises its output the same way, so any difference is the host's.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const APPLYPLUGIN: &str = "/usr/bin/applyplugin";
const SWH: &str = "/usr/lib/ladspa";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn available() -> bool {
    let ok = Path::new(APPLYPLUGIN).is_file() && Path::new(SWH).join("bandpass_iir_1892.so").is_file();
    if !ok {
        println!("SKIP: needs applyplugin (ladspa-sdk) and swh-plugins; .ci/setup installs them");
    }
    ok
}

fn read_i16(path: &Path) -> Vec<i16> {
    hound::WavReader::open(path).unwrap().samples::<i16>().map(|s| s.unwrap()).collect()
}

/// applyplugin's float-to-short conversion: scale by 32767.5, clip, and
/// round down (Debian's ladspa-sdk 1.17 rounds toward −∞; truncating toward
/// zero, as its older source does, disagrees on half the negative samples).
fn to_short(x: f32) -> i16 {
    let v = x * 32767.5;
    if v > 32767.0 {
        32767
    } else if v <= -32768.0 {
        -32768
    } else {
        v.floor() as i16
    }
}

fn compare(file: &str, label: &str, params: &[(&str, f64)]) {
    let dir = tempfile::tempdir().unwrap();
    let source = auscult::audio::decode_file(&repo().join("samples/kauh-EP109-normal.wav")).unwrap();
    let shorts: Vec<i16> = source.samples.iter().map(|&x| (x * 32768.0).round() as i16).collect();
    let spec16 = hound::WavSpec { channels: 1, sample_rate: source.sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let input16 = dir.path().join("in16.wav");
    let mut w = hound::WavWriter::create(&input16, spec16).unwrap();
    for &s in &shorts {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    // What applyplugin hands the plugin, as auscult's input.
    let floats: Vec<f32> = shorts.iter().map(|&s| f32::from(s) * (1.0 / 32767.5)).collect();
    let input32 = dir.path().join("in32.wav");
    auscult::audio::wav::write_f32_mono(&input32, &floats, source.sample_rate).unwrap();

    let reference = dir.path().join("reference.wav");
    let mut apply = Command::new(APPLYPLUGIN);
    apply.arg(&input16).arg(&reference).arg(Path::new(SWH).join(file)).arg(label);
    for (_, v) in params {
        apply.arg(v.to_string());
    }
    let out = apply.output().unwrap();
    assert!(out.status.success(), "applyplugin: {}", String::from_utf8_lossy(&out.stderr));

    let mut chain = format!("[[chain]]\nplugin = \"ladspa:{label}\"\n[chain.params]\n");
    for (name, v) in params {
        chain.push_str(&format!("\"{name}\" = {v:?}\n"));
    }
    let chain_path = dir.path().join("chain.toml");
    std::fs::write(&chain_path, chain).unwrap();
    let ours = dir.path().join("ours.wav");
    let run = Command::new(env!("CARGO_BIN_EXE_auscult"))
        .args(["process", "--block", "2048", "--chain"])
        .arg(&chain_path)
        .arg(&input32)
        .arg(&ours)
        .env("LADSPA_PATH", SWH)
        .output()
        .unwrap();
    assert!(run.status.success(), "auscult process: {}", String::from_utf8_lossy(&run.stderr));

    let theirs = read_i16(&reference);
    let ours_f: Vec<f32> = auscult::audio::decode_file(&ours).unwrap().samples;
    assert_eq!(theirs.len(), ours_f.len());
    // applyplugin's 16-bit output only says floor(y · 32767.5) = t, i.e.
    // y ∈ [t, t + 1) / 32767.5. Ours must lie in that interval, widened by
    // 1e-6: then the two hosts agree within 1e-6.
    let tol = 1e-6 * 32767.5;
    let mut worst = 0.0f64;
    for (&y, &t) in ours_f.iter().zip(&theirs) {
        let v = f64::from(y) * 32767.5;
        let (lo, hi) = (f64::from(t), f64::from(t) + 1.0);
        let outside = if t == 32767 || t == -32768 {
            0.0
        } else if v < lo {
            lo - v
        } else if v >= hi {
            v - hi
        } else {
            0.0
        };
        worst = worst.max(outside / 32767.5);
    }
    let exact = ours_f.iter().zip(&theirs).filter(|(&y, &t)| to_short(y) == t).count();
    println!("{label}: {} samples, {exact} identical after applyplugin's quantisation; largest distance outside its interval {worst:e}", theirs.len());
    assert!(worst * 32767.5 <= tol, "{label}: auscult and applyplugin differ by up to {worst:e} (beyond the 16-bit step)");
    let ours: Vec<i16> = ours_f.iter().map(|&x| to_short(x)).collect();
    // The filter did something: this is not a comparison of two copies of the input.
    let changed = ours.iter().zip(&shorts).filter(|(a, b)| a != b).count();
    assert!(changed > ours.len() / 2, "{label} left the input unchanged");
}

#[test]
fn swh_bandpass_iir_matches_applyplugin() {
    if !available() {
        return;
    }
    compare("bandpass_iir_1892.so", "bandpass_iir", &[("Center Frequency (Hz)", 400.0), ("Bandwidth (Hz)", 300.0), ("Stages(2 poles per stage)", 2.0)]);
}

#[test]
fn swh_butthigh_iir_matches_applyplugin() {
    if !available() {
        return;
    }
    compare("butterworth_1902.so", "butthigh_iir", &[("Cutoff Frequency (Hz)", 150.0), ("Resonance", 0.7)]);
}

#[test]
fn a_plugin_that_is_not_mono_is_refused_with_the_reason() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Runs `auscult process` on a one-plugin chain; returns (status, stderr).
    let process = |plugin: &str| {
        let chain = dir.path().join("chain.toml");
        std::fs::write(&chain, format!("[[chain]]\nplugin = \"{plugin}\"\n")).unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_auscult"))
            .args(["process", "--chain"])
            .arg(&chain)
            .arg(repo().join("samples/kauh-EP109-normal.wav"))
            .arg(dir.path().join("out.wav"))
            .env("LADSPA_PATH", SWH)
            .output()
            .unwrap();
        (run.status.code(), String::from_utf8_lossy(&run.stderr).into_owned())
    };
    let (code, err) = process("ladspa:bwxover_iir");
    assert_eq!(code, Some(2));
    assert!(err.contains("chain.toml:2:") && err.contains("2 audio outputs"), "{err}");
    // And a label that does not exist names the search path.
    let (code, err) = process("ladspa:no_such_label");
    assert_eq!(code, Some(2));
    assert!(err.contains("no_such_label") && err.contains(SWH), "{err}");
}

/// `auscult` with `LADSPA_PATH` set to the system's directory.
fn auscult(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_auscult")).args(args).env("LADSPA_PATH", SWH).output().unwrap()
}

fn have(files: &[&str]) -> bool {
    let ok = available() && files.iter().all(|f| Path::new(SWH).join(f).is_file());
    if !ok {
        println!("SKIP: needs {files:?} in {SWH} (tap-plugins, cmt, ladspa-sdk); .ci/setup installs them");
    }
    ok
}

/// Runs `process` on the bundled recording with a chain; (code, stderr, events CSV).
fn process_chain(dir: &Path, chain: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let path = dir.join("chain.toml");
    std::fs::write(&path, chain).unwrap();
    let events = dir.join("events.csv");
    let _ = std::fs::remove_file(&events);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auscult"));
    cmd.args(["process", "--chain"]).arg(&path).arg(repo().join("samples/kauh-EP109-normal.wav")).arg(dir.join("out.wav"));
    cmd.arg("--events").arg(&events).args(extra).env("LADSPA_PATH", SWH);
    cmd.env("AUSCULT_PLUGIN_PATH", common::plugin_dir());
    let out = cmd.output().unwrap();
    let csv = std::fs::read_to_string(&events).unwrap_or_default();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), csv)
}

#[test]
fn a_label_in_two_libraries_is_refused_naming_both_and_a_file_picks_one() {
    if !have(&["filter.so", "cmt.so"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, err, _) = process_chain(dir.path(), "[[chain]]\nplugin = \"ladspa:lpf\"\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("chain.toml:2:") && err.contains("2 libraries"), "{err}");
    assert!(err.contains("cmt.so:lpf") && err.contains("filter.so:lpf"), "{err}");
    let chosen = format!("[[chain]]\nplugin = \"ladspa:{SWH}/filter.so:lpf\"\n");
    let (code, err, _) = process_chain(dir.path(), &chosen, &[]);
    assert_eq!(code, Some(0), "{err}");
}

/// Event samples of a kind, from `process --events`.
fn event_samples(csv: &str, kind: &str) -> Vec<i64> {
    csv.lines().skip(1).filter(|l| l.split(',').nth(2) == Some(kind)).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect()
}

#[test]
fn a_ladspa_latency_port_is_reported_and_events_after_it_are_compensated() {
    if !have(&["tap_limiter.so"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A limiter at +20 dB never limits: the signal only comes out 50 samples later.
    let limiter = "[[chain]]\nplugin = \"ladspa:tap_limiter\"\nparams = { \"Limit Level [dB]\" = 20.0 }\n";
    let seg = "[[chain]]\nplugin = \"segment\"\nparams = { mode = 0, min_cycle_s = 1.5, max_cycle_s = 8.0 }\n";
    let (code, err, after) = process_chain(dir.path(), &format!("{limiter}\n{seg}"), &["--stats"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("chain latency: 50 samples"), "the limiter's 50-sample latency is read:\n{err}");
    // The same delayed signal, made by the limiter alone and saved (32-bit
    // float, lossless), then segmented: the segmenter sees identical samples.
    let (code, err, _) = process_chain(dir.path(), limiter, &[]);
    assert_eq!(code, Some(0), "{err}");
    let delayed = dir.path().join("delayed.wav");
    std::fs::rename(dir.path().join("out.wav"), &delayed).unwrap();
    std::fs::write(dir.path().join("seg.toml"), seg).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_auscult"))
        .args(["process", "--chain"])
        .arg(dir.path().join("seg.toml"))
        .arg(&delayed)
        .arg(dir.path().join("seg-out.wav"))
        .arg("--events")
        .arg(dir.path().join("seg.csv"))
        .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let heard = std::fs::read_to_string(dir.path().join("seg.csv")).unwrap();
    let (late, on_time) = (event_samples(&heard, "cycle_start"), event_samples(&after, "cycle_start"));
    assert!(late.len() >= 2 && late.len() == on_time.len(), "{late:?} vs {on_time:?}");
    // Compensated: each boundary is moved back by exactly the latency, onto
    // the input's clock (a boundary in the first 50 samples lands on 0).
    let expected: Vec<i64> = late.iter().map(|s| (s - 50).max(0)).collect();
    assert_eq!(on_time, expected);
    // `plugins check` on the library reports it too.
    let out = auscult(&["plugins", "check", &format!("{SWH}/tap_limiter.so")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("ladspa:tap_limiter") && text.lines().any(|l| l.starts_with("4000 Hz") && l.split_whitespace().nth(3) == Some("50")), "{text}");
}

#[test]
fn plugins_list_says_unbounded_and_the_rate_of_a_rate_relative_range() {
    if !have(&["tap_limiter.so", "bandpass_iir_1892.so"]) {
        return;
    }
    let out = auscult(&["plugins", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!text.contains("3.4028") && !text.contains("340282"), "f32::MAX printed as a bound");
    assert!(text.contains("unbounded"), "an open side says so");
    assert!(text.contains("rate-relative: at 44100 Hz"), "{}", &text[..text.len().min(3000)]);
    assert!(text.lines().any(|l| l.contains("latency") && l.contains("reported to the chain")));
}
