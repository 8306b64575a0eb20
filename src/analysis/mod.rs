//! The analysis thread: source -> plugin chain -> mel -> UI, and recording.
//!
//! The [`recorder`] thread reads the input and writes the session; this
//! thread owns the chain, the mel extractor and the model, fed by the
//! recorder through a ring. The UI sends [`Command`]s and receives
//! [`Update`]s over channels; no state is shared under a lock. The raw input
//! is recorded before the chain sees it, by a thread that never waits on a
//! plugin, so a plugin that faults or stalls can never damage a recording.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

pub mod recorder;

use recorder::{AnalysisInput, RecorderCommand};

use crate::audio::session::{CycleClass, SessionMeta};
use crate::audio::{Source, SourceState};
use crate::dsp::extractor::{MelConfig, StreamingMel};
use crate::host::{Chain, ChainEvent, CycleTracker, EventKind};
use crate::model::live::{LiveModel, LivePrediction};

/// What the UI asks of the analysis thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SetBypass {
        slot: usize,
        bypass: bool,
    },
    MoveSlot {
        from: usize,
        to: usize,
    },
    /// Set a parameter to `value` (plain units).
    SetParam {
        slot: usize,
        id: u32,
        value: f64,
    },
    ClearFault {
        slot: usize,
    },
    StartRecording {
        out: PathBuf,
        location: Option<String>,
    },
    StopRecording,
    MarkLocation(String),
    /// Label the current cycle.
    Label(CycleClass),
    Quit,
}

/// A plugin as the UI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotView {
    pub name: String,
    pub bypassed: bool,
    pub fault: Option<String>,
    pub latency: u32,
    /// CPU time as a fraction of real time.
    pub load: f64,
    /// Blocks that took longer than their audio lasts.
    pub late_blocks: u64,
    /// Fresh instances after faults.
    pub restarts: u64,
    pub params: Vec<ParamView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamView {
    pub id: u32,
    pub name: String,
    pub unit: String,
    pub value: f64,
    pub min: f64,
    pub max: f64,
    pub scale: auscult_plugin_api::ParamScale,
}

/// Counters of the source and the recording.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Status {
    pub seconds: f64,
    pub overruns: u64,
    pub xruns: u64,
    /// Frames analysis skipped because it fell behind (all recorded).
    pub skipped: u64,
    /// Seconds recorded, while recording.
    pub recording: Option<f64>,
    pub source_state: Option<String>,
}

/// What the analysis thread tells the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// Mel frames in dB, frame-major, `n_mels` each; hop = `mel_hop_s`.
    Mel(Vec<f32>),
    /// Peak |x| of the chain's output per 10 ms.
    Envelope(Vec<f32>),
    /// A breath cycle, numbered from the start of the input (1, 2, ...),
    /// in seconds of analysed audio (the clock of `Envelope` and `Mel`).
    Cycle {
        number: u64,
        start_s: f64,
        end_s: f64,
    },
    /// A heart beat, numbered from the start of the input: S1 time and the
    /// heart rate the segmenter measured.
    Beat {
        number: u64,
        s1_s: f64,
        bpm: f32,
    },
    Chain(Vec<SlotView>),
    Status(Status),
    RecordingStarted(PathBuf),
    RecordingSaved {
        dir: PathBuf,
        seconds: f64,
    },
    /// Cycle `number` was labelled; its times are seconds into the
    /// session's `audio.wav`, as saved.
    Labelled {
        number: u64,
        start_s: f64,
        end_s: f64,
        label: CycleClass,
    },
    /// A model's verdict on a cycle or a window, class probabilities.
    Prediction {
        scored: Scored,
        start_s: f64,
        end_s: f64,
        probabilities: Vec<f32>,
    },
    /// A notice or error for the status line.
    Message(String),
    /// The input has ended, and why.
    InputEnded(String),
    /// The analysis thread has stopped (it panicked): the UI ends.
    Fatal(String),
}

/// What a prediction is about, numbered from the start of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scored {
    Cycle(u64),
    /// A fixed window (models of whole recordings).
    Window(u64),
}

/// Settings of the analysis.
#[derive(Debug, Clone)]
pub struct AnalysisConfig {
    pub n_mels: usize,
    pub fmin: f64,
    pub fmax: f64,
    /// Chain and model recorded into session metadata.
    pub chain_file: Option<String>,
    pub chain_text: Option<String>,
    pub model: Option<String>,
}

impl AnalysisConfig {
    /// The mel settings for a source rate: ~64 ms windows, 10 ms hop.
    pub fn mel(&self, rate: u32) -> MelConfig {
        let n_fft = ((f64::from(rate) * 0.064) as usize).next_power_of_two().max(64);
        MelConfig {
            sample_rate: rate,
            n_fft,
            hop: (rate as usize / 100).max(1),
            n_mels: self.n_mels,
            fmin: self.fmin,
            fmax: Some(self.fmax.min(f64::from(rate) / 2.0)),
            ..MelConfig::default()
        }
    }
}

