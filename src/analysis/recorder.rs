//! The recorder thread: the only reader of the input. It writes the session
//! (when one is open) and then hands the same samples to the analysis
//! thread through a second ring.
//!
//! Why a thread of its own: plugins run in the analysis thread, and a plugin
//! can be slow (a sleep past the block deadline, a CPU-hungry denoiser on a
//! slow box). Were the recording written from there, a stalled chain would
//! let the capture ring overflow and lose input. Here nothing waits on a
//! plugin: when analysis falls behind, the analysis ring fills and the
//! frames it cannot take are skipped *for analysis only* (and counted); the
//! recording keeps every frame the device delivered.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use super::Update;
use crate::audio::session::{CycleClass, SessionMeta, SessionWriter};
use crate::audio::{Source, SourceInfo, SourceState, SourceStatus};

/// What the analysis thread asks of the recorder.
#[derive(Debug)]
pub enum RecorderCommand {
    Start { out: PathBuf, meta: Box<SessionMeta>, location: Option<String> },
    Stop,
    MarkLocation(String),
    /// A cycle the chain found, in seconds on the input timeline.
    AddCycle { start_s: f64, end_s: f64 },
    /// Label the cycle that contains (or last ended before) `at_s`.
    Label { at_s: f64, label: CycleClass },
    /// Close the session (if any) and end the thread.
    Quit,
}

/// Counters the other threads read.
#[derive(Debug, Default)]
pub struct RecorderStatus {
    recording: AtomicBool,
    recorded_frames: AtomicU64,
    /// Frames the analysis ring had no room for (recorded all the same).
    skipped: AtomicU64,
    /// Set once the input has ended and every frame has been handed on.
    ended: AtomicBool,
    /// The device's overrun count when the session opened.
    overruns_at_start: AtomicU64,
}

impl RecorderStatus {
    /// Frames in the open session, if one is open.
    pub fn recording(&self) -> Option<u64> {
        self.recording.load(Ordering::Acquire).then(|| self.recorded_frames.load(Ordering::Relaxed))
    }
    /// Frames written to the last session opened.
    pub fn recorded_frames(&self) -> u64 {
        self.recorded_frames.load(Ordering::Relaxed)
    }
    /// Frames analysis skipped because it fell behind.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

/// The analysis thread's end: samples as the recorder saw them.
pub struct AnalysisInput {
    pub info: SourceInfo,
    /// The device's own counters (overruns, xruns, state).
    pub source: Arc<SourceStatus>,
    pub recorder: Arc<RecorderStatus>,
    samples: rtrb::Consumer<f32>,
}

impl AnalysisInput {
    /// Reads up to `out.len()` frames; 0 when none are waiting.
    pub fn read(&mut self, out: &mut [f32]) -> usize {
        crate::audio::source::read_ring(&mut self.samples, out)
    }

