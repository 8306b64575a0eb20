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
}

impl RecorderStatus {
    /// Frames in the open session, if one is open.
    pub fn recording(&self) -> Option<u64> {
        self.recording.load(Ordering::Acquire).then(|| self.recorded_frames.load(Ordering::Relaxed))
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
        let n = self.samples.slots().min(out.len());
        let Ok(chunk) = self.samples.read_chunk(n) else { return 0 };
        let (a, b) = chunk.as_slices();
        out[..a.len()].copy_from_slice(a);
        out[a.len()..a.len() + b.len()].copy_from_slice(b);
        chunk.commit_all();
        n
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
    pub fn quit(mut self) {
        let _ = self.commands.send(RecorderCommand::Quit);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
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

/// Seconds of audio the analysis ring holds before it skips.
const ANALYSIS_RING_S: f32 = 30.0;
const BLOCK: usize = 1024;

/// Starts the recorder on `source`; it tells the UI about sessions through
/// `updates`.
pub fn spawn(source: Source, updates: Sender<Update>) -> std::io::Result<(Recorder, AnalysisInput)> {
    let rate = source.info.sample_rate;
    let (producer, consumer) = rtrb::RingBuffer::new(((rate as f32 * ANALYSIS_RING_S) as usize).max(BLOCK));
    let status = Arc::new(RecorderStatus::default());
    let input = AnalysisInput { info: source.info.clone(), source: source.status.clone(), recorder: status.clone(), samples: consumer };
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = std::thread::Builder::new()
        .name("auscult-recorder".into())
        .spawn(move || run(source, producer, status, rx, updates))?;
    Ok((Recorder { commands: tx, handle: Some(handle) }, input))
}

fn run(
    mut source: Source,
    mut analysis: rtrb::Producer<f32>,
    status: Arc<RecorderStatus>,
    commands: Receiver<RecorderCommand>,
    updates: Sender<Update>,
) {
    let say = |text: String| {
        let _ = updates.send(Update::Message(text));
    };
    let mut session: Option<SessionWriter> = None;
    let mut block = vec![0.0f32; BLOCK];
    loop {
        loop {
            match commands.try_recv() {
                Ok(RecorderCommand::Quit) | Err(TryRecvError::Disconnected) => {
                    close(&mut session, &status, &updates, None);
                    return;
                }
                Ok(command) => apply(command, &mut session, &status, &updates),
                Err(TryRecvError::Empty) => break,
            }
        }
        let n = source.read(&mut block);
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
                    close(&mut session, &status, &updates, Some(e.to_string()));
                }
            }
        }
        let room = analysis.slots().min(n);
        if let Ok(mut chunk) = analysis.write_chunk_uninit(room) {
            let (a, b) = chunk.as_mut_slices();
            let (head, tail) = block[..room].split_at(a.len());
            for (dst, &x) in a.iter_mut().zip(head) {
                dst.write(x);
            }
            for (dst, &x) in b.iter_mut().zip(tail) {
                dst.write(x);
            }
            // SAFETY: every slot of the chunk was written just above.
            unsafe { chunk.commit_all() };
        }
        if room < n {
            status.skipped.fetch_add((n - room) as u64, Ordering::Relaxed);
        }
    }

    // The input ended: close the session saying why, then keep answering
    // (a label for the last cycle, a stop) until told to quit.
    let why = match source.status.state() {
        SourceState::Finished => "end of the file".to_string(),
        state => format!("input lost ({state:?})").to_lowercase(),
    };
    let interrupted = (source.status.state() != SourceState::Finished).then(|| why.clone());
    close(&mut session, &status, &updates, interrupted);
    say(format!("{}: {why}", source.info.name));
    status.ended.store(true, Ordering::Release);
    loop {
        match commands.recv_timeout(Duration::from_secs(1)) {
            Ok(RecorderCommand::Quit) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(RecorderCommand::Start { .. }) => say("the input has ended: nothing to record".into()),
            Ok(command) => apply(command, &mut session, &status, &updates),
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

fn apply(command: RecorderCommand, session: &mut Option<SessionWriter>, status: &RecorderStatus, updates: &Sender<Update>) {
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
                    status.recording.store(true, Ordering::Release);
                    *session = Some(writer);
                }
                Err(e) => say(format!("cannot record: {e}")),
            }
        }
        RecorderCommand::Stop => close(session, status, updates, None),
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

fn close(session: &mut Option<SessionWriter>, status: &RecorderStatus, updates: &Sender<Update>, interrupted: Option<String>) {
    let Some(s) = session.take() else { return };
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