pub const ENVELOPE_HOP_S: f64 = 0.01;
const BLOCK: usize = 512;

/// Runs until [`Command::Quit`] or the UI hangs up. Starts the recorder
/// thread on `source` and joins it before returning, so that a session open
/// at quit is closed by then.
pub fn run(source: Source, mut chain: Chain, mut model: Option<LiveModel>, config: AnalysisConfig, commands: Receiver<Command>, updates: Sender<Update>) {
    let (recorder, mut input) = match recorder::spawn(source, updates.clone(), recorder::RecorderOptions::default()) {
        Ok(started) => started,
        Err(e) => {
            let _ = updates.send(Update::Message(format!("cannot start the recorder thread: {e}")));
            return;
        }
    };
    let rate = input.info.sample_rate;
    let r = f64::from(rate);
    let mut mel = match StreamingMel::new(config.mel(rate)) {
        Ok(mel) => Some(mel),
        Err(e) => {
            let _ = updates.send(Update::Message(format!("spectrogram off: {e}")));
            None
        }
    };
    let env_hop = ((r * ENVELOPE_HOP_S) as usize).max(1);
    let mut block = vec![0.0f32; BLOCK];
    let mut output = vec![0.0f32; BLOCK];
    let mut events: Vec<ChainEvent> = Vec::new();
    let mut mel_out: Vec<f32> = Vec::new();
    let mut envelope: Vec<f32> = Vec::new();
    let (mut env_peak, mut env_count) = (0.0f32, 0usize);
    let (mut step, mut found) = (ChainStep::default(), Vec::new());
    // Beats and windows so far (cycles: `step`), each numbered from the input's start.
    let (mut beat_count, mut window_count) = (0u64, 0u64);
    let mut processed: u64 = 0;
    // Whether the input has ended and the chain been told.
    let mut ended = false;
    // Whether the chain has been edited since it was loaded.
    let mut chain_edited = false;
    // Fault injection for the end-to-end tests: a panic after this many
    // seconds of audio (`AUSCULT_FAILPOINT=analysis-panic-after-s=S`).
    let panic_at = failpoint("analysis-panic-after-s").map(|s| (s * r) as u64);
    let mut last_report = Instant::now() - Duration::from_secs(1);
    let to_recorder = |command: RecorderCommand| {
        let _ = recorder.commands.send(command);
    };

    loop {
        loop {
            match commands.try_recv() {
                Ok(Command::Quit) | Err(TryRecvError::Disconnected) => {
                    recorder.quit();
                    return;
                }
                Ok(command) => apply(command, &mut chain, &mut input, &config, processed, &mut chain_edited, &updates, &to_recorder),
                Err(TryRecvError::Empty) => break,
            }
        }
        let n = input.read(&mut block);
        if n == 0 && input.exhausted() && !ended {
            // A file replayed to its end: what the chain held back for
            // later audio (heart mode's last second of beats) comes now.
            ended = true;
            step.finish(&mut chain, &mut events, &mut input, &to_recorder, &mut found);
            for e in events.iter().filter(|e| e.kind == EventKind::S1) {
                beat_count += 1;
                let _ = updates.send(Update::Beat { number: beat_count, s1_s: e.sample as f64 / r, bpm: e.value });
            }
            for &FoundCycle { number, start, end } in &found {
                let _ = updates.send(Update::Cycle { number, start_s: start as f64 / r, end_s: end as f64 / r });
            }
        }
        if n == 0 {
            std::thread::sleep(Duration::from_millis(if input.exhausted() { 20 } else { 5 }));
        } else {
            step.run(&mut chain, (&block[..n], &mut output[..n]), &mut events, &mut input, &to_recorder, &mut found);
            processed += n as u64;
            // The failpoint's whole purpose: a panic in this thread, to test
            // that the TUI reports it, restores the terminal and saves.
            #[allow(clippy::panic)]
            if panic_at.is_some_and(|at| processed >= at) {
                panic!("failpoint analysis-panic-after-s reached at {:.1} s", processed as f64 / r);
            }
            let mut predictions: Vec<(Scored, LivePrediction)> = Vec::new();
            if let Some(p) = model.as_mut().and_then(|m| m.push(&block[..n])) {
                window_count += 1;
                predictions.push((Scored::Window(window_count), p));
            }
            for e in events.iter().filter(|e| e.kind == EventKind::S1) {
                beat_count += 1;
                let _ = updates.send(Update::Beat { number: beat_count, s1_s: e.sample as f64 / r, bpm: e.value });
            }
            for &FoundCycle { number, start, end } in &found {
                let _ = updates.send(Update::Cycle { number, start_s: start as f64 / r, end_s: end as f64 / r });
                if let Some(p) = model.as_mut().and_then(|m| m.cycle(start, end)) {
                    predictions.push((Scored::Cycle(number), p));
                }
            }
            for (scored, p) in predictions {
                let _ = updates.send(Update::Prediction { scored, start_s: p.start_s, end_s: p.end_s, probabilities: p.probabilities });
            }
            if let Some(mel) = mel.as_mut() {
                mel_out.clear();
                mel.push(&output[..n], |frame| {
                    mel_out.extend(frame.iter().map(|&p| 10.0 * p.max(1e-10).log10()));
                });
                if !mel_out.is_empty() {
                    let _ = updates.send(Update::Mel(std::mem::take(&mut mel_out)));
                }
            }
            for &x in &output[..n] {
                env_peak = env_peak.max(if x.is_finite() { x.abs() } else { 0.0 });
                env_count += 1;
                if env_count == env_hop {
                    envelope.push(env_peak);
                    (env_peak, env_count) = (0.0, 0);
                }
            }
            if !envelope.is_empty() {
                let _ = updates.send(Update::Envelope(std::mem::take(&mut envelope)));
            }
        }
        if last_report.elapsed() >= Duration::from_millis(200) {
            last_report = Instant::now();
            let _ = updates.send(Update::Chain(slot_views(&mut chain, r)));
            let _ = updates.send(Update::Status(Status {
                seconds: processed as f64 / r,
                overruns: input.source.overruns(),
                xruns: input.source.xruns(),
                skipped: input.recorder.skipped(),
                recording: input.recorder.recording().map(|frames| frames as f64 / r),
                source_state: (input.source.state() != SourceState::Running).then(|| format!("{:?}", input.source.state()).to_lowercase()),
            }));
        }
    }
}

