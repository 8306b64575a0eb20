//! Mel spectrograms, batch and streaming, sharing one per-frame path so
//! their frames are identical.

use serde::{Deserialize, Serialize};

use super::mel::{MelFilterbank, MelScale};
use super::stft::{frame_count, pad_signal, FrameAnalyzer, PadMode};
use super::window::hann_periodic;

/// Mel settings. Defaults are librosa's `feature.melspectrogram` defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MelConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub fmin: f64,
    /// Upper edge in Hz; `None` means Nyquist.
    pub fmax: Option<f64>,
    pub scale: MelScale,
    /// Slaney area normalisation of the filters (librosa's `norm="slaney"`).
    pub slaney_norm: bool,
    pub center: bool,
    pub pad_mode: PadMode,
    /// 1 for magnitude, 2 for power.
    pub power: f64,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            sample_rate: 22050,
            n_fft: 2048,
            hop: 512,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            scale: MelScale::Slaney,
            slaney_norm: true,
            center: true,
            pad_mode: PadMode::Constant,
            power: 2.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MelConfigError {
    #[error("mel setting `{name}` = {value}: {problem}")]
    Invalid { name: &'static str, value: String, problem: &'static str },
}

impl MelConfig {
    pub fn fmax_hz(&self) -> f64 {
        self.fmax.unwrap_or(f64::from(self.sample_rate) / 2.0)
    }

    pub fn validate(&self) -> Result<(), MelConfigError> {
        let bad = |name, value: String, problem| Err(MelConfigError::Invalid { name, value, problem });
        let nyquist = f64::from(self.sample_rate) / 2.0;
        if self.sample_rate == 0 {
            return bad("sample_rate", "0".into(), "must be positive");
        }
        if self.n_fft < 2 {
            return bad("n_fft", self.n_fft.to_string(), "must be at least 2");
        }
        if self.hop == 0 {
            return bad("hop", "0".into(), "must be positive");
        }
        if self.n_mels == 0 {
            return bad("n_mels", "0".into(), "must be positive");
        }
        if !(self.fmin >= 0.0 && self.fmin < nyquist) {
            return bad("fmin", self.fmin.to_string(), "must be in [0, sample_rate/2)");
        }
        let fmax = self.fmax_hz();
        if !(fmax > self.fmin && fmax <= nyquist) {
            return bad("fmax", fmax.to_string(), "must be in (fmin, sample_rate/2]");
        }
        if !(self.power > 0.0 && self.power.is_finite()) {
            return bad("power", self.power.to_string(), "must be positive");
        }
        Ok(())
    }

    pub fn filterbank(&self) -> MelFilterbank {
        MelFilterbank::librosa(f64::from(self.sample_rate), self.n_fft, self.n_mels, self.fmin, self.fmax_hz(), self.scale, self.slaney_norm)
    }
}

/// A mel spectrogram, stored frame by frame (`frames × n_mels`).
#[derive(Debug, Clone, PartialEq)]
pub struct MelSpectrogram {
    pub n_mels: usize,
    pub data: Vec<f32>,
}

impl MelSpectrogram {
    pub fn frames(&self) -> usize {
        self.data.len().checked_div(self.n_mels).unwrap_or(0)
    }

    pub fn frame(&self, t: usize) -> &[f32] {
        &self.data[t * self.n_mels..(t + 1) * self.n_mels]
    }

    /// `(n_mels, frames)`, row-major: the layout librosa returns.
    pub fn to_mel_major(&self) -> Vec<f32> {
        let frames = self.frames();
        let mut out = vec![0.0; self.data.len()];
        for t in 0..frames {
            for m in 0..self.n_mels {
                out[m * frames + t] = self.data[t * self.n_mels + m];
            }
        }
        out
    }
}

/// The per-frame path: window, FFT, power, mel. No allocation after `new`.
pub struct MelFrame {
    analyzer: FrameAnalyzer,
    bank: MelFilterbank,
    spectrum: Vec<f64>,
}

impl MelFrame {
    pub fn new(config: &MelConfig) -> MelFrame {
        let analyzer = FrameAnalyzer::new(hann_periodic(config.n_fft), config.power);
        MelFrame { spectrum: vec![0.0; analyzer.n_bins()], analyzer, bank: config.filterbank() }
    }

    /// `frame.len() == n_fft`, `out.len() == n_mels`.
    pub fn compute(&mut self, frame: &[f32], out: &mut [f32]) {
        self.analyzer.analyze(frame, &mut self.spectrum);
        self.bank.apply(&self.spectrum, out);
    }

    pub fn filterbank(&self) -> &MelFilterbank {
        &self.bank
    }
}

/// Whole-signal mel spectrograms (`librosa.feature.melspectrogram`).
pub struct MelExtractor {
    config: MelConfig,
    frame: MelFrame,
}

