//! The reference plugins (bandpass, denoise, segment) through the real host:
//! conformance, properties shared by all three, and runs on real recordings.

mod common;

use std::path::Path;

use auscult::host::{Chain, ChainEvent, PluginInstance, PluginLibrary};
use common::{plugin, shared_data, sine};
use rand::{Rng, SeedableRng};

/// The plugins every property test runs on, with parameter sets to try.
const REFERENCE: &[(&str, &[(&str, f64)])] = &[
    ("bandpass", &[]),
    ("bandpass", &[("low_hz", 25.0), ("high_hz", 400.0), ("order", 8.0)]),
    ("segment", &[]),
    ("segment", &[("mode", 1.0)]),
    ("denoise", &[]),
    ("denoise", &[("threshold_std", 0.5), ("reduction", 0.7), ("freq_smooth_hz", 0.0)]),
];

/// Runs `name` with `params` over `input` in blocks of `block` frames.
fn run(name: &str, params: &[(&str, f64)], rate: f64, input: &[f32], block: usize) -> (Vec<f32>, Vec<ChainEvent>, Chain) {
    let lib = PluginLibrary::load(&plugin(name)).unwrap();
    let mut inst = PluginInstance::new(lib.clone(), rate, block).unwrap();
    for (p, v) in params {
        let id = lib.info().param(p).unwrap_or_else(|| panic!("{name} has no {p}")).id;
        inst.set_param(id, *v).unwrap_or_else(|e| panic!("{name}.{p} = {v}: {e}"));
    }
    let mut chain = Chain::new(rate, block);
    chain.push(name, inst, false);
    let mut out = vec![0.0; input.len()];
    let mut events = Vec::with_capacity(input.len() / 10 + 64);
    chain.process(input, &mut out, &mut events);
    (out, events, chain)
}

fn noise(n: usize, amp: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-amp..amp)).collect()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn output_is_finite_for_any_finite_input() {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
    for (name, params) in REFERENCE {
        for rate in [4000.0, 44100.0] {
            for trial in 0..5 {
                // Wild but finite: huge values, denormals, DC steps, silence.
                let n = 4 * rate as usize / 10;
                let input: Vec<f32> = (0..n)
                    .map(|i| match (trial, i % 97) {
                        (0, _) => rng.random_range(-1e6f32..1e6),
                        (1, _) => f32::MIN_POSITIVE * rng.random_range(-4.0f32..4.0),
                        (2, k) => {
                            if k < 50 {
                                1.0
                            } else {
                                -1.0
                            }
                        }
                        (3, _) => 0.0,
                        _ => rng.random_range(-1.0f32..1.0),
                    })
                    .collect();
                let (out, _, chain) = run(name, params, rate, &input, 256);
                assert!(chain.slots()[0].fault().is_none(), "{name} {rate} trial {trial}: {:?}", chain.slots()[0].fault());
                assert!(out.iter().all(|x| x.is_finite()), "{name} {rate} trial {trial}");
            }
        }
    }
}

#[test]
fn output_does_not_depend_on_block_size() {
    for (name, params) in REFERENCE {
        for rate in [4000.0, 44100.0] {
            let input: Vec<f32> = sine(180.0, 0.4, rate, 3 * rate as usize).iter().zip(noise(3 * rate as usize, 0.1, 5)).map(|(a, b)| a + b).collect();
            let (reference, ref_events, _) = run(name, params, rate, &input, 1000);
            for block in [1, 64] {
                let (out, events, _) = run(name, params, rate, &input, block);
                for (i, (a, b)) in out.iter().zip(&reference).enumerate() {
                    assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{name} {rate} block {block} sample {i}: {a} vs {b}");
                }
                assert_eq!(events, ref_events, "{name} {rate} block {block}: events");
            }
        }
    }
}

