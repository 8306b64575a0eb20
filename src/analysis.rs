//! The analysis thread: source -> plugin chain -> mel -> UI, and recording.
//!
//! It owns the source's consumer end, the chain and the session writer.
//! The UI sends it [`Command`]s and receives [`Update`]s over channels; no
//! state is shared under a lock. The raw input is recorded before the
//! chain touches it, so a plugin fault can never damage a recording.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::audio::session::{CycleClass, SessionMeta, SessionWriter};
use crate::audio::{Source, SourceState};
use crate::dsp::extractor::{MelConfig, StreamingMel};
use crate::host::{Chain, ChainEvent, CycleTracker, EventKind};
use crate::model::live::{LiveModel, LivePrediction};

/// What the UI asks of the analysis thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SetBypass { slot: usize, bypass: bool },
    MoveSlot { from: usize, to: usize },
    /// Set a parameter to `value` (plain units).
    SetParam { slot: usize, id: u32, value: f64 },
    ClearFault { slot: usize },
    StartRecording { out: PathBuf, location: Option<String> },
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
    /// A breath cycle, in seconds on the input timeline.
    Cycle { start_s: f64, end_s: f64 },
    /// A heart beat: S1 time and the heart rate the segmenter measured.
    Beat { s1_s: f64, bpm: f32 },
    Chain(Vec<SlotView>),
    Status(Status),
    RecordingStarted(PathBuf),
    RecordingSaved { dir: PathBuf, seconds: f64 },
    Labelled { start_s: f64, end_s: f64, label: CycleClass },
    /// A model's verdict on a cycle (or window), class probabilities.
    Prediction { start_s: f64, end_s: f64, probabilities: Vec<f32> },
    /// A notice or error for the status line.
    Message(String),
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

/// Runs until [`Command::Quit`] or the UI hangs up.
pub fn run(
    mut source: Source,
    mut chain: Chain,
    mut model: Option<LiveModel>,
    config: AnalysisConfig,
    commands: Receiver<Command>,
    updates: Sender<Update>,
) {
    let rate = source.info.sample_rate;
    let r = f64::from(rate);
    let mut mel = match StreamingMel::new(config.mel(rate)) {
        Ok(mel) => Some(mel),
        Err(e) => {
            let _ = updates.send(Update::Message(format!("spectrogram off: {e}")));
            None
        }
    };
    let env_hop = ((r * ENVELOPE_HOP_S) as usize).max(1);
    let mut input = vec![0.0f32; BLOCK];
    let mut output = vec![0.0f32; BLOCK];
    let mut events: Vec<ChainEvent> = Vec::new();
    let mut mel_out: Vec<f32> = Vec::new();
    let mut envelope: Vec<f32> = Vec::new();
    let (mut env_peak, mut env_count) = (0.0f32, 0usize);
    let mut cycles = CycleTracker::default();
    let mut session: Option<SessionWriter> = None;
    let mut processed: u64 = 0;
    let mut last_report = Instant::now() - Duration::from_secs(1);
    let mut ended_reported = false;

    loop {
        loop {
            match commands.try_recv() {
                Ok(Command::Quit) | Err(TryRecvError::Disconnected) => {
                    if let Some(s) = session.take() {
                        finish(s, &updates, None);
                    }
                    return;
                }
                Ok(command) => apply(command, &mut chain, &mut session, &source, &config, processed, &updates),
                Err(TryRecvError::Empty) => break,
            }
        }
        let n = source.read(&mut input);
        if n == 0 {
            if source.exhausted() && !ended_reported {
                ended_reported = true;
                let why = match source.status.state() {
                    SourceState::Finished => "end of the file".to_string(),
                    state => format!("input lost ({state:?})").to_lowercase(),
                };
                if let Some(s) = session.take() {
                    let interrupted = (source.status.state() != SourceState::Finished).then(|| why.clone());
                    finish(s, &updates, interrupted);
                }
                let _ = updates.send(Update::Message(format!("{}: {why}", source.info.name)));
            }
            std::thread::sleep(Duration::from_millis(5));
        } else {
            if let Some(s) = session.as_mut() {
                if let Err(e) = s.write(&input[..n]) {
                    let _ = updates.send(Update::Message(format!("recording stopped: {e}")));
                    if let Some(s) = session.take() {
                        finish(s, &updates, Some(e.to_string()));
                    }
                }
            }
            events.clear();
            events.reserve(chain.len() * crate::host::chain::EVENTS_PER_BLOCK);
            chain.process(&input[..n], &mut output[..n], &mut events);
            processed += n as u64;
            let mut predictions: Vec<LivePrediction> = Vec::new();
            if let Some(m) = model.as_mut() {
                predictions.extend(m.push(&input[..n]));
            }
            for e in &events {
                if e.kind == EventKind::S1 {
                    let _ = updates.send(Update::Beat { s1_s: e.sample as f64 / r, bpm: e.value });
                }
                let Some((start, end)) = cycles.push(e) else { continue };
                let (start_s, end_s) = (start as f64 / r, end as f64 / r);
                if let Some(s) = session.as_mut() {
                    if let Err(err) = s.add_cycle(start_s, end_s) {
                        let _ = updates.send(Update::Message(format!("annotation not saved: {err}")));
                    }
                }
                let _ = updates.send(Update::Cycle { start_s, end_s });
                if let Some(m) = model.as_mut() {
                    predictions.extend(m.cycle(start, end));
                }
            }
            for p in predictions {
                let _ = updates.send(Update::Prediction { start_s: p.start_s, end_s: p.end_s, probabilities: p.probabilities });
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
                overruns: source.status.overruns(),
                xruns: source.status.xruns(),
                recording: session.as_ref().map(SessionWriter::seconds),
                source_state: (source.status.state() != SourceState::Running)
                    .then(|| format!("{:?}", source.status.state()).to_lowercase()),
            }));
        }
    }
}