// The loop's state, each piece borrowed apart (the chain and the input
// mutably, the rest shared), rather than one struct that would borrow all.
#[allow(clippy::too_many_arguments)]
fn apply(
    command: Command,
    chain: &mut Chain,
    input: &mut AnalysisInput,
    config: &AnalysisConfig,
    processed: u64,
    chain_edited: &mut bool,
    updates: &Sender<Update>,
    to_recorder: &dyn Fn(RecorderCommand),
) {
    let say = |text: String| {
        let _ = updates.send(Update::Message(text));
    };
    let edited_before = *chain_edited;
    // A live edit is recorded with the chain as it runs from then on.
    let mut edited = |chain: &Chain, input: &mut AnalysisInput, change: String| {
        *chain_edited = true;
        let at = input.input_frame(processed);
        to_recorder(RecorderCommand::ChainChanged { at, change, chain: chain.to_chain_file() });
    };
    let slot_name = |chain: &Chain, slot: usize| chain.slots().get(slot).map_or_else(|| format!("slot {slot}"), |s| s.name.clone());
    match command {
        Command::SetBypass { slot, bypass } => {
            chain.set_bypass(slot, bypass);
            let change = format!("{}: {}", slot_name(chain, slot), if bypass { "bypassed" } else { "enabled" });
            edited(chain, input, change);
        }
        Command::MoveSlot { from, to } => {
            chain.move_slot(from, to);
            let change = format!("{}: moved from position {} to {}", slot_name(chain, to), from + 1, to + 1);
            edited(chain, input, change);
        }
        Command::SetParam { slot, id, value } => {
            let param = chain.slots().get(slot).and_then(|s| s.info().params.iter().find(|p| p.id == id));
            let (name, unit) = param.map_or((format!("#{id}"), String::new()), |p| (p.name.clone(), p.unit.clone()));
            let unit = if unit.is_empty() { unit } else { format!(" {unit}") };
            match chain.set_param_toward(slot, id, value) {
                Ok((set, refusal)) => {
                    if let Some(e) = refusal {
                        say(format!("{name} stopped at its limit, {set:.1}{unit}: {}", e.message));
                    }
                    edited(chain, input, format!("{}: {name} = {set}{unit}", slot_name(chain, slot)));
                }
                Err(e) => say(format!("{name} not set to {value:.1}{unit}: {}", e.message)),
            }
        }
        Command::ClearFault { slot } => {
            if let Err(e) = chain.clear_fault(slot) {
                say(format!("plugin not reset: {e}"));
            }
        }
        Command::StartRecording { out, location } => {
            let mut meta = SessionMeta::new(&input.info.name, input.info.kind.as_str(), input.info.sample_rate);
            meta.chain_file.clone_from(&config.chain_file);
            meta.chain.clone_from(&config.chain_text);
            meta.model.clone_from(&config.model);
            to_recorder(RecorderCommand::Start { out, meta: Box::new(meta), location });
            // Edits made before `r`: the chain that runs differs from the file.
            if edited_before {
                edited(chain, input, "edited before the recording".into());
            }
        }
        Command::StopRecording => to_recorder(RecorderCommand::Stop),
        Command::MarkLocation(location) => to_recorder(RecorderCommand::MarkLocation(location)),
        // The cycle being heard is the one at the analysis position.
        Command::Label(label) => to_recorder(RecorderCommand::Label { at: input.input_frame(processed), label }),
        Command::Quit => {}
    }
}

