//! From a recording to what the CNN sees: decode, resample to the model's
//! rate, run the model's preprocessing chain (the same plugins the TUI
//! runs), log-mel spectrogram, then a fixed number of frames (cycles shorter
//! than that are repeat-padded, longer ones cropped).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::audio::{decode_file, resample::resample};
use crate::dsp::extractor::{MelConfig, MelExtractor};
use crate::host::{Chain, ChainConfig, SearchPath};

/// Mel settings and input length, recorded in each model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub fmin: f64,
    pub fmax: f64,
    /// Seconds of audio per input.
    pub segment_s: f64,
    /// dB below the loudest bin of a recording that are kept.
    pub top_db: f32,
}

impl FeatureConfig {
    /// 4 kHz, 64 ms windows, 16 ms hop, 64 mel bands from 25 Hz to 2 kHz.
    pub fn stethoscope(segment_s: f64) -> Self {
        FeatureConfig { sample_rate: 4000, n_fft: 256, hop: 64, n_mels: 64, fmin: 25.0, fmax: 2000.0, segment_s, top_db: 80.0 }
    }

    /// Frames per input.
    pub fn frames(&self) -> usize {
        (self.segment_s * f64::from(self.sample_rate) / self.hop as f64).round() as usize
    }

    pub fn mel(&self) -> MelConfig {
        MelConfig {
            sample_rate: self.sample_rate,
            n_fft: self.n_fft,
            hop: self.hop,
            n_mels: self.n_mels,
            fmin: self.fmin,
            fmax: Some(self.fmax),
            ..MelConfig::default()
        }
    }