#[test]
fn reset_returns_to_the_initial_state() {
    for (name, params) in REFERENCE {
        let rate = 8000.0;
        let input: Vec<f32> = noise(2 * rate as usize, 0.5, 9);
        let lib = PluginLibrary::load(&plugin(name)).unwrap();
        let mut inst = PluginInstance::new(lib.clone(), rate, 512).unwrap();
        for (p, v) in *params {
            inst.set_param(lib.info().param(p).unwrap().id, *v).unwrap();
        }
        let mut chain = Chain::new(rate, 512);
        chain.push(*name, inst, false);
        let mut first = vec![0.0; input.len()];
        let mut e1 = Vec::with_capacity(1024);
        chain.process(&input, &mut first, &mut e1);
        chain.reset().unwrap();
        let mut second = vec![0.0; input.len()];
        let mut e2 = Vec::with_capacity(1024);
        chain.process(&input, &mut second, &mut e2);
        assert_eq!(first, second, "{name}: output after reset");
        assert_eq!(e1, e2, "{name}: events after reset");
    }
}

#[test]
fn bandpass_matches_scipy_sosfilt() {
    #[derive(serde::Deserialize)]
    struct Cases {
        case: Vec<Case>,
    }
    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        sample_rate: f64,
        low_hz: f64,
        high_hz: f64,
        order: f64,
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bandpass");
    let read = |name: String| {
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        npyz::NpyFile::new(&bytes[..]).unwrap().into_vec::<f32>().unwrap()
    };
    let cases: Cases = toml::from_str(&std::fs::read_to_string(dir.join("cases.toml")).unwrap()).unwrap();
    assert_eq!(cases.case.len(), 4);
    for c in cases.case {
        let input = read(format!("{}.input.npy", c.name));
        let expect = read(format!("{}.output.npy", c.name));
        let params = [("high_hz", c.high_hz), ("low_hz", c.low_hz), ("order", c.order)];
        let (out, _, _) = run("bandpass", &params, c.sample_rate, &input, 333);
        let worst = out.iter().zip(&expect).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        eprintln!("{:<18} max abs diff from scipy {worst:.2e}", c.name);
        assert!(worst < 1e-4, "{}: {worst}", c.name);
    }
}

/// Steady-state gain of the plugin at `freq`, in dB, measured with a sine.
fn measured_gain_db(params: &[(&str, f64)], rate: f64, freq: f64) -> f64 {
    let n = (4.0 * rate) as usize;
    let input = sine(freq, 0.5, rate, n);
    let (out, _, _) = run("bandpass", params, rate, &input, 512);
    // Skip the first two seconds: the lowest edges ring for a while.
    20.0 * (rms(&out[n / 2..]) / rms(&input[n / 2..])).log10()
}

#[test]
fn bandpass_measured_edges_and_octave_attenuation() {
    for (rate, lo, hi) in [(4000.0, 100.0, 1800.0), (44100.0, 100.0, 2000.0), (8000.0, 25.0, 400.0)] {
        for order in [2.0, 4.0, 8.0] {
            let p = [("high_hz", hi), ("low_hz", lo), ("order", order)];
            for edge in [lo, hi] {
                let g = measured_gain_db(&p, rate, edge);
                assert!((g + 3.0).abs() <= 0.5, "{rate} Hz order {order}: {g:.2} dB at the {edge} Hz edge");
            }
            let below = measured_gain_db(&p, rate, lo / 2.0);
            assert!(below <= -6.0 * order, "{rate} Hz order {order}: {below:.1} dB an octave below");
            if hi * 2.0 < rate / 2.0 {
                let above = measured_gain_db(&p, rate, hi * 2.0);
                assert!(above <= -6.0 * order, "{rate} Hz order {order}: {above:.1} dB an octave above");
            }
        }
    }
}

#[test]
fn bandpass_cutoff_at_nyquist_is_a_configuration_error() {
    let text = "[[chain]]\nplugin = \"bandpass\"\nparams = { high_hz = 2000.0 }\n";
    let cfg = auscult::host::ChainConfig::parse(Path::new("lung.toml"), text.into()).unwrap();
    let search = auscult::host::SearchPath { dirs: vec![common::plugin_dir().to_path_buf()] };
    let err = cfg.build(&search, 4000.0, 256).unwrap_err().to_string();
    assert!(err.starts_with("lung.toml:3:") && err.contains("Nyquist"), "{err}");
    assert!(cfg.build(&search, 44100.0, 256).is_ok(), "fine at 44.1 kHz");
}

