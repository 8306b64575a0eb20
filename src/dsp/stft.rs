//! Short-time Fourier analysis, as librosa does it.
//!
//! Frames are windowed with a periodic Hann window and transformed with a
//! real FFT planned once (realfft over rustfft). Arithmetic is in `f64`:
//! librosa multiplies a float32 signal by a float64 window, so numpy's FFT
//! runs in double precision, and matching its quietest bins needs the same.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

/// How `center = true` pads the signal's ends by `n_fft / 2` samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    /// Zeros (librosa ≥ 0.10 default).
    #[default]
    Constant,
    /// Mirror without repeating the edge sample (numpy's "reflect").
    Reflect,
}

/// Pads `signal` with `pad` samples on both sides.
///
/// Reflect padding of a signal shorter than `pad + 1` samples falls back to
/// repeated reflection, as numpy does.
pub fn pad_signal(signal: &[f32], pad: usize, mode: PadMode) -> Vec<f32> {
    let mut out = Vec::with_capacity(signal.len() + 2 * pad);
    match mode {
        PadMode::Constant => {
            out.resize(pad, 0.0);
            out.extend_from_slice(signal);
            out.resize(signal.len() + 2 * pad, 0.0);
        }
        PadMode::Reflect => {
            let n = signal.len() as isize;
            let reflect = |mut i: isize| -> f32 {
                if n == 1 {
                    return signal[0];
                }
                let period = 2 * (n - 1);
                i = i.rem_euclid(period);
                if i >= n {
                    i = period - i;
                }
                signal[i as usize]
            };
            for i in -(pad as isize)..(n + pad as isize) {
                out.push(reflect(i));
            }
        }
    }
    out
}

/// Number of frames librosa produces for `len` samples.
pub fn frame_count(len: usize, n_fft: usize, hop: usize, center: bool) -> usize {
    let padded = if center { len + 2 * (n_fft / 2) } else { len };
    if padded < n_fft {
        0
    } else {
        1 + (padded - n_fft) / hop
    }
}

/// Windows one frame and computes `|X|^power` for its `n_fft / 2 + 1` bins.
/// Everything is allocated in [`FrameAnalyzer::new`]; `analyze` does not
/// allocate.
pub struct FrameAnalyzer {
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    input: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    power: f64,
}

impl FrameAnalyzer {
    pub fn new(window: Vec<f64>, power: f64) -> FrameAnalyzer {
        let n_fft = window.len();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n_fft);
        FrameAnalyzer { input: fft.make_input_vec(), spectrum: fft.make_output_vec(), scratch: fft.make_scratch_vec(), fft, window, power }
    }

    pub fn n_fft(&self) -> usize {
        self.window.len()
    }

    pub fn n_bins(&self) -> usize {
        self.window.len() / 2 + 1
    }

    /// `frame.len() == n_fft`; writes `n_bins` values to `out`.
    pub fn analyze(&mut self, frame: &[f32], out: &mut [f64]) {
        for ((x, &s), &w) in self.input.iter_mut().zip(frame).zip(&self.window) {
            *x = f64::from(s) * w;
        }
        // Lengths are fixed at construction, so this cannot fail.
        let _ = self.fft.process_with_scratch(&mut self.input, &mut self.spectrum, &mut self.scratch);
        let power = self.power;
        for (o, c) in out.iter_mut().zip(&self.spectrum) {
            let p = c.norm_sqr();
            *o = if power == 2.0 {
                p
            } else if power == 1.0 {
                p.sqrt()
            } else {
                p.powf(power / 2.0)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_modes_match_numpy() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(pad_signal(&x, 2, PadMode::Constant), vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
        // np.pad([1,2,3,4], 2, mode="reflect") -> [3,2,1,2,3,4,3,2]
        assert_eq!(pad_signal(&x, 2, PadMode::Reflect), vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]);
        // np.pad([1,2], 3, mode="reflect") -> [2,1,2,1,2,1,2,1]
        assert_eq!(pad_signal(&[1.0, 2.0], 3, PadMode::Reflect), vec![2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0]);
    }

    #[test]
    fn frame_counts_match_librosa() {
        // librosa.stft(np.zeros(1000), n_fft=256, hop_length=64).shape[1] == 16
        assert_eq!(frame_count(1000, 256, 64, true), 16);
        assert_eq!(frame_count(1000, 256, 64, false), 12);
        assert_eq!(frame_count(100, 256, 64, false), 0);
    }

    #[test]
    fn a_bin_centred_sine_lands_in_its_bin() {
        let n = 64;
        let mut fa = FrameAnalyzer::new(crate::dsp::window::hann_periodic(n), 2.0);
        let frame: Vec<f32> = (0..n).map(|i| (2.0 * std::f64::consts::PI * 8.0 * i as f64 / n as f64).cos() as f32).collect();
        let mut out = vec![0.0; fa.n_bins()];
        fa.analyze(&frame, &mut out);
        let peak = out.iter().enumerate().fold((0, 0.0), |m, (i, &v)| if v > m.1 { (i, v) } else { m });
        assert_eq!(peak.0, 8);
        // Hann main lobe: bin 8 holds (n/4)^2, bins 7 and 9 (n/8)^2 each
        // (librosa gives 256 and 64); the f32 input limits agreement.
        assert!((out[8] - (n as f64 / 4.0).powi(2)).abs() < 1e-4, "{}", out[8]);
        assert!((out[7] - (n as f64 / 8.0).powi(2)).abs() < 1e-4, "{}", out[7]);
        assert!(out[5] < 1e-9);
    }
}
