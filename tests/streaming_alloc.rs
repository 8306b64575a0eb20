//! The streaming mel path allocates nothing per frame (or per push): a
//! counting global allocator sees every allocation in this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use auscult::dsp::{MelConfig, StreamingMel};

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    COUNT.with(Cell::get)
}

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