#[test]
fn process_works_with_each_plugin_on_every_shared_recording() {
    let Some(data) = shared_data() else { return };
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for sub in ["icbhi/audio_and_txt_files", "kauh/audio", "heart-yaseen2018/N", "heart-yaseen2018/MR", "heart-yaseen2018/MS", "heart-yaseen2018/MVP"] {
        let mut v: Vec<_> =
            std::fs::read_dir(data.join(sub)).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "wav")).collect();
        v.sort();
        files.extend(v);
    }
    assert!(files.len() >= 959, "found {} recordings (49 ICBHI + 270 KAUH + 640 heart)", files.len());
    let mut rates = std::collections::BTreeSet::new();
    for name in ["bandpass", "segment", "denoise"] {
        for file in &files {
            let audio = auscult::audio::decode_file(file).unwrap_or_else(|e| panic!("{e}"));
            rates.insert(audio.sample_rate);
            let (out, _, chain) = run(name, &[], f64::from(audio.sample_rate), &audio.samples, 1024);
            assert!(chain.slots()[0].fault().is_none(), "{name} on {}: {:?}", file.display(), chain.slots()[0].fault());
            assert!(out.iter().all(|x| x.is_finite()));
        }
    }
    assert!(rates.contains(&4000) && rates.contains(&8000) && rates.contains(&44100), "{rates:?}");
}

#[test]
fn shipped_chain_files_build_at_their_rates() {
    let search = auscult::host::SearchPath { dirs: vec![common::plugin_dir().to_path_buf()] };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/chains");
    for (file, rates) in [("lung.toml", &[8000.0, 44100.0][..]), ("lung-4k.toml", &[4000.0, 44100.0]), ("heart.toml", &[4000.0, 8000.0])] {
        let cfg = auscult::host::ChainConfig::load(&dir.join(file)).unwrap();
        for &rate in rates {
            let chain = cfg.build(&search, rate, 512).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(chain.len(), 2, "{file}");
        }
    }
}

#[test]
fn bandpass_band_above_the_default_can_be_set_from_a_chain_file() {
    let text = "[[chain]]\nplugin = \"bandpass\"\nparams = { low_hz = 3000.0, high_hz = 6000.0 }\n";
    let cfg = auscult::host::ChainConfig::parse(Path::new("high.toml"), text.into()).unwrap();
    let search = auscult::host::SearchPath { dirs: vec![common::plugin_dir().to_path_buf()] };
    let mut chain = cfg.build(&search, 44100.0, 256).unwrap();
    let info = chain.slots()[0].info().clone();
    assert_eq!(chain.get_param(0, info.param("low_hz").unwrap().id).unwrap(), 3000.0);
    assert_eq!(chain.get_param(0, info.param("high_hz").unwrap().id).unwrap(), 6000.0);
}

/// Recordings the denoiser is measured on: the first few of each set.
/// `AUSCULT_DENOISE_SLICE=N` takes the N-th few instead (recordings the
/// plugin's design was not checked against while it was being changed);
/// `AUSCULT_DENOISE_SLICE=all` takes every recording.
fn denoise_corpus(data: &Path) -> Vec<std::path::PathBuf> {
    let slice = std::env::var("AUSCULT_DENOISE_SLICE").unwrap_or_default();
    let (slice, all) = (slice.parse::<usize>().unwrap_or(0), slice == "all");
    let mut files = Vec::new();
    for (sub, take) in [
        ("kauh/audio", 12),
        ("icbhi/audio_and_txt_files", 6),
        ("heart-yaseen2018/N", 6),
        ("heart-yaseen2018/MR", 6),
        ("heart-yaseen2018/MS", 0),
        ("heart-yaseen2018/MVP", 0),
    ] {
        let mut v: Vec<_> =
            std::fs::read_dir(data.join(sub)).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "wav")).collect();
        v.sort();
        let take = if all { v.len() } else { take };
        files.extend(v.into_iter().skip(slice * take).take(take));
    }
    files
}

