//! The UI's state and its key handling. Rendering is in `render.rs`; the
//! terminal loop in the binary. Keys become [`Command`]s for the analysis
//! thread; [`Update`]s from it change the state.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

use auscult_plugin_api::ParamScale;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::analysis::{Command, Scored, SlotView, Status, Update};
use crate::audio::session::CycleClass;
use crate::audio::SourceInfo;

use super::keymap::{self, Action, Scope};
use super::theme::Theme;

/// Seconds of history kept for the spectrogram and envelope.
const HISTORY_S: f64 = 60.0;
/// Messages the help overlay lists.
const MESSAGES_KEPT: usize = 4;
/// How long a message stays on the message line.
const MESSAGE_SHOWN: std::time::Duration = std::time::Duration::from_secs(6);
/// Mel frames and envelope points per second (10 ms hop).
pub const FRAMES_PER_S: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Spectrogram,
    Chain,
    Predictions,
}

impl Panel {
    fn next(self) -> Panel {
        match self {
            Panel::Spectrogram => Panel::Chain,
            Panel::Chain => Panel::Predictions,
            Panel::Predictions => Panel::Spectrogram,
        }
    }
}

/// lung or heart: what the segmenter looks for, and the words used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Lung,
    Heart,
}

/// What a row of the Predictions panel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Cycle,
    Beat,
    /// A fixed window a model of whole recordings classified.
    Window,
}

/// A cycle, beat or window on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleView {
    pub kind: Mark,
    /// Numbered from the start of the input, one count per kind.
    pub number: u64,
    pub start_s: f64,
    pub end_s: f64,
    pub label: Option<CycleClass>,
    pub bpm: Option<f32>,
    /// The model's class probabilities, once it has run.
    pub probabilities: Option<Vec<f32>>,
}

/// A modal line the user is typing into.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Location(String),
}

/// The scrolling views' data, on the clock of analysed audio.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Mel frames (dB), oldest first.
    pub mel: VecDeque<Vec<f32>>,
    pub envelope: VecDeque<f32>,
    /// Seconds of audio analysed (the right edge of the views).
    pub now_s: f64,
}

pub struct App {
    pub source: SourceInfo,
    pub notice: Option<String>,
    pub theme: Theme,
    pub mode: Mode,
    pub model: Option<String>,
    /// The model's classes, in the order of its probabilities.
    pub model_classes: Vec<String>,
    pub out: PathBuf,
    /// The spectrogram and envelope as they arrive.
    pub live: Timeline,
    /// What the views show while paused: the live timeline as it was.
    pub frozen: Option<Timeline>,
    pub n_mels: usize,
    pub cycles: VecDeque<CycleView>,
    pub chain: Vec<SlotView>,
    pub selected_slot: usize,
    pub selected_param: usize,
    pub focus: Panel,
    pub show_help: bool,
    pub confirm_quit: bool,
    pub prompt: Option<Prompt>,
    pub location: Option<String>,
    pub status: Status,
    pub recording_dir: Option<PathBuf>,
    pub last_saved: Option<PathBuf>,
    pub message: Option<(String, Instant)>,
    /// The last few messages, for the help overlay.
    pub history: VecDeque<String>,
    pub quit: bool,
    /// Why the UI had to end, when it did not end by the user's choice.
    pub fatal: Option<String>,
    /// Set when something on screen changed.
    pub dirty: bool,
}

impl App {
    pub fn new(source: SourceInfo, theme: Theme, mode: Mode, n_mels: usize, out: PathBuf) -> App {
        App {
            source,
            notice: None,
            theme,
            mode,
            model: None,
            model_classes: Vec::new(),
            out,
            live: Timeline::default(),
            frozen: None,
            n_mels,
            cycles: VecDeque::new(),
            chain: Vec::new(),
            selected_slot: 0,
            selected_param: 0,
            focus: Panel::Spectrogram,
            show_help: false,
            confirm_quit: false,
            prompt: None,
            location: None,
            status: Status::default(),
            recording_dir: None,
            last_saved: None,
            message: None,
            history: VecDeque::new(),
            quit: false,
            fatal: None,
            dirty: true,
        }
    }

