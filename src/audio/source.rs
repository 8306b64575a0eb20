//! What every audio source hands the rest of the program.
//!
//! A live device ([`super::capture`]) and a file replay ([`super::replay`])
//! look the same from outside: mono `f32` samples arrive through a lock-free
//! single-producer single-consumer ring ([`rtrb`]), and a shared
//! [`SourceStatus`] of atomics says how many frames arrived, how many were
//! dropped because the ring was full, and whether the source ended or failed.
//! The producing side (an audio callback or the replay thread) never
//! allocates, locks or blocks.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// Where the samples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A capture device, through cpal.
    Live,
    /// A file played back, paced or as fast as possible.
    Replay,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Live => "live",
            SourceKind::Replay => "replay",
        }
    }
}

/// Describes an open source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub kind: SourceKind,
    /// Device id or file path, as the user would name it.
    pub name: String,
    pub sample_rate: u32,
    /// Channels delivered by the device or file, before mixing to mono.
    pub channels: u16,
    /// How the device was opened, e.g. "i16, 1 ch, 4000 Hz, 256-frame buffer".
    pub format: String,
}

/// The state of a source, as the producer last set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    Running,
    /// A replay reached the end of its file.
    Finished,
    /// The device went away (unplugged) mid-stream.
    Disconnected,
    /// The backend reported an error it could not recover from.
    Failed,
}

/// Counters and state shared between the producer and everyone else.
/// Only atomics: safe to touch from an audio callback.
#[derive(Debug, Default)]
pub struct SourceStatus {
    frames: AtomicU64,
    overruns: AtomicU64,
    xruns: AtomicU64,
    state: AtomicU8,
}

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const DISCONNECTED: u8 = 2;
const FAILED: u8 = 3;

impl SourceStatus {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Frames the source produced (including those dropped).
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Frames dropped because the consumer did not keep up.
    pub fn overruns(&self) -> u64 {
        self.overruns.load(Ordering::Relaxed)
    }

    /// Over/underruns the audio backend itself reported.
    pub fn xruns(&self) -> u64 {
        self.xruns.load(Ordering::Relaxed)
    }

    pub fn state(&self) -> SourceState {
        match self.state.load(Ordering::Acquire) {
            RUNNING => SourceState::Running,
            FINISHED => SourceState::Finished,
            DISCONNECTED => SourceState::Disconnected,
            _ => SourceState::Failed,
        }
    }

    pub(crate) fn add(&self, produced: u64, dropped: u64) {
        self.frames.fetch_add(produced, Ordering::Relaxed);
        if dropped > 0 {
            self.overruns.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    pub(crate) fn add_xrun(&self) {
        self.xruns.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_state(&self, state: SourceState) {
        let code = match state {
            SourceState::Running => RUNNING,
            SourceState::Finished => FINISHED,
            SourceState::Disconnected => DISCONNECTED,
            SourceState::Failed => FAILED,
        };
        // The first terminal state wins: a disconnect is not overwritten by
        // the errors that follow it.
        let _ = self.state.compare_exchange(RUNNING, code, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Keeps the producer alive for as long as the source is held: dropping
/// it stops the stream or joins the replay thread.
#[allow(dead_code)] // held for its Drop, never read
pub(crate) enum Producer {
    Stream(cpal::Stream),
    Thread(super::replay::ReplayThread),
}

/// An open source: read mono samples from `samples`.
pub struct Source {
    pub info: SourceInfo,
    pub samples: rtrb::Consumer<f32>,
    pub status: Arc<SourceStatus>,
    _producer: Producer,
}

impl Source {
    pub(crate) fn new(info: SourceInfo, samples: rtrb::Consumer<f32>, status: Arc<SourceStatus>, producer: Producer) -> Self {
        Self { info, samples, status, _producer: producer }
    }

    /// Moves up to `out.len()` samples out of the ring; returns how many.
    pub fn read(&mut self, out: &mut [f32]) -> usize {
        read_ring(&mut self.samples, out)
    }

    /// True once no more samples will come: the file ended or the device
    /// failed, and the ring is drained.
    pub fn exhausted(&self) -> bool {
        self.status.state() != SourceState::Running && self.samples.is_empty()
    }
}

/// Ring capacity for `seconds` of audio at `rate`.
/// Moves up to `out.len()` samples out of `ring`; returns how many.
pub(crate) fn read_ring(ring: &mut rtrb::Consumer<f32>, out: &mut [f32]) -> usize {
    let n = ring.slots().min(out.len());
    if n == 0 {
        return 0;
    }
    match ring.read_chunk(n) {
        Ok(chunk) => {
            let (a, b) = chunk.as_slices();
            out[..a.len()].copy_from_slice(a);
            out[a.len()..a.len() + b.len()].copy_from_slice(b);
            chunk.commit_all();
            n
        }
        Err(_) => 0,
    }
}

pub(crate) fn ring_capacity(rate: u32, seconds: f32) -> usize {
    ((rate as f32 * seconds) as usize).max(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_terminal_state_wins() {
        let status = SourceStatus::new();
        assert_eq!(status.state(), SourceState::Running);
        status.set_state(SourceState::Disconnected);
        status.set_state(SourceState::Failed);
        assert_eq!(status.state(), SourceState::Disconnected);
    }
}