    /// The input has ended and every frame has been read.
    pub fn exhausted(&self) -> bool {
        self.recorder.ended.load(Ordering::Acquire) && self.samples.is_empty()
    }
}

/// A running recorder thread.
pub struct Recorder {
    pub commands: Sender<RecorderCommand>,
    handle: Option<JoinHandle<()>>,
}

impl Recorder {
    /// Closes the session and waits for the thread.
    pub fn quit(self) {
        drop(self);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.commands.send(RecorderCommand::Quit);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// How a recorder runs.
pub struct RecorderOptions {
    /// A session to write from the first frame (`auscult record`); the TUI
    /// opens sessions later with [`RecorderCommand::Start`].
    pub session: Option<SessionWriter>,
    /// Stop reading after this many frames, as if the input had ended.
    pub stop_after: Option<u64>,
    /// Close the session when the input ends (the TUI), or leave it open
    /// for the cycles analysis has still to find, until `Quit` (`record`).
    pub close_at_end: bool,
    /// When analysis falls behind, wait for it instead of skipping. Only
    /// for a file, which loses nothing by waiting; a live device would.
    pub wait_for_analysis: bool,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions { session: None, stop_after: None, close_at_end: true, wait_for_analysis: false }
    }
}

/// Seconds of audio the analysis ring holds before it skips.
const ANALYSIS_RING_S: f32 = 30.0;
const BLOCK: usize = 1024;

/// Starts the recorder on `source`; it tells the UI about sessions through
/// `updates`.
pub fn spawn(source: Source, updates: Sender<Update>, options: RecorderOptions) -> std::io::Result<(Recorder, AnalysisInput)> {
    let rate = source.info.sample_rate;
    let (producer, consumer) = rtrb::RingBuffer::new(((rate as f32 * ANALYSIS_RING_S) as usize).max(BLOCK));
    let status = Arc::new(RecorderStatus::default());
    let input = AnalysisInput { info: source.info.clone(), source: source.status.clone(), recorder: status.clone(), samples: consumer };
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = std::thread::Builder::new()
        .name("auscult-recorder".into())
        .spawn(move || run(source, producer, status, rx, updates, options))?;
    Ok((Recorder { commands: tx, handle: Some(handle) }, input))
}

fn run(
    mut source: Source,
    mut analysis: rtrb::Producer<f32>,
    status: Arc<RecorderStatus>,
    commands: Receiver<RecorderCommand>,
    updates: Sender<Update>,
    options: RecorderOptions,
) {
    let say = |text: String| {
        let _ = updates.send(Update::Message(text));
    };
    let overruns = source.status.clone();
    let mut session = options.session;
    if session.is_some() {
        status.recording.store(true, Ordering::Release);
    }
    let mut block = vec![0.0f32; BLOCK];
    let mut read: u64 = 0;
    loop {
        loop {
            match commands.try_recv() {
                Ok(RecorderCommand::Quit) | Err(TryRecvError::Disconnected) => {
                    close(&mut session, &status, &updates, &overruns, None);
                    return;
                }
                Ok(command) => apply(command, &mut session, &status, &updates, &overruns),
                Err(TryRecvError::Empty) => break,
            }
        }
        let want = options.stop_after.map_or(BLOCK, |t| (t - read).min(BLOCK as u64) as usize);
        if want == 0 {
            break;
        }
        let n = source.read(&mut block[..want]);
        read += n as u64;
        if n == 0 {
            if source.exhausted() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        if let Some(s) = session.as_mut() {
            match s.write(&block[..n]) {
                Ok(()) => status.recorded_frames.store(s.frames(), Ordering::Relaxed),
                Err(e) => {
                    say(format!("recording stopped: {e}"));
                    close(&mut session, &status, &updates, &overruns, Some(e.to_string()));
                }
            }
        }
        let mut sent = push(&mut analysis, &block[..n]);
        while options.wait_for_analysis && sent < n && !analysis.is_abandoned() {
            std::thread::sleep(Duration::from_millis(1));
            sent += push(&mut analysis, &block[sent..n]);
        }
        if sent < n {
            status.skipped.fetch_add((n - sent) as u64, Ordering::Relaxed);
        }
    }

    // The input ended: say why, close the session (or leave it to `Quit`),
    // then keep answering (a cycle analysis found last, a label, a stop).
    let state = source.status.state();
    let why = match state {
        SourceState::Finished | SourceState::Running => "end of the input".to_string(),
        state => format!("input lost ({state:?})").to_lowercase(),
    };
    let interrupted = matches!(state, SourceState::Disconnected | SourceState::Failed).then(|| why.clone());
    // Stop the device now: nothing reads it any more, and overruns counted
    // after the end would be charged to the session.
    let name = source.info.name.clone();
    drop(source);
    if options.close_at_end {
        close(&mut session, &status, &updates, &overruns, interrupted.clone());
    }
    let _ = updates.send(Update::InputEnded(format!("{name}: {why}")));
    status.ended.store(true, Ordering::Release);
    loop {
        match commands.recv_timeout(Duration::from_secs(1)) {
            Ok(RecorderCommand::Quit) | Err(RecvTimeoutError::Disconnected) => {
                close(&mut session, &status, &updates, &overruns, interrupted);
                return;
            }
            Ok(RecorderCommand::Start { .. }) => say("the input has ended: nothing to record".into()),
            Ok(command) => apply(command, &mut session, &status, &updates, &overruns),
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Pushes what fits of `samples` into the ring; returns how many did.
fn push(ring: &mut rtrb::Producer<f32>, samples: &[f32]) -> usize {
    let room = ring.slots().min(samples.len());
    let Ok(mut chunk) = ring.write_chunk_uninit(room) else { return 0 };
    let (a, b) = chunk.as_mut_slices();
    let (head, tail) = samples[..room].split_at(a.len());
    for (dst, &x) in a.iter_mut().zip(head) {
        dst.write(x);
    }
    for (dst, &x) in b.iter_mut().zip(tail) {
        dst.write(x);
    }
    // SAFETY: every slot of the chunk was written just above.
    unsafe { chunk.commit_all() };
    room
}

fn apply(
    command: RecorderCommand,
    session: &mut Option<SessionWriter>,
    status: &RecorderStatus,
    updates: &Sender<Update>,
    source: &SourceStatus,
) {
    let say = |text: String| {
        let _ = updates.send(Update::Message(text));
    };
    match command {
        RecorderCommand::Start { out, meta, location } => {
            if session.is_some() {
                return;
            }
            match SessionWriter::create(&out, *meta) {
                Ok(mut writer) => {
                    if let Some(location) = location {
                        if let Err(e) = writer.mark_location(&location) {
                            say(format!("location not saved: {e}"));
                        }
                    }
                    let _ = updates.send(Update::RecordingStarted(writer.dir().to_path_buf()));
                    status.recorded_frames.store(0, Ordering::Relaxed);
                    status.overruns_at_start.store(source.overruns(), Ordering::Relaxed);
                    status.recording.store(true, Ordering::Release);
                    *session = Some(writer);
                }
                Err(e) => say(format!("cannot record: {e}")),
            }
        }
        RecorderCommand::Stop => close(session, status, updates, source, None),
        RecorderCommand::MarkLocation(location) => {
            if let Some(s) = session.as_mut() {
                if let Err(e) = s.mark_location(&location) {
                    say(format!("location not saved: {e}"));
                }
            }
        }
        RecorderCommand::AddCycle { start_s, end_s } => {
            if let Some(s) = session.as_mut() {
                if let Err(e) = s.add_cycle(start_s, end_s) {
                    say(format!("annotation not saved: {e}"));
                }
            }
        }
        RecorderCommand::Label { at_s, label } => match session.as_mut() {
            Some(s) => match s.label_cycle(at_s, label) {
                Ok(Some(c)) => {
                    let _ = updates.send(Update::Labelled { start_s: c.start_s, end_s: c.end_s, label });
                }
                Ok(None) => say("no cycle to label yet".into()),
                Err(e) => say(format!("label not saved: {e}")),
            },
            None => say("labels are saved with a recording: press r first".into()),
        },
        RecorderCommand::Quit => {}
    }
}

fn close(
    session: &mut Option<SessionWriter>,
    status: &RecorderStatus,
    updates: &Sender<Update>,
    source: &SourceStatus,
    interrupted: Option<String>,
) {
    let Some(mut s) = session.take() else { return };
    s.set_overruns(source.overruns() - status.overruns_at_start.load(Ordering::Relaxed));
    status.recording.store(false, Ordering::Release);
    let seconds = s.seconds();
    match s.finish(interrupted) {
        Ok(dir) => {
            let _ = updates.send(Update::RecordingSaved { dir, seconds });
        }
        Err(e) => {
            let _ = updates.send(Update::Message(format!("recording not closed cleanly: {e}")));
        }
    }
}