/// The recording as the chain hands it to the denoiser: band-passed with
/// the chain preset for its kind (lung 100–1800 Hz, heart 25–400 Hz).
/// Most of a stethoscope recording's raw energy is below 20 Hz (movement,
/// handling), which is not the sound being listened to.
fn as_chain_input(file: &Path) -> (Vec<f32>, f64) {
    let audio = auscult::audio::decode_file(file).unwrap();
    let rate = f64::from(audio.sample_rate);
    let heart = file.to_string_lossy().contains("heart");
    let band: &[(&str, f64)] = if heart { &[("low_hz", 25.0), ("high_hz", 400.0)] } else { &[("low_hz", 100.0), ("high_hz", 1800.0)] };
    let (out, _, _) = run("bandpass", band, rate, &audio.samples, 1024);
    (out, rate)
}

/// SNR of `y` against `clean`, with `y` delayed by `latency`; the first
/// `skip` samples (the profile warming up) are left out.
fn snr_db(clean: &[f32], y: &[f32], latency: usize, skip: usize) -> f64 {
    let (mut s, mut e) = (0.0f64, 0.0f64);
    for i in skip..clean.len() - latency {
        s += f64::from(clean[i]).powi(2);
        e += f64::from(y[i + latency] - clean[i]).powi(2);
    }
    10.0 * (s / e).log10()
}

#[test]
fn denoise_improves_the_snr_of_real_recordings_in_white_noise_by_6_db() {
    let Some(data) = shared_data() else { return };
    let (mut gains, mut auto_gains) = (Vec::new(), Vec::new());
    let mut noisy_spread = f64::NEG_INFINITY;
    for (i, file) in denoise_corpus(&data).iter().enumerate() {
        let (clean, rate) = as_chain_input(file);
        let clean = &clean;
        // White noise at 0 dB SNR: the same power as the recording.
        let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64);
        let a = rms(clean) * 3f64.sqrt(); // uniform on [-a, a] has RMS a/√3
        let noisy: Vec<f32> = clean.iter().map(|&x| x + rng.random_range(-a..a) as f32).collect();
        // The user marks 2 s of noise alone (profile = 1, learn), then the
        // profile is held (2) while the recording plays.
        let lib = PluginLibrary::load(&plugin("denoise")).unwrap();
        let mut chain = Chain::new(rate, 1024);
        chain.push("denoise", PluginInstance::new(lib.clone(), rate, 1024).unwrap(), false);
        let profile = lib.info().param("profile").unwrap().id;
        let marked: Vec<f32> = (0..(2.0 * rate) as usize).map(|_| rng.random_range(-a..a) as f32).collect();
        let mut scratch = vec![0.0; marked.len()];
        let mut events = Vec::new();
        chain.set_param(0, profile, 1.0).unwrap();
        for (i, o) in marked.chunks(1024).zip(scratch.chunks_mut(1024)) {
            chain.process(i, o, &mut events);
        }
        chain.set_param(0, profile, 2.0).unwrap();
        chain.reset().unwrap();
        let mut out = vec![0.0; noisy.len()];
        for (i, o) in noisy.chunks(1024).zip(out.chunks_mut(1024)) {
            chain.process(i, o, &mut events);
        }
        assert!(chain.slots()[0].fault().is_none());
        let latency = chain.latency() as usize;
        let skip = 0;
        let before = snr_db(clean, &noisy, 0, skip);
        let after = snr_db(clean, &out, latency, skip);
        // For the README: the automatic profile (quietest frames) on the same input.
        let (auto_out, _, _) = run("denoise", &[], rate, &noisy, 1024);
        let auto = snr_db(clean, &auto_out, latency, (rate * 0.5) as usize) - before;
        auto_gains.push(auto);
        // Noise at 0 dB fills the quiet stretches: how stationary the noisy
        // input is, beside the clean-input test's figure for clean input.
        let spread = frame_power_spread_db(&noisy, rate);
        noisy_spread = noisy_spread.max(spread);
        println!(
            "{before:>6.2} dB -> {after:>6.2} dB  (+{:.2}; automatic profile +{auto:.2}; frame power spread {spread:.1} dB)  {}",
            after - before,
            file.display()
        );
        gains.push((after - before, file.clone()));
    }
    let worst = gains.iter().map(|g| g.0).fold(f64::INFINITY, f64::min);
    let mean = gains.iter().map(|g| g.0).sum::<f64>() / gains.len() as f64;
    println!("denoise SNR gain at 0 dB white noise, learned profile: mean {mean:.2} dB, worst {worst:.2} dB over {} recordings", gains.len());
    let auto_mean = auto_gains.iter().sum::<f64>() / auto_gains.len() as f64;
    let auto_worst = auto_gains.iter().copied().fold(f64::INFINITY, f64::min);
    println!("  automatic profile (quietest 10% of the last 4 s): mean {auto_mean:.2} dB, worst {auto_worst:.2} dB");
    println!("  noisy input: frame power 5–95% spread at most {noisy_spread:.1} dB");
    for (gain, file) in &gains {
        assert!(*gain >= 6.0, "{}: SNR gain {gain:.2} dB < 6 dB", file.display());
    }
}