/// The value of failpoint `name` in `AUSCULT_FAILPOINT` (`name=value`), a
/// fault the tests inject into a real run.
fn failpoint(name: &str) -> Option<f64> {
    let spec = std::env::var("AUSCULT_FAILPOINT").ok()?;
    spec.split(',').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

fn slot_views(chain: &mut Chain, rate: f64) -> Vec<SlotView> {
    let mut views = Vec::with_capacity(chain.len());
    for i in 0..chain.len() {
        let slot = &chain.slots()[i];
        let (name, bypassed, latency) = (slot.name.clone(), slot.bypassed(), slot.latency());
        let fault = slot.fault().map(|f| f.to_string());
        let load = slot.stats().real_time_factor(rate);
        let (late_blocks, restarts) = (slot.stats().late_blocks, slot.stats().restarts);
        let infos = slot.info().params.clone();
        let params = infos
            .into_iter()
            .map(|p| ParamView {
                value: chain.get_param(i, p.id).unwrap_or(p.default),
                id: p.id,
                name: p.name,
                unit: p.unit,
                min: p.min,
                max: p.max,
                scale: p.scale,
            })
            .collect();
        views.push(SlotView { name, bypassed, fault, latency, load, late_blocks, restarts, params });
    }
    views
}
/// A breath cycle the chain closed: its number from the start of the
/// input, and its start and end in analysed frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundCycle {
    pub number: u64,
    pub start: u64,
    pub end: u64,
}

/// One block through the chain, and the cycles it closed: what the TUI's
/// analysis thread and `auscult record` both do with each block they read.
/// Each cycle is numbered and handed to the recorder in input frames (the
/// session's clock); the caller gets it in analysed frames (the display's).
#[derive(Default)]
pub struct ChainStep {
    cycles: CycleTracker,
    count: u64,
}

impl ChainStep {
    /// Runs `block` through `chain` into `output`, its events into `events`
    /// (cleared first), and the cycles they close into `found` (cleared).
    pub fn run(
        &mut self,
        chain: &mut Chain,
        (block, output): (&[f32], &mut [f32]),
        events: &mut Vec<ChainEvent>,
        input: &mut AnalysisInput,
        to_recorder: &dyn Fn(RecorderCommand),
        found: &mut Vec<FoundCycle>,
    ) {
        self.step(chain, |chain, events| chain.process(block, output, events), events, (input, to_recorder, found));
    }

    /// The input has ended: the events the plugins held back for audio
    /// that will not come (`Chain::flush`) into `events`, and the cycles
    /// they close into `found`, both cleared first.
    pub fn finish(
        &mut self,
        chain: &mut Chain,
        events: &mut Vec<ChainEvent>,
        input: &mut AnalysisInput,
        to_recorder: &dyn Fn(RecorderCommand),
        found: &mut Vec<FoundCycle>,
    ) {
        self.step(chain, Chain::flush, events, (input, to_recorder, found));
    }

    /// `events` cleared and filled by `through` (never allocating while the
    /// chain keeps to its per-block share), then the cycles they close.
    fn step(
        &mut self,
        chain: &mut Chain,
        through: impl FnOnce(&mut Chain, &mut Vec<ChainEvent>),
        events: &mut Vec<ChainEvent>,
        (input, to_recorder, found): (&mut AnalysisInput, &dyn Fn(RecorderCommand), &mut Vec<FoundCycle>),
    ) {
        events.clear();
        found.clear();
        events.reserve(chain.len() * crate::host::chain::EVENTS_PER_BLOCK);
        through(chain, events);
        self.close_cycles(events, input, to_recorder, found);
    }

    fn close_cycles(&mut self, events: &[ChainEvent], input: &mut AnalysisInput, to_recorder: &dyn Fn(RecorderCommand), found: &mut Vec<FoundCycle>) {
        for (start, end) in events.iter().filter_map(|e| self.cycles.push(e)) {
            self.count += 1;
            to_recorder(RecorderCommand::AddCycle { number: self.count, start: input.input_frame(start), end: input.input_frame(end) });
            found.push(FoundCycle { number: self.count, start, end });
        }
    }
}