    pub fn frames_per_s(&self) -> f64 {
        f64::from(self.sample_rate) / self.hop as f64
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error(transparent)]
    Decode(#[from] crate::audio::DecodeError),
    #[error("{}: resampling: {reason}", path.display())]
    Resample { path: std::path::PathBuf, reason: String },
    #[error("chain: {0}")]
    Chain(#[from] crate::host::ConfigError),
    #[error("mel: {0}")]
    Mel(#[from] crate::dsp::extractor::MelConfigError),
    #[error("{}: the chain faulted: {reason}", path.display())]
    Fault { path: std::path::PathBuf, reason: String },
}

/// A whole recording's log-mel spectrogram, frame-major (`n_mels` per frame).
#[derive(Debug, Clone, PartialEq)]
pub struct LogMel {
    pub n_mels: usize,
    pub data: Vec<f32>,
}

impl LogMel {
    pub fn frames(&self) -> usize {
        self.data.len() / self.n_mels.max(1)
    }

    /// Frames `from..to` (clamped), as a new spectrogram.
    pub fn slice(&self, from: usize, to: usize) -> LogMel {
        let to = to.min(self.frames());
        let from = from.min(to);
        LogMel { n_mels: self.n_mels, data: self.data[from * self.n_mels..to * self.n_mels].to_vec() }
    }
}

/// Decodes, resamples, runs the chain and computes log-mel frames.
pub struct Preprocessor {
    pub config: FeatureConfig,
    chain: Option<Chain>,
    /// The chain file's text, as given.
    chain_text: Option<String>,
    mel: MelExtractor,
}

impl Preprocessor {
    /// `chain_text` is a chain file's TOML (from a model card), or `None`.
    pub fn new(config: FeatureConfig, chain_text: Option<&str>, search: &SearchPath) -> Result<Self, FeatureError> {
        let chain = match chain_text {
            Some(text) => {
                let parsed = ChainConfig::parse(Path::new("model card chain"), text.to_string())?;
                let mut dirs = parsed.plugin_dirs();
                dirs.extend(search.dirs.iter().cloned());
                Some(parsed.build(&SearchPath { dirs }, f64::from(config.sample_rate), 4096)?)
            }
            None => None,
        };
        let mel = MelExtractor::new(config.mel())?;
        Ok(Self { config, chain, chain_text: chain_text.map(String::from), mel })
    }

    /// Everything that decides what [`Preprocessor::file`] returns for a
    /// given recording: the mel settings, the chain's text, and each
    /// plugin's id, version and library (path, size, modification time),
    /// so that a rebuilt plugin counts as another chain.
    pub fn identity(&self) -> String {
        let mut identity = format!("{:?}\nchain: {:?}\n", self.config, self.chain_text);
        for slot in self.chain.iter().flat_map(|c| c.slots()) {
            let info = slot.info();
            let library = slot.library_path().map(|path| {
                let meta = std::fs::metadata(path).ok();
                let modified = meta.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                format!("{} {:?} {:?}", path.display(), meta.map(|m| m.len()), modified)
            });
            identity.push_str(&format!("plugin {} {} {library:?}\n", info.id, info.version));
        }
        identity
    }

    /// The file at the model's rate, through the chain.
    pub fn audio(&mut self, path: &Path) -> Result<Vec<f32>, FeatureError> {
        let decoded = decode_file(path)?;
        let samples = if decoded.sample_rate == self.config.sample_rate {
            decoded.samples
        } else {
            resample(&decoded.samples, decoded.sample_rate, self.config.sample_rate)
                .map_err(|e| FeatureError::Resample { path: path.into(), reason: e.to_string() })?
        };
        self.process(path, samples)
    }

    /// Runs the chain over samples at the model's rate.
    pub fn process(&mut self, path: &Path, samples: Vec<f32>) -> Result<Vec<f32>, FeatureError> {
        let Some(chain) = self.chain.as_mut() else { return Ok(samples) };
        let _ = chain.reset();
        for i in 0..chain.len() {
            let _ = chain.clear_fault(i);
        }
        let mut out = vec![0.0f32; samples.len()];
        let mut events = Vec::with_capacity(samples.len() / 64 + 256);
        for (i, o) in samples.chunks(4096).zip(out.chunks_mut(4096)) {
            events.clear();
            chain.process(i, o, &mut events);
        }
        if let Some(fault) = chain.slots().iter().find_map(|s| s.fault()) {
            return Err(FeatureError::Fault { path: path.into(), reason: fault.to_string() });
        }
        Ok(out)
    }

    /// Log-mel (dB, floored `top_db` below the recording's peak) of samples
    /// at the model's rate.
    pub fn log_mel(&mut self, samples: &[f32]) -> LogMel {
        let spec = self.mel.compute(samples);
        let mut data: Vec<f32> = spec.data.iter().map(|&p| 10.0 * p.max(1e-10).log10()).collect();
        let peak = data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let floor = peak - self.config.top_db;
        for v in &mut data {
            *v = v.max(floor);
        }
        LogMel { n_mels: spec.n_mels, data }
    }

    /// A file's log-mel spectrogram, whole.
    pub fn file(&mut self, path: &Path) -> Result<LogMel, FeatureError> {
        let samples = self.audio(path)?;
        Ok(self.log_mel(&samples))
    }
}

/// Exactly `frames` frames: repeated end to end when shorter (the ICBHI
/// literature's repeat-padding), cropped from `offset` when longer.
/// Returns mel-major data (`n_mels` rows of `frames`), as the CNN takes it.
pub fn fixed_frames(mel: &LogMel, frames: usize, offset: usize) -> Vec<f32> {
    let n = mel.n_mels;
    let have = mel.frames();
    let mut out = vec![0.0f32; n * frames];
    if have == 0 {
        return out;
    }
    let start = if have > frames { offset.min(have - frames) } else { 0 };
    for t in 0..frames {
        let src = if have > frames { start + t } else { t % have };
        for m in 0..n {
            out[m * frames + t] = mel.data[src * n + m];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_inputs_repeat_and_long_ones_crop() {
        let mel = LogMel { n_mels: 2, data: vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0] }; // 3 frames
        assert_eq!(fixed_frames(&mel, 5, 0), vec![1.0, 2.0, 3.0, 1.0, 2.0, 10.0, 20.0, 30.0, 10.0, 20.0]);
        assert_eq!(fixed_frames(&mel, 2, 1), vec![2.0, 3.0, 20.0, 30.0]);
        assert_eq!(fixed_frames(&mel, 2, 9), vec![2.0, 3.0, 20.0, 30.0], "offset clamps");
    }
}
