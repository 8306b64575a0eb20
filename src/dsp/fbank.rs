//! Log-mel filterbank energies as Kaldi's `compute-fbank-feats` computes
//! them, following `torchaudio.compliance.kaldi.fbank` (no dither, no
//! energy): the input of the best ICBHI models (AST and its descendants use
//! 25 ms windows, 10 ms hop and 128 bins).

use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

use super::extractor::MelSpectrogram;
use super::window::{hann_symmetric, povey};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KaldiWindow {
    /// Hann^0.85, Kaldi's default.
    #[default]
    Povey,
    /// Symmetric Hann (`window_type="hanning"`, as AST uses).
    Hanning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KaldiFbankConfig {
    pub sample_rate: u32,
    pub frame_length_ms: f64,
    pub frame_shift_ms: f64,
    pub num_mel_bins: usize,
    pub low_freq: f64,
    /// Upper edge; values <= 0 are added to the Nyquist frequency (Kaldi).
    pub high_freq: f64,
    pub preemphasis: f64,
    pub remove_dc_offset: bool,
    pub window: KaldiWindow,
}

impl Default for KaldiFbankConfig {
    fn default() -> Self {
        KaldiFbankConfig {
            sample_rate: 16000,
            frame_length_ms: 25.0,
            frame_shift_ms: 10.0,
            num_mel_bins: 128,
            low_freq: 20.0,
            high_freq: 0.0,
            preemphasis: 0.97,
            remove_dc_offset: true,
            window: KaldiWindow::Povey,
        }
    }
}

fn kaldi_mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

/// Kaldi fbank of `signal`: `frames × num_mel_bins` natural-log energies,
/// with `snip_edges` framing (only whole windows).
pub fn kaldi_fbank(signal: &[f32], c: &KaldiFbankConfig) -> MelSpectrogram {
    let sr = f64::from(c.sample_rate);
    let win = (sr * c.frame_length_ms / 1000.0) as usize;
    let shift = ((sr * c.frame_shift_ms / 1000.0) as usize).max(1);
    let padded = win.next_power_of_two();
    let frames = if signal.len() < win || win == 0 { 0 } else { 1 + (signal.len() - win) / shift };
    let window = match c.window {
        KaldiWindow::Povey => povey(win),
        KaldiWindow::Hanning => hann_symmetric(win),
    };
    // Triangles in Kaldi's mel scale over bins 0..padded/2; the Nyquist bin
    // gets weight 0, as torchaudio pads it.
    let nyquist = sr / 2.0;
    let high = if c.high_freq <= 0.0 { nyquist + c.high_freq } else { c.high_freq };
    let (mel_lo, mel_hi) = (kaldi_mel(c.low_freq), kaldi_mel(high));
    let delta = (mel_hi - mel_lo) / (c.num_mel_bins as f64 + 1.0);
    let bin_mels: Vec<f64> = (0..padded / 2).map(|k| kaldi_mel(k as f64 * sr / padded as f64)).collect();
    let banks: Vec<Vec<f64>> = (0..c.num_mel_bins)
        .map(|b| {
            let (l, m, r) = (mel_lo + b as f64 * delta, mel_lo + (b as f64 + 1.0) * delta, mel_lo + (b as f64 + 2.0) * delta);
            bin_mels.iter().map(|&mel| ((mel - l) / (m - l)).min((r - mel) / (r - m)).max(0.0)).collect()
        })
        .collect();

    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(padded);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut power = vec![0.0f64; padded / 2];
    let mut data = Vec::with_capacity(frames * c.num_mel_bins);
    let mut frame = vec![0.0f64; win];
    for t in 0..frames {
        for (f, &s) in frame.iter_mut().zip(&signal[t * shift..t * shift + win]) {
            *f = f64::from(s);
        }
        if c.remove_dc_offset {
            let mean = frame.iter().sum::<f64>() / win as f64;
            frame.iter_mut().for_each(|f| *f -= mean);
        }
        if c.preemphasis != 0.0 {
            for i in (1..win).rev() {
                frame[i] -= c.preemphasis * frame[i - 1];
            }
            frame[0] -= c.preemphasis * frame[0];
        }
        input.iter_mut().for_each(|x| *x = 0.0);
        for ((x, f), w) in input.iter_mut().zip(&frame).zip(&window) {
            *x = f * w;
        }
        let _ = fft.process(&mut input, &mut spectrum);
        for (p, s) in power.iter_mut().zip(&spectrum) {
            *p = s.norm_sqr();
        }
        for bank in &banks {
            let e: f64 = bank.iter().zip(&power).map(|(w, p)| w * p).sum();
            data.push(e.max(f64::from(f32::EPSILON)).ln() as f32);
        }
    }
    MelSpectrogram { n_mels: c.num_mel_bins, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_tone_peak() {
        let c = KaldiFbankConfig { num_mel_bins: 40, ..Default::default() };
        let n = 16000;
        let tone: Vec<f32> = (0..n).map(|i| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 16000.0).sin() as f32 * 0.5).collect();
        let fb = kaldi_fbank(&tone, &c);
        // 400-sample windows every 160 samples: 1 + (16000 - 400) / 160.
        assert_eq!(fb.frames(), 98);
        let frame = fb.frame(50);
        let peak = frame.iter().enumerate().fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m }).0;
        // Centre of bin b is at mel_lo + (b+1)·delta; 1 kHz is near bin 14 of 40.
        let delta = (kaldi_mel(8000.0) - kaldi_mel(20.0)) / 41.0;
        let expect = ((kaldi_mel(1000.0) - kaldi_mel(20.0)) / delta - 1.0).round() as usize;
        assert_eq!(peak, expect);
        assert!(fb.data.iter().all(|v| v.is_finite()));
        // Silence hits the floor, log(f32::EPSILON).
        let silent = kaldi_fbank(&vec![0.0; 800], &c);
        assert!(silent.data.iter().all(|&v| (v - f32::EPSILON.ln()).abs() < 1e-6));
    }
}
