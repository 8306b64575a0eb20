//! Mel extraction speed, for the three conformance settings: a whole 20 s
//! recording (batch), and frame by frame as the live path runs it (one push
//! of `hop` samples producing one frame). scripts/bench_librosa.py times
//! librosa on the same signal for the README's comparison.

use std::hint::black_box;

use auscult::dsp::{MelConfig, MelExtractor, StreamingMel};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The signal scripts/bench_librosa.py generates too.
fn signal(rate: u32, seconds: f64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (0.5 * (2.0 * std::f64::consts::PI * 220.0 * t).sin() + 0.1 * (2.0 * std::f64::consts::PI * 1234.0 * t).sin()) as f32
        })
        .collect()
}

fn settings() -> Vec<(&'static str, MelConfig)> {
    let base = MelConfig::default();
    vec![
        ("lung4k", MelConfig { sample_rate: 4000, n_fft: 256, hop: 64, n_mels: 64, fmin: 50.0, fmax: Some(2000.0), ..base.clone() }),
        ("librosa22k", MelConfig { sample_rate: 22050, ..base.clone() }),
        ("speech16k", MelConfig { sample_rate: 16000, n_fft: 400, hop: 160, n_mels: 128, ..base }),
    ]
}

fn bench_mel(c: &mut Criterion) {
    let mut whole = c.benchmark_group("mel_whole_20s");
    whole.sample_size(20);
    for (name, config) in settings() {
        let x = signal(config.sample_rate, 20.0);
        whole.throughput(Throughput::Elements(x.len() as u64));
        let mut extractor = MelExtractor::new(config).expect("valid config");
        whole.bench_with_input(BenchmarkId::from_parameter(name), &x, |b, x| b.iter(|| black_box(extractor.compute(black_box(x)))));
    }
    whole.finish();

    let mut live = c.benchmark_group("mel_frame");
    for (name, config) in settings() {
        let hop = config.hop;
        let x = signal(config.sample_rate, 2.0);
        live.throughput(Throughput::Elements(hop as u64));
        let mut stream = StreamingMel::new(config).expect("valid config");
        // Prime it so every push below completes exactly one frame.
        stream.push(&x[..x.len() / 2], |_| {});
        let mut pos = x.len() / 2;
        live.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                if pos + hop > x.len() {
                    pos = x.len() / 2;
                }
                let mut sum = 0.0f32;
                stream.push(black_box(&x[pos..pos + hop]), |f| sum += f[0]);
                pos += hop;
                black_box(sum)
            })
        });
    }
    live.finish();
}

criterion_group!(benches, bench_mel);
criterion_main!(benches);
