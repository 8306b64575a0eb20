//! Checks that a plugin keeps the ABI's `[no-alloc]` promise: a counting
//! global allocator, and a run of `process`, `set_param` and `flush` under it.
//!
//! A plugin crate's own tests install the allocator (each test binary has
//! one global allocator, and a plugin library its own, so the check runs
//! on the plugin's Rust type, not through the host). One line does both:
//!
//! ```ignore
//! auscult_plugin_api::no_alloc_test!(MyPlugin);
//! ```
//!
//! Enabled by the `testing` feature (a dev-dependency's).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crate::{Event, Events, Plugin};

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting each allocation and reallocation made
/// on the calling thread.
pub struct CountingAllocator;

// SAFETY: every call is passed to the system allocator unchanged; the
// count is a thread-local cell, touched without allocating.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made on this thread so far (with [`CountingAllocator`]
/// installed; always 0 without it).
pub fn allocations() -> usize {
    COUNT.with(Cell::get)
}

/// Creates `P` at `sample_rate` (allowed to allocate), then, counting:
/// 20 s of a test signal (a chirp from 30 Hz to a third of the rate with
/// noise and 1 Hz bursts, so that envelopes, detectors and decoders all
/// have work) through `process` in blocks of `block`, and every parameter
/// set to its minimum, maximum, a middle value and its default between
/// blocks; then `flush` at the end of a stream. Panics, naming the call, if any of it allocated; also panics
/// if the allocator is not installed (the check would prove nothing).
pub fn assert_no_allocation<P: Plugin>(sample_rate: f64, block: usize) {
    let probe = allocations();
    drop(std::hint::black_box(vec![0u8; 8]));
    assert!(allocations() > probe, "install testing::CountingAllocator as the #[global_allocator] of this test binary");

    let mut plugin = P::new(sample_rate, block).unwrap_or_else(|e| panic!("creating the plugin: {}", e.message));
    let n = (20.0 * sample_rate) as usize;
    let mut seed = 0x2545_f491_u32;
    let input: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f64 / sample_rate;
            let f = 30.0 + (sample_rate / 3.0 - 30.0) * t / 20.0;
            let burst = if (t % 1.0) < 0.3 { 1.0 } else { 0.1 };
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed as f32 / u32::MAX as f32 - 0.5) * 0.05;
            (burst * 0.5 * (std::f64::consts::PI * f * t).sin()) as f32 + noise
        })
        .collect();
    let mut output = vec![0.0f32; block];
    let mut slots = vec![Event::default(); 256];
    let values: Vec<(u32, f64)> = P::PARAMS
        .iter()
        .flat_map(|p| {
            let whole = matches!(crate::ParamScale::from_raw(p.scale), Some(crate::ParamScale::Integer | crate::ParamScale::Toggle));
            let middle = if whole { ((p.min + p.max) / 2.0).round() } else { (p.min + p.max) / 2.0 };
            [(p.id, p.min), (p.id, p.max), (p.id, middle), (p.id, p.default)]
        })
        .collect();
    let before = allocations();
    for (k, chunk) in input.chunks(block).enumerate() {
        let mut events = Events::new(&mut slots);
        let _ = plugin.process(chunk, &mut output[..chunk.len()], &mut events);
        let during = allocations() - before;
        assert_eq!(during, 0, "process allocated {during} times by block {k}");
        if k % 50 == 25 {
            for &(id, value) in &values {
                // A refused value (one that conflicts with another) is fine;
                // allocating to say so is not.
                let _ = plugin.set_param(id, value);
                let during = allocations() - before;
                assert_eq!(during, 0, "set_param({id}, {value}) allocated {during} times");
            }
        }
    }
    // The end of a stream: after 3 s with each parameter at its maximum in
    // turn (a mode switch included), `flush` and the reset after it.
    let three_s = (3.0 * sample_rate) as usize;
    for p in P::PARAMS {
        let _ = plugin.set_param(p.id, p.max);
        for chunk in input[..three_s].chunks(block) {
            let _ = plugin.process(chunk, &mut output[..chunk.len()], &mut Events::new(&mut slots));
        }
        let _ = plugin.flush(&mut Events::new(&mut slots));
        plugin.reset();
        let during = allocations() - before;
        assert_eq!(during, 0, "flush with parameter {} at {} allocated {during} times", p.id, p.max);
    }
}

/// A test module for a plugin crate: the counting allocator installed, and
/// `process`, `set_param` and `flush` checked to allocate nothing at 4 and 44.1 kHz
/// (`[no-alloc]` in the ABI). Needs the `testing` feature of this crate as
/// a dev-dependency.
#[macro_export]
macro_rules! no_alloc_test {
    ($plugin:ty) => {
        /// `process`, `set_param` and `flush` are `[no-alloc]` in the ABI: counted
        /// over every parameter's range and 20 s of signal, at two rates.
        #[cfg(test)]
        mod no_alloc {
            use super::*;

            #[global_allocator]
            static ALLOC: $crate::testing::CountingAllocator = $crate::testing::CountingAllocator;

            #[test]
            fn process_set_param_and_flush_allocate_nothing() {
                $crate::testing::assert_no_allocation::<$plugin>(4000.0, 256);
                $crate::testing::assert_no_allocation::<$plugin>(44100.0, 1024);
            }
        }
    };
}
