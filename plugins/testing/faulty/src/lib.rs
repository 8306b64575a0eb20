//! Fault injector: misbehaves on purpose, every `every_n`-th block, so that
//! tests can check that the host contains each kind of fault.
//!
//! Between faults it passes audio through unchanged and emits a
//! `cycle_start` event at the first frame of every block (so tests can see
//! events flow).

use std::ffi::CStr;
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
    /// Leak 1 MiB: grows memory without bound.
    Leak = 6,
}

impl Mode {
    fn from_value(v: f64) -> Mode {
        match v as u32 {
            1 => Mode::Panic,
            2 => Mode::Nan,
            3 => Mode::Inf,
            4 => Mode::Error,
            5 => Mode::Sleep,
            6 => Mode::Leak,
            _ => Mode::None,
        }
    }
}

pub struct Faulty {
    mode: Mode,
    every_n: u64,
    sleep_ms: f64,
    blocks: u64,
}

impl Plugin for Faulty {
    const ID: &'static CStr = c"org.auscult.test.faulty";
    const NAME: &'static CStr = c"Fault injector";
    const VERSION: &'static CStr = c"1.0.0";
    const DESCRIPTION: &'static CStr =
        c"Panics, emits NaN/Inf, fails, sleeps or leaks every Nth block (for tests)";
    const PARAMS: &'static [ParamDescriptor] = &[
        // 0 none, 1 panic, 2 NaN, 3 Inf, 4 error, 5 sleep, 6 leak
        param(MODE, c"mode", c"", 0.0, 6.0, 0.0, ParamScale::Integer),
        param(EVERY_N, c"every_n", c"blocks", 1.0, 1e9, 1.0, ParamScale::Integer),
        param(SLEEP_MS, c"sleep_ms", c"ms", 0.0, 10_000.0, 50.0, ParamScale::Linear),
    ];

    fn new(_: f64, _: usize) -> Result<Self, PluginError> {
        Ok(Faulty {
            mode: Mode::None,
            every_n: 1,
            sleep_ms: 50.0,
            blocks: 0,
        })
    }

    fn process(&mut self, input: &[f32], output: &mut [f32], events: &mut Events<'_>) -> Result<(), PluginError> {
        self.blocks += 1;
        output.copy_from_slice(input);
        events.push(0, EventKind::CycleStart, 0.0);
        if self.mode == Mode::None || !self.blocks.is_multiple_of(self.every_n) {
            return Ok(());
        }
        match self.mode {
            Mode::None => {}
            Mode::Panic => panic!("injected panic at block {}", self.blocks),
            Mode::Nan => output[output.len() / 2] = f32::NAN,
            Mode::Inf => output[0] = f32::INFINITY,
            Mode::Error => return Err(PluginError::new("injected error")),
            Mode::Sleep => std::thread::sleep(Duration::from_secs_f64(self.sleep_ms / 1000.0)),
            Mode::Leak => std::mem::forget(vec![1u8; 1 << 20]),
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
}

export_plugin!(Faulty);
