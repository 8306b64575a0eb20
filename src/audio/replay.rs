//! Replaying a recording as if it were a live input.
//!
//! The file is decoded up front, then a thread feeds it into the same ring a
//! capture callback would: in 10 ms blocks at real-time pace (the demo, and
//! end-to-end tests), or as fast as the consumer takes it (batch analysis,
//! where nothing may be dropped).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::decode::{decode_file, DecodeError};
use super::source::{ring_capacity, Producer, Source, SourceInfo, SourceKind, SourceState, SourceStatus};

/// How fast a replay delivers samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// One second of audio per second: the consumer sees what a device
    /// would give it, and drops (counted as overruns) if it falls behind.
    RealTime,
    /// As fast as the consumer reads; never drops.
    Fast,
}

#[derive(Debug, Clone, Copy)]
pub struct ReplayOptions {
    pub pace: Pace,
    /// Start again at the end of the file (the demo) instead of finishing.
    pub looped: bool,
    /// Ring capacity, in seconds of audio.
    pub ring_seconds: f32,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self { pace: Pace::RealTime, looped: false, ring_seconds: 4.0 }
    }
}

/// The feeding thread; stopped and joined on drop.
pub(crate) struct ReplayThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for ReplayThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Opens `path` as a source.
pub fn open(path: &Path, options: ReplayOptions) -> Result<Source, DecodeError> {
    let decoded = decode_file(path)?;
    let info = SourceInfo {
        kind: SourceKind::Replay,
        name: path.display().to_string(),
        sample_rate: decoded.sample_rate,
        channels: decoded.channels as u16,
        format: format!(
            "file, {} ch mixed to mono, {} Hz, {}",
            decoded.channels,
            decoded.sample_rate,
            match options.pace {
                Pace::RealTime => "real-time pace",
                Pace::Fast => "as fast as read",
            }
        ),
    };
    Ok(from_samples(info, decoded.samples, options))
}

/// The recording built into the binary, replayed when there is no input
/// device: a KAUH clip (CC BY 4.0, see samples/README.md).
pub const BUNDLED_NAME: &str = "samples/kauh-EP109-normal.wav";
const BUNDLED: &[u8] = include_bytes!("../../samples/kauh-EP109-normal.wav");

/// Opens the bundled recording as a source.
pub fn open_bundled(options: ReplayOptions) -> Result<Source, DecodeError> {
    let decoded = super::decode::decode_bytes(BUNDLED, Path::new(BUNDLED_NAME))?;
    let info = SourceInfo {
        kind: SourceKind::Replay,
        name: BUNDLED_NAME.to_string(),
        sample_rate: decoded.sample_rate,
        channels: decoded.channels as u16,
        format: format!("bundled recording, {} Hz", decoded.sample_rate),
    };
    Ok(from_samples(info, decoded.samples, options))
}

/// Replays samples already in memory (tests, and sources made by the caller).
pub fn from_samples(info: SourceInfo, samples: Vec<f32>, options: ReplayOptions) -> Source {
    let (producer, consumer) = rtrb::RingBuffer::new(ring_capacity(info.sample_rate, options.ring_seconds));
    let status = SourceStatus::new();
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = Feeder {
        samples,
        producer,
        status: status.clone(),
        stop: stop.clone(),
        block: (info.sample_rate as usize / 100).max(1),
        rate: info.sample_rate,
        options,
    };
    let handle = std::thread::Builder::new().name("auscult-replay".into()).spawn(move || feeder.run()).ok();
    if handle.is_none() {
        status.set_state(SourceState::Failed);
    }
    Source::new(info, consumer, status, Producer::Thread(ReplayThread { stop, handle }))
}

struct Feeder {
    samples: Vec<f32>,
    producer: rtrb::Producer<f32>,
    status: Arc<SourceStatus>,
    stop: Arc<AtomicBool>,
    block: usize,
    rate: u32,
    options: ReplayOptions,
}

impl Feeder {
    fn run(mut self) {
        let started = Instant::now();
        let mut sent: u64 = 0;
        let mut pos = 0usize;
        while !self.stop.load(Ordering::Relaxed) {
            if pos == self.samples.len() {
                if self.options.looped && !self.samples.is_empty() {
                    pos = 0;
                } else {
                    self.status.set_state(SourceState::Finished);
                    return;
                }
            }
            let end = (pos + self.block).min(self.samples.len());
            match self.options.pace {
                Pace::RealTime => {
                    // Absolute schedule, so sleep jitter does not accumulate.
                    let due = started + Duration::from_secs_f64(sent as f64 / f64::from(self.rate));
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let dropped = push_some(&mut self.producer, &self.samples[pos..end]);
                    self.status.add((end - pos) as u64, dropped as u64);
                    sent += (end - pos) as u64;
                    pos = end;
                }
                Pace::Fast => {
                    let pushed = end - pos - push_some(&mut self.producer, &self.samples[pos..end]);
                    self.status.add(pushed as u64, 0);
                    pos += pushed;
                    if pushed == 0 {
                        if self.producer.is_abandoned() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
        }
    }
}

/// Pushes what fits; returns how many samples did not.
fn push_some(producer: &mut rtrb::Producer<f32>, samples: &[f32]) -> usize {
    let n = producer.slots().min(samples.len());
    if n > 0 {
        if let Ok(mut chunk) = producer.write_chunk(n) {
            let (a, b) = chunk.as_mut_slices();
            let split = a.len();
            a.copy_from_slice(&samples[..split]);
            b.copy_from_slice(&samples[split..n]);
            chunk.commit_all();
        } else {
            return samples.len();
        }
    }
    samples.len() - n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(rate: u32) -> SourceInfo {
        SourceInfo { kind: SourceKind::Replay, name: "test".into(), sample_rate: rate, channels: 1, format: String::new() }
    }

    #[test]
    fn fast_replay_delivers_every_sample_in_order_through_a_small_ring() {
        let samples: Vec<f32> = (0..50_000).map(|i| i as f32).collect();
        let options = ReplayOptions { pace: Pace::Fast, looped: false, ring_seconds: 0.0 };
        let mut source = from_samples(info(4000), samples.clone(), options);
        let mut got = Vec::new();
        let mut buf = [0.0f32; 333];
        while !source.exhausted() {
            let n = source.read(&mut buf);
            got.extend_from_slice(&buf[..n]);
            if n == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        assert_eq!(got, samples);
        assert_eq!(source.status.overruns(), 0);
        assert_eq!(source.status.state(), SourceState::Finished);
    }

    #[test]
    fn real_time_replay_counts_what_a_stalled_reader_misses() {
        // 0.5 s of audio into a ring that holds 4096 samples, never read:
        // everything past the ring's capacity is an overrun, and counted.
        let samples = vec![0.25f32; 8000];
        let options = ReplayOptions { pace: Pace::RealTime, looped: false, ring_seconds: 0.0 };
        let source = from_samples(info(16_000), samples, options);
        let deadline = Instant::now() + Duration::from_secs(10);
        while source.status.state() == SourceState::Running && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(source.status.state(), SourceState::Finished);
        assert_eq!(source.status.frames(), 8000);
        assert_eq!(source.status.overruns(), 8000 - 4096);
    }
}