    /// What the spectrogram and envelope show: frozen while paused, so
    /// that the cycle markers (absolute times) stay where they were.
    pub fn shown(&self) -> &Timeline {
        self.frozen.as_ref().unwrap_or(&self.live)
    }

    pub fn paused(&self) -> bool {
        self.frozen.is_some()
    }

    pub fn recording(&self) -> bool {
        self.recording_dir.is_some()
    }

    pub fn say(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.history.push_back(text.clone());
        if self.history.len() > MESSAGES_KEPT {
            self.history.pop_front();
        }
        self.message = Some((text, Instant::now()));
        self.dirty = true;
    }

    /// The message line's text: the latest message for a few seconds, then
    /// the start-up notice, if any.
    pub fn current_message(&self) -> Option<String> {
        self.message.as_ref().filter(|(_, at)| at.elapsed() < MESSAGE_SHOWN).map(|(m, _)| m.clone()).or_else(|| self.notice.clone())
    }

    /// Applies an update from the analysis thread.
    pub fn apply(&mut self, update: Update) {
        self.dirty = true;
        let keep = (HISTORY_S * FRAMES_PER_S) as usize;
        match update {
            Update::Mel(frames) => {
                if self.n_mels == 0 {
                    return;
                }
                for frame in frames.chunks_exact(self.n_mels) {
                    self.live.mel.push_back(frame.to_vec());
                }
                while self.live.mel.len() > keep {
                    self.live.mel.pop_front();
                }
            }
            Update::Envelope(points) => {
                let live = &mut self.live;
                live.now_s += points.len() as f64 / FRAMES_PER_S;
                live.envelope.extend(points);
                while live.envelope.len() > keep {
                    live.envelope.pop_front();
                }
                // Rows are kept for the history shown, or the frozen view.
                let oldest_s = self.frozen.as_ref().map_or(live.now_s, |f| f.now_s) - HISTORY_S;
                while self.cycles.front().is_some_and(|c| c.end_s < oldest_s) {
                    self.cycles.pop_front();
                }
            }
            Update::Cycle { number, start_s, end_s } => {
                self.cycles.push_back(CycleView { kind: Mark::Cycle, number, start_s, end_s, label: None, bpm: None, probabilities: None });
            }
            Update::Beat { number, s1_s, bpm } => {
                if let Some(last) = self.cycles.iter_mut().rev().find(|c| c.kind == Mark::Beat) {
                    if last.end_s <= last.start_s {
                        last.end_s = s1_s;
                    }
                }
                let beat = CycleView { kind: Mark::Beat, number, start_s: s1_s, end_s: s1_s, label: None, bpm: Some(bpm), probabilities: None };
                self.cycles.push_back(beat);
            }
            Update::Chain(chain) => {
                self.chain = chain;
                self.selected_slot = self.selected_slot.min(self.chain.len().saturating_sub(1));
            }
            Update::Status(status) => self.status = status,
            Update::RecordingStarted(dir) => {
                self.say(format!("recording to {}", dir.display()));
                self.recording_dir = Some(dir);
            }
            Update::RecordingSaved { dir, seconds } => {
                self.say(format!("saved {seconds:.1} s to {}", dir.display()));
                self.recording_dir = None;
                self.last_saved = Some(dir);
                if self.confirm_quit {
                    self.quit = true;
                }
            }
            Update::Labelled { number, start_s, end_s, label } => {
                if let Some(c) = self.cycles.iter_mut().rev().find(|c| c.kind == Mark::Cycle && c.number == number) {
                    c.label = Some(label);
                }
                self.say(format!("cycle {number} labelled {} ({start_s:.2}–{end_s:.2} s into the recording)", label_name(label)));
            }
            Update::Prediction { scored, start_s, end_s, probabilities } => match scored {
                Scored::Cycle(number) => {
                    if let Some(c) = self.cycles.iter_mut().rev().find(|c| c.kind == Mark::Cycle && c.number == number) {
                        c.probabilities = Some(probabilities);
                    }
                }
                Scored::Window(number) => {
                    let window = CycleView { kind: Mark::Window, number, start_s, end_s, label: None, bpm: None, probabilities: Some(probabilities) };
                    self.cycles.push_back(window);
                }
            },
            Update::Message(text) | Update::InputEnded(text) => self.say(text),
            Update::Fatal(text) => {
                self.fatal = Some(text);
                self.quit = true;
            }
        }
    }