fn apply(
    command: Command,
    chain: &mut Chain,
    session: &mut Option<SessionWriter>,
    source: &Source,
    config: &AnalysisConfig,
    processed: u64,
    updates: &Sender<Update>,
) {
    let say = |text: String| {
        let _ = updates.send(Update::Message(text));
    };
    match command {
        Command::SetBypass { slot, bypass } => chain.set_bypass(slot, bypass),
        Command::MoveSlot { from, to } => chain.move_slot(from, to),
        Command::SetParam { slot, id, value } => {
            if let Err(e) = chain.set_param(slot, id, value) {
                say(format!("parameter not set: {e}"));
            }
        }
        Command::ClearFault { slot } => {
            if let Err(e) = chain.clear_fault(slot) {
                say(format!("plugin not reset: {e}"));
            }
        }
        Command::StartRecording { out, location } => {
            if session.is_some() {
                return;
            }
            let mut meta = SessionMeta::new(&source.info.name, source.info.kind.as_str(), source.info.sample_rate);
            meta.chain_file.clone_from(&config.chain_file);
            meta.chain.clone_from(&config.chain_text);
            meta.model.clone_from(&config.model);
            match SessionWriter::create(&out, meta) {
                Ok(mut writer) => {
                    if let Some(location) = location {
                        if let Err(e) = writer.mark_location(&location) {
                            say(format!("location not saved: {e}"));
                        }
                    }
                    let _ = updates.send(Update::RecordingStarted(writer.dir().to_path_buf()));
                    *session = Some(writer);
                }
                Err(e) => say(format!("cannot record: {e}")),
            }
        }
        Command::StopRecording => {
            if let Some(s) = session.take() {
                finish(s, updates, None);
            }
        }
        Command::MarkLocation(location) => {
            if let Some(s) = session.as_mut() {
                if let Err(e) = s.mark_location(&location) {
                    say(format!("location not saved: {e}"));
                }
            }
        }
        Command::Label(label) => match session.as_mut() {
            Some(s) => {
                let now = processed as f64 / f64::from(source.info.sample_rate);
                match s.label_cycle(now, label) {
                    Ok(Some(c)) => {
                        let _ = updates.send(Update::Labelled { start_s: c.start_s, end_s: c.end_s, label });
                    }
                    Ok(None) => say("no cycle to label yet".into()),
                    Err(e) => say(format!("label not saved: {e}")),
                }
            }
            None => say("labels are saved with a recording: press r first".into()),
        },
        Command::Quit => {}
    }
}

fn finish(session: SessionWriter, updates: &Sender<Update>, interrupted: Option<String>) {
    let seconds = session.seconds();
    match session.finish(interrupted) {
        Ok(dir) => {
            let _ = updates.send(Update::RecordingSaved { dir, seconds });
        }
        Err(e) => {
            let _ = updates.send(Update::Message(format!("recording not closed cleanly: {e}")));
        }
    }
}

fn slot_views(chain: &mut Chain, rate: f64) -> Vec<SlotView> {
    let mut views = Vec::with_capacity(chain.len());
    for i in 0..chain.len() {
        let slot = &chain.slots()[i];
        let (name, bypassed, latency) = (slot.name.clone(), slot.bypassed(), slot.latency());
        let fault = slot.fault().map(|f| f.to_string());
        let load = slot.stats().real_time_factor(rate);
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
        views.push(SlotView { name, bypassed, fault, latency, load, params });
    }
    views
}
