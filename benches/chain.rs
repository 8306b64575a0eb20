//! Host overhead per 256-frame block, with pass-through plugins.
//!
//! `chain/copy` is the floor (what a pass-through plugin itself costs: one
//! `copy_from_slice`); `chain/passthrough/N` runs N pass-through plugins
//! through the real host (FFI call, timing, non-finite check, event
//! handling). Overhead per plugin = (passthrough/N - copy·N - empty) / N.
//! Target: under 1 µs per plugin per block.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use auscult::host::{Chain, ChainEvent, PluginInstance, PluginLibrary};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const BLOCK: usize = 256;
const RATE: f64 = 44100.0;

fn bench_chain(c: &mut Criterion) {
    let lib = PluginLibrary::load(&common::plugin("passthrough")).expect("loading passthrough");
    let input = common::sine(440.0, 0.5, RATE, BLOCK);
    let mut output = vec![0.0f32; BLOCK];
    let mut events: Vec<ChainEvent> = Vec::with_capacity(1024);

    let mut group = c.benchmark_group("chain");
    group.throughput(Throughput::Elements(BLOCK as u64));
    group.bench_function("copy", |b| b.iter(|| output.copy_from_slice(black_box(&input))));
    for n in [0usize, 1, 4] {
        let mut chain = Chain::new(RATE, BLOCK);
        for i in 0..n {
            let inst = PluginInstance::new(lib.clone(), RATE, BLOCK).expect("creating passthrough");
            chain.push(format!("passthrough{i}"), inst, false);
        }
        group.bench_with_input(BenchmarkId::new("passthrough", n), &n, |b, _| {
            b.iter(|| {
                events.clear();
                chain.process(black_box(&input), &mut output, &mut events);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_chain);
criterion_main!(benches);
