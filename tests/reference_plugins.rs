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
                        (2, k) => if k < 50 { 1.0 } else { -1.0 },
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
        let mut v: Vec<_> = std::fs::read_dir(data.join(sub)).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "wav")).collect();
        v.sort();
        files.extend(v);
    }
    assert!(files.len() >= 959, "found {} recordings (49 ICBHI + 270 KAUH + 640 heart)", files.len());
    let mut rates = std::collections::BTreeSet::new();
    for name in ["bandpass", "segment"] {
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
