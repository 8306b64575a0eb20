//! The streaming mel path allocates nothing per frame (or per push): a
//! counting global allocator sees every allocation in this test binary.

use auscult::dsp::{MelConfig, StreamingMel};
use auscult_plugin_api::testing::{allocations, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn streaming_push_does_not_allocate() {
    for pad_mode in ["constant", "reflect"] {
        let config: MelConfig =
            toml::from_str(&format!("sample_rate = 4000\nn_fft = 256\nhop = 64\nn_mels = 64\nfmin = 50.0\nfmax = 2000.0\npad_mode = \"{pad_mode}\"")).unwrap();
        let mut stream = StreamingMel::new(config).unwrap();
        let signal: Vec<f32> = (0..40_000).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
        let mut frames = 0usize;
        let mut energy = 0.0f64;
        let before = allocations();
        for block in signal.chunks(100) {
            stream.push(block, |f| {
                frames += 1;
                energy += f.iter().map(|&x| f64::from(x)).sum::<f64>();
            });
        }
        let during = allocations() - before;
        assert!(frames > 600, "{pad_mode}: frames were produced ({frames})");
        assert!(energy > 0.0);
        assert_eq!(during, 0, "{pad_mode}: {during} allocations while streaming {frames} frames");
        // And the counter works: allocating is seen.
        let probe = vec![1u8; 16];
        assert!(allocations() > before, "the counting allocator counts");
        drop(probe);
    }
}
