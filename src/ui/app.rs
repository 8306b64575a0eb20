//! The UI's state and its key handling. Rendering is in `render.rs`; the
//! terminal loop in the binary. Keys become [`Command`]s for the analysis
//! thread; [`Update`]s from it change the state.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

use auscult_plugin_api::ParamScale;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::analysis::{Command, SlotView, Status, Update};
use crate::audio::session::CycleClass;
use crate::audio::SourceInfo;

use super::theme::Theme;

/// Seconds of history kept for the spectrogram and envelope.
const HISTORY_S: f64 = 60.0;
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

/// A cycle (or beat) on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleView {
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

pub struct App {
    pub source: SourceInfo,
    pub notice: Option<String>,
    pub theme: Theme,
    pub mode: Mode,
    pub model: Option<String>,
    /// The model's classes, in the order of its probabilities.
    pub model_classes: Vec<String>,
    pub out: PathBuf,
    /// Mel frames (dB), oldest first.
    pub mel: VecDeque<Vec<f32>>,
    pub n_mels: usize,
    pub envelope: VecDeque<f32>,
    /// Seconds of audio analysed (the right edge of the views).
    pub now_s: f64,
    pub cycles: VecDeque<CycleView>,
    pub chain: Vec<SlotView>,
    pub selected_slot: usize,
    pub selected_param: usize,
    pub focus: Panel,
    pub paused: bool,
    pub show_help: bool,
    pub confirm_quit: bool,
    pub prompt: Option<Prompt>,
    pub location: Option<String>,
    pub status: Status,
    pub recording_dir: Option<PathBuf>,
    pub last_saved: Option<PathBuf>,
    pub message: Option<(String, Instant)>,
    pub quit: bool,
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
            mel: VecDeque::new(),
            n_mels,
            envelope: VecDeque::new(),
            now_s: 0.0,
            cycles: VecDeque::new(),
            chain: Vec::new(),
            selected_slot: 0,
            selected_param: 0,
            focus: Panel::Spectrogram,
            paused: false,
            show_help: false,
            confirm_quit: false,
            prompt: None,
            location: None,
            status: Status::default(),
            recording_dir: None,
            last_saved: None,
            message: None,
            quit: false,
            dirty: true,
        }
    }

    pub fn recording(&self) -> bool {
        self.recording_dir.is_some()
    }

    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), Instant::now()));
        self.dirty = true;
    }

    /// Applies an update from the analysis thread.
    pub fn apply(&mut self, update: Update) {
        self.dirty = true;
        let keep = (HISTORY_S * FRAMES_PER_S) as usize;
        match update {
            Update::Mel(frames) => {
                if self.paused || self.n_mels == 0 {
                    return;
                }
                for frame in frames.chunks_exact(self.n_mels) {
                    self.mel.push_back(frame.to_vec());
                }
                while self.mel.len() > keep {
                    self.mel.pop_front();
                }
            }
            Update::Envelope(points) => {
                if self.paused {
                    return;
                }
                self.now_s += points.len() as f64 / FRAMES_PER_S;
                self.envelope.extend(points);
                while self.envelope.len() > keep {
                    self.envelope.pop_front();
                }
                while self.cycles.front().is_some_and(|c| c.end_s < self.now_s - HISTORY_S) {
                    self.cycles.pop_front();
                }
            }
            Update::Cycle { start_s, end_s } => {
                self.cycles.push_back(CycleView { start_s, end_s, label: None, bpm: None, probabilities: None });
            }
            Update::Beat { s1_s, bpm } => {
                if let Some(last) = self.cycles.back_mut() {
                    if last.end_s <= last.start_s {
                        last.end_s = s1_s;
                    }
                }
                self.cycles.push_back(CycleView { start_s: s1_s, end_s: s1_s, label: None, bpm: Some(bpm), probabilities: None });
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
            Update::Labelled { start_s, end_s, label } => {
                if let Some(c) = self.cycles.iter_mut().rev().find(|c| (c.start_s - start_s).abs() < 1e-6) {
                    c.label = Some(label);
                }
                self.say(format!("cycle {start_s:.1}–{end_s:.1} s labelled {}", label_name(label)));
            }
            Update::Prediction { start_s, end_s, probabilities } => {
                match self.cycles.iter_mut().rev().find(|c| (c.start_s - start_s).abs() < 1e-6) {
                    Some(c) => c.probabilities = Some(probabilities),
                    None => self.cycles.push_back(CycleView { start_s, end_s, label: None, bpm: None, probabilities: Some(probabilities) }),
                }
            }
            Update::Message(text) | Update::InputEnded(text) => self.say(text),
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
        match key.code {
            KeyCode::Char('?') => self.show_help = true,
            KeyCode::Char('q') | KeyCode::Esc => return self.request_quit(false),
            KeyCode::Char(' ') => {
                self.paused = !self.paused;
                self.say(if self.paused { "display paused (recording continues)" } else { "display resumed" });
            }
            KeyCode::Tab => self.focus = self.focus.next(),
            KeyCode::BackTab => self.focus = self.focus.next().next(),
            KeyCode::Char('r') if !self.recording() => {
                return vec![Command::StartRecording { out: self.out.clone(), location: self.location.clone() }];
            }
            KeyCode::Char('r') => self.say("already recording"),
            KeyCode::Char('s') => {
                if self.recording() {
                    return vec![Command::StopRecording];
                }
                self.say("not recording");
            }
            KeyCode::Char('l') => self.prompt = Some(Prompt::Location(self.location.clone().unwrap_or_default())),
            KeyCode::Char(c @ '1'..='4') => {
                let label = match c {
                    '1' => CycleClass::Normal,
                    '2' => CycleClass::Crackle,
                    '3' => CycleClass::Wheeze,
                    _ => CycleClass::Both,
                };
                return vec![Command::Label(label)];
            }
            _ if self.focus == Panel::Chain => return self.chain_key(key.code),
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

    fn chain_key(&mut self, code: KeyCode) -> Vec<Command> {
        let n = self.chain.len();
        if n == 0 {
            return Vec::new();
        }
        let slot = self.selected_slot.min(n - 1);
        match code {
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected_slot = slot.saturating_sub(1);
                self.selected_param = 0;
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected_slot = (slot + 1).min(n - 1);
                self.selected_param = 0;
            }
            KeyCode::Char('b') => {
                let bypass = !self.chain[slot].bypassed;
                self.chain[slot].bypassed = bypass;
                return vec![Command::SetBypass { slot, bypass }];
            }
            KeyCode::Char('K') | KeyCode::Char('[') if slot > 0 => {
                self.chain.swap(slot, slot - 1);
                self.selected_slot = slot - 1;
                return vec![Command::MoveSlot { from: slot, to: slot - 1 }];
            }
            KeyCode::Char('J') | KeyCode::Char(']') if slot + 1 < n => {
                self.chain.swap(slot, slot + 1);
                self.selected_slot = slot + 1;
                return vec![Command::MoveSlot { from: slot, to: slot + 1 }];
            }
            KeyCode::Char('c') => return vec![Command::ClearFault { slot }],
            KeyCode::Char('p') => {
                let count = self.chain[slot].params.len().max(1);
                self.selected_param = (self.selected_param + 1) % count;
            }
            KeyCode::Left | KeyCode::Right | KeyCode::Char('-') | KeyCode::Char('+') | KeyCode::Char('h') | KeyCode::Char('l') => {
                let up = matches!(code, KeyCode::Right | KeyCode::Char('+') | KeyCode::Char('l'));
                let Some(p) = self.chain[slot].params.get_mut(self.selected_param) else { return Vec::new() };
                let value = step(p.value, p.min, p.max, p.scale, up);
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

/// Every key, for the help overlay and the README.
pub const KEYS: [(&str, &str); 16] = [
    ("?", "show this help"),
    ("space", "pause/resume the display (recording continues)"),
    ("r", "start recording a session"),
    ("s", "stop recording (saves the session)"),
    ("l", "set the chest location (type it, Enter)"),
    ("1-4", "label the current cycle: normal, crackles, wheezes, both"),
    ("tab", "next panel (spectrogram, chain, predictions)"),
    ("q / Esc", "quit (asks first while recording)"),
    ("chain: ↑↓ j k", "select a plugin"),
    ("chain: b", "bypass / enable the plugin"),
    ("chain: [ ] K J", "move the plugin up / down"),
    ("chain: p", "next parameter"),
    ("chain: ←→ - +", "change the parameter"),
    ("chain: c", "clear a fault and re-enable the plugin"),
    ("Ctrl-C", "quit now (a recording is saved first)"),
    ("", "no mouse: text selection works over SSH"),
];

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
}