    /// Handles a key; returns the commands to send.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        self.dirty = true;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.request_quit(true);
        }
        if let Some(Prompt::Location(text)) = &mut self.prompt {
            match key.code {
                KeyCode::Enter => {
                    let location = text.trim().to_string();
                    self.prompt = None;
                    if location.is_empty() {
                        return Vec::new();
                    }
                    self.say(format!("chest location: {location}"));
                    self.location = Some(location.clone());
                    return vec![Command::MarkLocation(location)];
                }
                KeyCode::Esc => self.prompt = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) if text.len() < 40 => text.push(c),
                _ => {}
            }
            return Vec::new();
        }
        if self.show_help {
            self.show_help = false;
            return Vec::new();
        }
        if self.confirm_quit {
            return match key.code {
                KeyCode::Char('q') | KeyCode::Char('y') => self.request_quit(true),
                _ => {
                    self.confirm_quit = false;
                    Vec::new()
                }
            };
        }
        // The focused chain panel's keys come first (see `keymap::Scope`).
        if self.focus == Panel::Chain && !self.chain.is_empty() {
            if let Some(action) = keymap::action(Scope::Chain, key.code) {
                return self.chain_action(action);
            }
        }
        match keymap::action(Scope::Global, key.code) {
            Some(Action::Help) => self.show_help = true,
            Some(Action::Quit) => return self.request_quit(false),
            Some(Action::Pause) => {
                self.frozen = if self.paused() { None } else { Some(self.live.clone()) };
                self.say(if self.paused() { "display paused (recording continues)" } else { "display resumed" });
            }
            Some(Action::NextPanel) => self.focus = self.focus.next(),
            Some(Action::PreviousPanel) => self.focus = self.focus.next().next(),
            Some(Action::Record) if !self.recording() => {
                return vec![Command::StartRecording { out: self.out.clone(), location: self.location.clone() }];
            }
            Some(Action::Record) => self.say("already recording"),
            Some(Action::Stop) => {
                if self.recording() {
                    return vec![Command::StopRecording];
                }
                self.say("not recording");
            }
            Some(Action::Location) => self.prompt = Some(Prompt::Location(self.location.clone().unwrap_or_default())),
            Some(Action::Label) => {
                let label = match key.code {
                    KeyCode::Char('1') => CycleClass::Normal,
                    KeyCode::Char('2') => CycleClass::Crackle,
                    KeyCode::Char('3') => CycleClass::Wheeze,
                    _ => CycleClass::Both,
                };
                return vec![Command::Label(label)];
            }
            _ => {}
        }
        Vec::new()
    }

    fn request_quit(&mut self, confirmed: bool) -> Vec<Command> {
        if self.recording() && !confirmed {
            self.confirm_quit = true;
            return Vec::new();
        }
        if self.recording() {
            // Quit once the analysis thread says the session is saved.
            self.confirm_quit = true;
            return vec![Command::StopRecording];
        }
        self.quit = true;
        Vec::new()
    }

    /// An action of the chain panel (which has at least one plugin).
    fn chain_action(&mut self, action: Action) -> Vec<Command> {
        let n = self.chain.len();
        let slot = self.selected_slot.min(n - 1);
        match action {
            Action::SelectUp => {
                self.selected_slot = slot.saturating_sub(1);
                self.selected_param = 0;
            }
            Action::SelectDown => {
                self.selected_slot = (slot + 1).min(n - 1);
                self.selected_param = 0;
            }
            Action::Bypass => {
                let bypass = !self.chain[slot].bypassed;
                self.chain[slot].bypassed = bypass;
                return vec![Command::SetBypass { slot, bypass }];
            }
            // The first plugin cannot move up, nor the last down: the key is
            // still the panel's, and does nothing.
            Action::MoveUp if slot > 0 => {
                self.chain.swap(slot, slot - 1);
                self.selected_slot = slot - 1;
                return vec![Command::MoveSlot { from: slot, to: slot - 1 }];
            }
            Action::MoveDown if slot + 1 < n => {
                self.chain.swap(slot, slot + 1);
                self.selected_slot = slot + 1;
                return vec![Command::MoveSlot { from: slot, to: slot + 1 }];
            }
            Action::ClearFault => return vec![Command::ClearFault { slot }],
            Action::NextParam => {
                let count = self.chain[slot].params.len().max(1);
                self.selected_param = (self.selected_param + 1) % count;
            }
            Action::ParamDown | Action::ParamUp => {
                let Some(p) = self.chain[slot].params.get_mut(self.selected_param) else { return Vec::new() };
                let value = step(p.value, p.min, p.max, p.scale, action == Action::ParamUp);
                p.value = value;
                return vec![Command::SetParam { slot, id: p.id, value }];
            }
            _ => {}
        }
        Vec::new()
    }
}

