//! Real-time factor of each reference plugin at 4 kHz and 44.1 kHz: the
//! time to process one second of audio (noise plus a tone) through the real
//! host, in 256-frame blocks. Time per element × sample rate = seconds of CPU
//! per second of audio.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use auscult::host::{Chain, ChainEvent, PluginInstance, PluginLibrary};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const BLOCK: usize = 256;

fn bench_plugins(c: &mut Criterion) {
    let mut group = c.benchmark_group("plugin_1s");
    group.sample_size(20);
    for (name, mode) in [("bandpass", None), ("denoise", None), ("segment", Some(0.0)), ("segment", Some(1.0))] {
        let lib = PluginLibrary::load(&common::plugin(name)).expect("loading plugin");
        for rate in [4000.0, 44100.0] {
            let n = rate as usize;
            let input: Vec<f32> =
                common::sine(200.0, 0.3, rate, n).iter().enumerate().map(|(i, x)| x + 0.05 * ((i * 7919 % 1000) as f32 / 500.0 - 1.0)).collect();
            let mut inst = PluginInstance::new(lib.clone(), rate, BLOCK).expect("create");
            if let Some(m) = mode {
                inst.set_param(lib.info().param("mode").expect("mode").id, m).expect("mode");
            }
            let mut chain = Chain::new(rate, BLOCK);
            chain.push(name, inst, false);
            let mut out = vec![0.0f32; n];
            let mut events: Vec<ChainEvent> = Vec::with_capacity(4096);
            let label = match mode {
                Some(0.0) => format!("{name}-lung"),
                Some(_) => format!("{name}-heart"),
                None => name.to_string(),
            };
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new(label, rate as u32), |b| {
                b.iter(|| {
                    events.clear();
                    chain.process(black_box(&input), &mut out, &mut events);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_plugins);
criterion_main!(benches);
