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
//!
//! Two clocks meet here, and this module keeps them apart: the *input*
//! clock counts every frame the source delivered since it opened, and a
//! session's clock counts frames into its `audio.wav`. The analysis thread
//! speaks in input frames (it may have skipped some: [`AnalysisInput::input_frame`]
//! maps its own sample indices back); the recorder knows the input frame at
//! which each session began and writes every time as seconds into the
//! session's audio. A cycle that began before the session did is not whole
//! in `audio.wav` and is left out of `annotations.txt`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use super::Update;
use crate::audio::session::{CycleClass, LabelOutcome, SessionMeta, SessionWriter};
use crate::audio::{Source, SourceInfo, SourceState, SourceStatus};

/// What the analysis thread asks of the recorder.
#[derive(Debug)]
pub enum RecorderCommand {
    Start {
        out: PathBuf,
        meta: Box<SessionMeta>,
        location: Option<String>,
    },
    Stop,
    MarkLocation(String),
    /// A cycle the chain found: its number from the start of the input,
    /// and its first and end input frames.
    AddCycle {
        number: u64,
        start: u64,
        end: u64,
    },
    /// Label the cycle heard at input frame `at`.
    Label {
        at: u64,
        label: CycleClass,
    },
    /// The chain after a live edit made at input frame `at`: what changed,
    /// and the whole chain as a chain file.
    ChainChanged {
        at: u64,
        change: String,
        chain: String,
    },
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

/// Input frames the analysis ring had no room for: `count` of them went
/// missing just before analysis sample `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Skip {
    at: u64,
    count: u64,
}

/// The analysis thread's end: samples as the recorder saw them.
pub struct AnalysisInput {
    pub info: SourceInfo,
    /// The device's own counters (overruns, xruns, state).
    pub source: Arc<SourceStatus>,
    pub recorder: Arc<RecorderStatus>,
    samples: rtrb::Consumer<f32>,
    skips: Receiver<Skip>,
    gaps: Gaps,
}

impl AnalysisInput {
    /// Reads up to `out.len()` frames; 0 when none are waiting.
    pub fn read(&mut self, out: &mut [f32]) -> usize {
        crate::audio::source::read_ring(&mut self.samples, out)
    }

    /// The input frame that analysis sample `sample` is: the same index
    /// unless analysis fell behind and frames were skipped before it.
    pub fn input_frame(&mut self, sample: u64) -> u64 {
        // A skip is sent before the samples after it enter the ring, so
        // every skip before a sample already read is here.
        for skip in self.skips.try_iter() {
            self.gaps.push(skip);
        }
        self.gaps.input_frame(sample)
    }

    /// The input has ended and every frame has been read.
    pub fn exhausted(&self) -> bool {
        self.recorder.ended.load(Ordering::Acquire) && self.samples.is_empty()
    }
}

/// Where the analysis stream has gaps: (analysis sample, input frames
/// skipped before it in all), oldest first.
#[derive(Debug, Default)]
struct Gaps {
    marks: VecDeque<(u64, u64)>,
    /// Frames skipped before the first mark kept.
    base: u64,
}

impl Gaps {
    /// Marks kept; events refer back seconds, not thousands of stalls.
    const KEEP: usize = 4096;

    fn push(&mut self, skip: Skip) {
        let total = self.marks.back().map_or(self.base, |&(_, t)| t) + skip.count;
        match self.marks.back_mut() {
            Some(last) if last.0 == skip.at => last.1 = total,
            _ => self.marks.push_back((skip.at, total)),
        }
        if self.marks.len() > Self::KEEP {
            let (_, t) = self.marks.pop_front().expect("over KEEP marks");
            self.base = t;
        }
    }

    fn input_frame(&self, sample: u64) -> u64 {
        let before = self.marks.partition_point(|&(at, _)| at <= sample);
        let skipped = if before == 0 { self.base } else { self.marks[before - 1].1 };
        sample + skipped
    }
}

/// The open session and where it sits on the input clock.
struct OpenSession {
    writer: SessionWriter,
    /// Input frame of the first frame in `audio.wav`.
    origin: u64,
    /// Each written cycle's start (seconds into the audio) and number.
    numbers: Vec<(f64, u64)>,
}

impl OpenSession {
    /// Seconds into `audio.wav` of input frame `frame`; `None` before it.
    fn seconds(&self, frame: u64) -> Option<f64> {
        let into = frame.checked_sub(self.origin)?;
        Some(into as f64 / f64::from(self.writer.meta().sample_rate))
    }