/// How far apart, in dB, the 5th and 95th percentiles of the power of 64 ms
/// frames (hop 16 ms) are: how much quieter the recording's quiet stretches
/// are than its sounds. Frames of digital silence are left out. Printed with
/// the clean-input change: a recording with a small spread is stationary
/// sound throughout, which a stationary-noise gate cannot tell from noise.
fn frame_power_spread_db(x: &[f32], rate: f64) -> f64 {
    let (win, hop) = ((0.064 * rate) as usize, (0.016 * rate) as usize);
    let mut power: Vec<f64> = x.windows(win).step_by(hop).map(|w| w.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>()).filter(|&p| p > 0.0).collect();
    power.sort_by(f64::total_cmp);
    let at = |q: f64| power[((power.len() - 1) as f64 * q).round() as usize];
    10.0 * (at(0.95) / at(0.05)).log10()
}

/// Every recording of the corpus, as it is. The README also reports the
/// whole set (`AUSCULT_DENOISE_SLICE=all`), where five of 959 exceed 1 dB:
/// the five with the smallest frame power spread (stationary throughout).
#[test]
fn denoise_changes_clean_recordings_by_less_than_1_db_rms() {
    let Some(data) = shared_data() else { return };
    let mut changes = Vec::new();
    for file in denoise_corpus(&data) {
        let (samples, rate) = as_chain_input(&file);
        let audio = auscult::audio::Decoded { samples, sample_rate: rate as u32, channels: 1 };
        let (out, _, chain) = run("denoise", &[], rate, &audio.samples, 1024);
        let latency = chain.latency() as usize;
        let n = audio.samples.len() - latency;
        let change = 20.0 * (rms(&out[latency..]) / rms(&audio.samples[..n])).log10();
        let spread = frame_power_spread_db(&audio.samples, rate);
        println!("{change:+.3} dB  (frame power 5–95% spread {spread:5.1} dB)  {}", file.display());
        changes.push((change, spread, file));
    }
    let worst = changes.iter().map(|c| c.0.abs()).fold(0.0, f64::max);
    println!("denoise on clean input: worst RMS change {worst:.3} dB");
    let (within, over): (Vec<_>, Vec<_>) = changes.iter().partition(|c| c.0.abs() < 1.0);
    let least = within.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    print!("  frame power spread: least {least:.1} dB among the {} within 1 dB", within.len());
    match over.iter().map(|c| c.1).reduce(f64::max) {
        Some(most) => println!(", greatest {most:.1} dB among the {} over", over.len()),
        None => println!(),
    }
    for (change, _, file) in &changes {
        assert!(change.abs() < 1.0, "{}: RMS changed by {change:.2} dB", file.display());
    }
}
