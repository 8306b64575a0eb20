//! Inference time per cycle: one log-mel input through the shipped heart
//! model (2.5 s, 64 × 156) and a lung-cycle-sized input (5 s, 64 × 312)
//! through the same network, on the CPU backend. Single-threaded figures
//! come from running with RAYON_NUM_THREADS=1.
//!
//! Training: what the loader thread does for one batch of 32 lung-cycle
//! inputs (crop, augmentation, normalisation) against one optimiser step
//! of the lung network on them (forward, backward, Adam; with the
//! network's creation, a small share). The first is the work the loader
//! takes off the training thread.

use std::hint::black_box;
use std::path::Path;

use auscult::model::data::{Augment, MelBatcher, MelDataset, MelExample};
use auscult::model::features::LogMel;
use auscult::model::inference::{default_device, Classifier};
use auscult::model::model::{CnnConfig, Pooling};
use auscult::model::training::{train, Selection, TrainConfig, TrainData};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

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

fn bench_training(c: &mut Criterion) {
    // 32 recordings of 7 s (437 frames at the lung setting), cropped to 5 s.
    let mut rng = SmallRng::seed_from_u64(1);
    let examples = (0..32)
        .map(|i| MelExample {
            mel: LogMel { n_mels: 64, data: (0..64 * 437).map(|_| rng.random_range(-90.0f32..-30.0)).collect() },
            label: i % 4,
            auxiliary: None,
        })
        .collect();
    let set = MelDataset { examples };
    let batcher = MelBatcher { n_mels: 64, frames: 312, mean: -60.0, std: 20.0, per_example: true, per_band: false };
    let indices: Vec<usize> = (0..32).collect();
    let augment = Augment::default();
    let mut group = c.benchmark_group("training");
    group.sample_size(10);
    group.bench_function("assemble_batch_32x5s", |b| b.iter(|| batcher.batch_data(black_box(&set), &indices, Some((&augment, &mut rng)))));
    let cnn = CnnConfig::new(4).with_pooling(Pooling::MeanStd);
    let config = TrainConfig { epochs: 1, max_steps: Some(1), select: Selection::Last, ..TrainConfig::default() };
    let classes: Vec<String> = ["normal", "crackle", "wheeze", "both"].map(String::from).to_vec();
    let empty = MelDataset::default();
    let device = default_device();
    group.bench_function("train_step_32x5s", |b| {
        b.iter(|| {
            let data = TrainData { train: &set, validation: &empty, classes: &classes, folders: &[] };
            train(&cnn, &config, &batcher, data, &device, |_| {}, |_, _| {}).expect("no checkpoint")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_inference, bench_training);
criterion_main!(benches);