impl MelExtractor {
    pub fn new(config: MelConfig) -> Result<MelExtractor, MelConfigError> {
        config.validate()?;
        Ok(MelExtractor { frame: MelFrame::new(&config), config })
    }

    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    pub fn compute(&mut self, signal: &[f32]) -> MelSpectrogram {
        let c = &self.config;
        let padded;
        let x: &[f32] = if c.center {
            padded = pad_signal(signal, c.n_fft / 2, c.pad_mode);
            &padded
        } else {
            signal
        };
        let frames = frame_count(signal.len(), c.n_fft, c.hop, c.center);
        let mut data = vec![0.0; frames * c.n_mels];
        for (t, out) in data.chunks_exact_mut(c.n_mels).enumerate() {
            self.frame.compute(&x[t * c.hop..t * c.hop + c.n_fft], out);
        }
        MelSpectrogram { n_mels: c.n_mels, data }
    }
}

/// Mel frames from blocks of any size, each emitted as soon as its last
/// sample arrives. Its frames equal [`MelExtractor`]'s on the same signal.
///
/// With `center`, the start is padded as the batch extractor pads it
/// (zeros, or a reflection once `n_fft/2 + 1` samples have arrived), and
/// [`finish`](Self::finish) pads the end. `push` never allocates.
pub struct StreamingMel {
    config: MelConfig,
    frame: MelFrame,
    /// The last `n_fft` samples of the padded signal, as a ring.
    ring: Vec<f32>,
    /// Index in `ring` where the next sample goes.
    write: usize,
    /// Padded samples seen so far.
    seen: usize,
    /// Padded-sample index where the next frame starts.
    next_frame: usize,
    /// Reflect mode: the first `n_fft/2 + 1` input samples, held until the
    /// start padding can be built from them.
    head: Vec<f32>,
    started: bool,
    /// One frame of contiguous samples, unrolled from the ring.
    scratch: Vec<f32>,
    out: Vec<f32>,
}

impl StreamingMel {
    pub fn new(config: MelConfig) -> Result<StreamingMel, MelConfigError> {
        config.validate()?;
        let n_fft = config.n_fft;
        Ok(StreamingMel {
            frame: MelFrame::new(&config),
            ring: vec![0.0; n_fft],
            write: 0,
            seen: 0,
            next_frame: 0,
            head: Vec::with_capacity(n_fft / 2 + 1),
            started: false,
            scratch: vec![0.0; n_fft],
            out: vec![0.0; config.n_mels],
            config,
        })
    }

    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// Forgets everything, as if just created.
    pub fn reset(&mut self) {
        self.write = 0;
        self.seen = 0;
        self.next_frame = 0;
        self.head.clear();
        self.started = false;
    }

    /// Feeds samples; calls `on_frame` with each completed mel frame.
    pub fn push(&mut self, samples: &[f32], mut on_frame: impl FnMut(&[f32])) {
        let pad = self.config.n_fft / 2;
        for &s in samples {
            if !self.started && self.config.center {
                match self.config.pad_mode {
                    PadMode::Constant => {
                        for _ in 0..pad {
                            self.put(0.0, &mut on_frame);
                        }
                    }
                    PadMode::Reflect => {
                        self.head.push(s);
                        if self.head.len() <= pad {
                            continue;
                        }
                        // head = x[0..=pad]: the padding is x[pad], ..., x[1].
                        for i in (1..=pad).rev() {
                            let v = self.head[i];
                            self.put(v, &mut on_frame);
                        }
                        for i in 0..self.head.len() {
                            let v = self.head[i];
                            self.put(v, &mut on_frame);
                        }
                        self.started = true;
                        continue;
                    }
                }
            }
            self.started = true;
            self.put(s, &mut on_frame);
        }
    }

    /// Ends the stream: pads the end as the batch extractor does and emits
    /// the remaining frames, then resets.
    pub fn finish(&mut self, mut on_frame: impl FnMut(&[f32])) {
        let pad = self.config.n_fft / 2;
        if self.config.center {
            if !self.started && !self.head.is_empty() {
                // Reflect mode with a signal shorter than the padding: do it
                // the batch way (rare, and at the end, so allocating is fine).
                let head = std::mem::take(&mut self.head);
                let padded = pad_signal(&head, pad, PadMode::Reflect);
                self.started = true;
                for v in padded {
                    self.put(v, &mut on_frame);
                }
            } else if self.started {
                // The last real sample is the one before `write`.
                let n = self.ring.len();
                for k in 0..pad {
                    let v = match self.config.pad_mode {
                        PadMode::Constant => 0.0,
                        // reflect: x[len-2-k], which is k+2 samples back from
                        // the newest real one; the ring holds n_fft of them.
                        PadMode::Reflect => self.ring[(self.write + n - (2 * k + 2)) % n],
                    };
                    self.put(v, &mut on_frame);
                }
            }
        }
        self.reset();
    }

    fn put(&mut self, v: f32, on_frame: &mut impl FnMut(&[f32])) {
        let n_fft = self.config.n_fft;
        self.ring[self.write] = v;
        self.write = (self.write + 1) % n_fft;
        self.seen += 1;
        if self.seen == self.next_frame + n_fft {
            // The ring holds exactly the frame, oldest sample at `write`.
            let (older, newer) = self.ring.split_at(self.write);
            self.scratch[..newer.len()].copy_from_slice(newer);
            self.scratch[newer.len()..].copy_from_slice(older);
            self.frame.compute(&self.scratch, &mut self.out);
            on_frame(&self.out);
            self.next_frame += self.config.hop;
        }
    }
}
