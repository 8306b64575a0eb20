//! Fault injector: misbehaves on purpose, every `every_n`-th block, so that
//! tests can check that the host contains each kind of fault.
//!
//! Between faults it passes audio through unchanged and emits a
//! `cycle_start` event at the first frame of every block (so tests can see
//! events flow).
//!
//! When the host ends the stream (the end-of-stream extension), panic and
//! error modes panic or fail there too.
//!
//! `chaos` mode rotates through panic, NaN, a sleep past the block deadline
//! and 1 MiB of growth, one per faulty block. The rotation is counted per
//! library, not per instance, so it goes on across the host's restarts.

use std::ffi::CStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auscult_plugin_api::{export_plugin, param, EventKind, Events, ParamDescriptor, ParamScale, Plugin, PluginError};

const MODE: u32 = 0;
const EVERY_N: u32 = 1;
const SLEEP_MS: u32 = 2;

/// What to do on a faulty block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    None = 0,
    Panic = 1,
    Nan = 2,
    Inf = 3,
    Error = 4,
    /// Sleep `sleep_ms`: blows the real-time deadline.
    Sleep = 5,
    /// Keep 1 MiB more: memory grows until the instance is destroyed.
    Grow = 6,
    /// Panic, NaN, sleep, grow, in turn.
    Chaos = 7,
}

/// Faulty blocks seen in chaos mode, by every instance of this library.
static CHAOS_TURN: AtomicU64 = AtomicU64::new(0);

impl Mode {
    fn from_value(v: f64) -> Mode {
        match v as u32 {
            1 => Mode::Panic,
            2 => Mode::Nan,
            3 => Mode::Inf,
            4 => Mode::Error,
            5 => Mode::Sleep,
            6 => Mode::Grow,
            7 => Mode::Chaos,
            _ => Mode::None,
        }
    }
}

pub struct Faulty {
    mode: Mode,
    every_n: u64,
    sleep_ms: f64,
    blocks: u64,
    /// What grow mode holds on to.
    hoard: Vec<Vec<u8>>,
}

impl Plugin for Faulty {
    const ID: &'static CStr = c"org.auscult.test.faulty";
    const NAME: &'static CStr = c"Fault injector";
    const VERSION: &'static CStr = c"1.0.0";
    const DESCRIPTION: &'static CStr = c"Panics, emits NaN/Inf, fails, sleeps or grows every Nth block, or all in turn (for tests)";
    const PARAMS: &'static [ParamDescriptor] = &[
        // 0 none, 1 panic, 2 NaN, 3 Inf, 4 error, 5 sleep, 6 grow, 7 chaos
        param(MODE, c"mode", c"", 0.0, 7.0, 0.0, ParamScale::Integer),
        param(EVERY_N, c"every_n", c"blocks", 1.0, 1e9, 1.0, ParamScale::Integer),
        param(SLEEP_MS, c"sleep_ms", c"ms", 0.0, 10_000.0, 50.0, ParamScale::Linear),
    ];

    fn new(_: f64, _: usize) -> Result<Self, PluginError> {
        Ok(Faulty { mode: Mode::None, every_n: 1, sleep_ms: 50.0, blocks: 0, hoard: Vec::new() })
    }

    fn process(&mut self, input: &[f32], output: &mut [f32], events: &mut Events<'_>) -> Result<(), PluginError> {
        self.blocks += 1;
        output.copy_from_slice(input);
        events.push(0, EventKind::CycleStart, 0.0);
        if self.mode == Mode::None || !self.blocks.is_multiple_of(self.every_n) {
            return Ok(());
        }
        let mode = match self.mode {
            Mode::Chaos => match CHAOS_TURN.fetch_add(1, Ordering::Relaxed) % 4 {
                0 => Mode::Panic,
                1 => Mode::Nan,
                2 => Mode::Sleep,
                _ => Mode::Grow,
            },
            mode => mode,
        };
        match mode {
            Mode::None | Mode::Chaos => {}
            Mode::Panic => panic!("injected panic at block {}", self.blocks),
            Mode::Nan => output[output.len() / 2] = f32::NAN,
            Mode::Inf => output[0] = f32::INFINITY,
            Mode::Error => return Err(PluginError::new("injected error")),
            Mode::Sleep => std::thread::sleep(Duration::from_secs_f64(self.sleep_ms / 1000.0)),
            // Allocating in process breaks the ABI's [no-alloc] on purpose.
            Mode::Grow => self.hoard.push(vec![1u8; 1 << 20]),
        }
        Ok(())
    }

    fn set_param(&mut self, id: u32, value: f64) -> Result<(), PluginError> {
        match id {
            MODE => self.mode = Mode::from_value(value),
            EVERY_N => self.every_n = value as u64,
            SLEEP_MS => self.sleep_ms = value,
            _ => return Err(PluginError::new("unknown parameter")),
        }
        Ok(())
    }

    fn get_param(&self, id: u32) -> Option<f64> {
        match id {
            MODE => Some(self.mode as u32 as f64),
            EVERY_N => Some(self.every_n as f64),
            SLEEP_MS => Some(self.sleep_ms),
            _ => None,
        }
    }

    fn reset(&mut self) {
        self.blocks = 0;
    }

    // The end of the stream fails as the mode says (panic or error), so
    // that a host's flush meets the faults its process does.
    const FLUSHES: bool = true;

    fn flush(&mut self, _events: &mut Events<'_>) -> Result<(), PluginError> {
        match self.mode {
            Mode::Panic => panic!("injected panic at the end of the stream"),
            Mode::Error => Err(PluginError::new("injected error at the end of the stream")),
            _ => Ok(()),
        }
    }
}

export_plugin!(Faulty);