    fn number(&self, start_s: f64) -> u64 {
        self.numbers.iter().rev().find(|(s, _)| *s == start_s).map_or(0, |&(_, n)| n)
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
    let (skips_tx, skips) = crossbeam_channel::unbounded();
    let input =
        AnalysisInput { info: source.info.clone(), source: source.status.clone(), recorder: status.clone(), samples: consumer, skips, gaps: Gaps::default() };
    let (tx, rx) = crossbeam_channel::unbounded();
    let ends = Ends { analysis: producer, skips: skips_tx, status, commands: rx, updates };
    let handle = std::thread::Builder::new().name("auscult-recorder".into()).spawn(move || run(source, ends, options))?;
    Ok((Recorder { commands: tx, handle: Some(handle) }, input))
}

/// The recorder thread's ends of its rings and channels.
struct Ends {
    analysis: rtrb::Producer<f32>,
    skips: Sender<Skip>,
    status: Arc<RecorderStatus>,
    commands: Receiver<RecorderCommand>,
    updates: Sender<Update>,
}

fn run(mut source: Source, ends: Ends, options: RecorderOptions) {
    let Ends { mut analysis, skips, status, commands, updates } = ends;
    let say = |text: String| {
        let _ = updates.send(Update::Message(text));
    };
    let overruns = source.status.clone();
    // `record` opens its session before the first frame: origin 0.
    let mut session = options.session.map(|writer| OpenSession { writer, origin: 0, numbers: Vec::new() });
    if session.is_some() {
        status.recording.store(true, Ordering::Release);
    }
    let mut block = vec![0.0f32; BLOCK];
    // Input frames read, and frames handed to analysis.
    let (mut read, mut handed): (u64, u64) = (0, 0);
    loop {
        loop {
            match commands.try_recv() {
                Ok(RecorderCommand::Quit) | Err(TryRecvError::Disconnected) => {
                    close(&mut session, &status, &updates, &overruns, None);
                    return;
                }
                Ok(command) => apply(command, &mut session, read, &status, &updates, &overruns),
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
            match s.writer.write(&block[..n]) {
                Ok(()) => status.recorded_frames.store(s.writer.frames(), Ordering::Relaxed),
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
        handed += sent as u64;
        if sent < n {
            let _ = skips.send(Skip { at: handed, count: (n - sent) as u64 });
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
            Ok(command) => apply(command, &mut session, read, &status, &updates, &overruns),
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

fn apply(command: RecorderCommand, session: &mut Option<OpenSession>, read: u64, status: &RecorderStatus, updates: &Sender<Update>, source: &SourceStatus) {
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
                    // The next frame read is the session's first.
                    *session = Some(OpenSession { writer, origin: read, numbers: Vec::new() });
                }
                Err(e) => say(format!("cannot record: {e}")),
            }
        }
        RecorderCommand::Stop => close(session, status, updates, source, None),
        RecorderCommand::MarkLocation(location) => {
            if let Some(s) = session.as_mut() {
                if let Err(e) = s.writer.mark_location(&location) {
                    say(format!("location not saved: {e}"));
                }
            }
        }
        RecorderCommand::AddCycle { number, start, end } => {
            let Some(s) = session.as_mut() else { return };
            // Only whole cycles inside the audio: one that began before the
            // session is left out (so is a label waiting for it).
            let (Some(start_s), Some(end_s)) = (s.seconds(start), s.seconds(end)) else {
                if let Some(outcome) = s.seconds(end).and_then(|end_s| s.writer.cycle_left_out(end_s)) {
                    report_label(outcome, s, updates);
                }
                return;
            };
            if end - s.origin > s.writer.frames() {
                return;
            }
            s.numbers.push((start_s, number));
            match s.writer.add_cycle(start_s, end_s) {
                Ok(Some(outcome)) => report_label(outcome, s, updates),
                Ok(None) => {}
                Err(e) => say(format!("annotation not saved: {e}")),
            }
        }
        RecorderCommand::Label { at, label } => match session.as_mut() {
            Some(s) => match s.seconds(at) {
                Some(at_s) => match s.writer.label_at(at_s, label) {
                    Ok(outcome) => report_label(outcome, s, updates),
                    Err(e) => say(format!("label not saved: {e}")),
                },
                None => say("label not saved: that cycle began before the recording".into()),
            },
            None => say("labels are saved with a recording: press r first".into()),
        },
        RecorderCommand::ChainChanged { at, change, chain } => {
            let Some(s) = session.as_mut() else { return };
            let at_s = s.seconds(at).unwrap_or(0.0);
            if let Err(e) = s.writer.chain_changed(at_s, &change, &chain) {
                say(format!("chain change not saved: {e}"));
            }
        }
        RecorderCommand::Quit => {}
    }
}

fn report_label(outcome: LabelOutcome, session: &OpenSession, updates: &Sender<Update>) {
    let update = match outcome {
        LabelOutcome::Labelled(c) => {
            Update::Labelled { number: session.number(c.start_s), start_s: c.start_s, end_s: c.end_s, label: CycleClass::from_flags(c.crackles, c.wheezes) }
        }
        LabelOutcome::Pending => Update::Message("label waits for the end of the cycle being heard".into()),
        LabelOutcome::Lost => Update::Message("label not saved: that cycle began before the recording".into()),
    };
    let _ = updates.send(update);
}

fn close(session: &mut Option<OpenSession>, status: &RecorderStatus, updates: &Sender<Update>, source: &SourceStatus, interrupted: Option<String>) {
    let Some(OpenSession { writer: mut s, .. }) = session.take() else { return };
    if s.pending_label().is_some() {
        let _ = updates.send(Update::Message("label not saved: its cycle had not ended when the recording stopped".into()));
    }
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