/// One key press worth of change: 1/20 of the range, or ~6% on a log scale.
fn step(value: f64, min: f64, max: f64, scale: ParamScale, up: bool) -> f64 {
    let sign = if up { 1.0 } else { -1.0 };
    let next = match scale {
        ParamScale::Log if min > 0.0 => value * (max / min).powf(sign / 40.0),
        ParamScale::Integer | ParamScale::Toggle => value + sign,
        _ => value + sign * (max - min) / 20.0,
    };
    next.clamp(min, max)
}

pub fn label_name(label: CycleClass) -> &'static str {
    match label {
        CycleClass::Normal => "normal",
        CycleClass::Crackle => "crackles",
        CycleClass::Wheeze => "wheezes",
        CycleClass::Both => "crackles+wheezes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::SourceKind;
    use crate::ui::theme::ColorDepth;

    fn app() -> App {
        let info = SourceInfo { kind: SourceKind::Replay, name: "x.wav".into(), sample_rate: 4000, channels: 1, format: String::new() };
        App::new(info, Theme::load("default", ColorDepth::TrueColor).unwrap(), Mode::Lung, 8, "out".into())
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn quitting_while_recording_asks_first_and_saves() {
        let mut app = app();
        assert!(matches!(app.on_key(key(KeyCode::Char('r')))[..], [Command::StartRecording { .. }]));
        app.apply(Update::RecordingStarted("out/s1".into()));
        assert!(app.on_key(key(KeyCode::Char('q'))).is_empty());
        assert!(app.confirm_quit && !app.quit);
        assert_eq!(app.on_key(key(KeyCode::Char('q'))), vec![Command::StopRecording]);
        assert!(!app.quit, "waits for the save");
        app.apply(Update::RecordingSaved { dir: "out/s1".into(), seconds: 1.0 });
        assert!(app.quit);
    }

    #[test]
    fn log_parameters_step_geometrically_within_range() {
        let v = step(100.0, 10.0, 1000.0, ParamScale::Log, true);
        assert!((v / 100.0 - 100f64.powf(1.0 / 40.0)).abs() < 1e-12);
        assert_eq!(step(999.0, 10.0, 1000.0, ParamScale::Log, true), 1000.0);
        assert_eq!(step(2.0, 2.0, 8.0, ParamScale::Integer, false), 2.0);
    }

    #[test]
    fn the_chain_panel_keeps_its_keys_and_l_steps_a_parameter() {
        let mut app = app();
        app.apply(Update::Chain(vec![SlotView {
            name: "bandpass".into(),
            bypassed: false,
            fault: None,
            latency: 0,
            load: 0.0,
            late_blocks: 0,
            restarts: 0,
            params: vec![crate::analysis::ParamView {
                id: 7,
                name: "gain".into(),
                unit: String::new(),
                value: 0.0,
                min: -10.0,
                max: 10.0,
                scale: ParamScale::Linear,
            }],
        }]));
        // Outside the chain panel `l` asks for the chest location.
        assert!(app.on_key(key(KeyCode::Char('l'))).is_empty());
        assert!(app.prompt.is_some());
        app.on_key(key(KeyCode::Esc));
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.focus, Panel::Chain);
        assert_eq!(app.on_key(key(KeyCode::Char('l'))), vec![Command::SetParam { slot: 0, id: 7, value: 1.0 }]);
        assert_eq!(app.on_key(key(KeyCode::Char('h'))), vec![Command::SetParam { slot: 0, id: 7, value: 0.0 }]);
        assert!(app.prompt.is_none());
        // Global keys still work there.
        assert!(matches!(app.on_key(key(KeyCode::Char('r')))[..], [Command::StartRecording { .. }]));
    }
}
