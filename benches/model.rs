//! Inference time per cycle: one log-mel input through the shipped heart
//! model (2.5 s, 64 × 156) and a lung-cycle-sized input (5 s, 64 × 312)
//! through the same network, on the CPU backend. Single-threaded figures
//! come from running with RAYON_NUM_THREADS=1.

use std::hint::black_box;
use std::path::Path;

use auscult::model::features::LogMel;
use auscult::model::inference::Classifier;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench_inference(c: &mut Criterion) {
    let card = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/heart-yaseen/card.toml");
    let classifier = Classifier::load(&card).expect("loading models/heart-yaseen");
    let mut group = c.benchmark_group("inference");
    for (name, frames) in [("heart_2.5s", 156usize), ("cycle_5s", 312)] {
        let mel = LogMel { n_mels: 64, data: (0..64 * frames).map(|i| -60.0 + (i % 37) as f32).collect() };
        group.bench_function(name, |b| b.iter(|| classifier.predict(black_box(std::slice::from_ref(&mel)))));
    }
    group.finish();
}

criterion_group!(benches, bench_inference);
criterion_main!(benches);
