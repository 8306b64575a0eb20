//! Mel filterbanks, stored sparsely.
//!
//! Each triangular filter is non-zero over a few FFT bins only, so a band is
//! kept as (first bin, weights) and applying the bank costs about two
//! multiply-adds per bin instead of `n_mels` (what a dense product costs).
//! Weights follow `librosa.filters.mel` exactly, including its float32
//! storage.

use serde::{Deserialize, Serialize};

/// Which Hz <-> mel formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MelScale {
    /// Slaney's Auditory Toolbox: linear below 1 kHz, log above (librosa's
    /// default).
    #[default]
    Slaney,
    /// HTK: `2595 log10(1 + f/700)`.
    Htk,
}

// Slaney scale constants, as in librosa.core.convert.hz_to_mel.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

pub fn hz_to_mel(hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + hz / 700.0).log10(),
        MelScale::Slaney if hz >= MIN_LOG_HZ => MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step(),
        MelScale::Slaney => hz / F_SP,
    }
}

pub fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(mel / 2595.0) - 1.0),
        MelScale::Slaney if mel >= MIN_LOG_MEL => MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp(),
        MelScale::Slaney => F_SP * mel,
    }
}

/// `n` frequencies evenly spaced in mel between `fmin` and `fmax`
/// (`librosa.mel_frequencies`).
pub fn mel_frequencies(n: usize, fmin: f64, fmax: f64, scale: MelScale) -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(fmin, scale), hz_to_mel(fmax, scale));
    (0..n)
        .map(|i| {
            let t = if n > 1 { i as f64 / (n - 1) as f64 } else { 0.0 };
            mel_to_hz(lo + (hi - lo) * t, scale)
        })
        .collect()
}

/// One triangular filter: `weights[k]` applies to FFT bin `start + k`.
#[derive(Debug, Clone, PartialEq)]
pub struct MelBand {
    pub start: usize,
    pub weights: Vec<f32>,
}

/// A mel filterbank over `n_bins = n_fft/2 + 1` FFT bins.
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilterbank {
    pub bands: Vec<MelBand>,
    pub n_bins: usize,
}

impl MelFilterbank {
    /// `librosa.filters.mel(sr=, n_fft=, n_mels=, fmin=, fmax=, htk=, norm=)`
    /// with `norm="slaney"` when `slaney_norm` (area normalisation), else none.
    pub fn librosa(sample_rate: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64, scale: MelScale, slaney_norm: bool) -> MelFilterbank {
        let n_bins = n_fft / 2 + 1;
        let fft_freqs: Vec<f64> = (0..n_bins).map(|i| i as f64 * sample_rate / n_fft as f64).collect();
        let mel_f = mel_frequencies(n_mels + 2, fmin, fmax, scale);
        let bands = (0..n_mels)
            .map(|i| {
                let (lo, mid, hi) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
                let enorm = if slaney_norm { 2.0 / (hi - lo) } else { 1.0 };
                let dense: Vec<f32> = fft_freqs
                    .iter()
                    .map(|&f| {
                        // librosa: lower = -(mel_f[i] - f)/fdiff[i]; upper = (mel_f[i+2] - f)/fdiff[i+1]
                        let lower = (f - lo) / (mid - lo);
                        let upper = (hi - f) / (hi - mid);
                        // Rounded to float32 before normalising, as librosa stores it.
                        let w = lower.min(upper).max(0.0) as f32;
                        (f64::from(w) * enorm) as f32
                    })
                    .collect();
                sparse(dense)
            })
            .collect();
        MelFilterbank { bands, n_bins }
    }

    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    /// `out[m] = Σ_k weight[m][k] · spectrum[k]`, accumulated in f64.
    pub fn apply(&self, spectrum: &[f64], out: &mut [f32]) {
        for (o, band) in out.iter_mut().zip(&self.bands) {
            let bins = &spectrum[band.start..band.start + band.weights.len()];
            let mut acc = 0.0f64;
            for (&w, &s) in band.weights.iter().zip(bins) {
                acc += f64::from(w) * s;
            }
            *o = acc as f32;
        }
    }

    /// The dense `(n_mels, n_bins)` matrix, row-major (for tests and export).
    pub fn to_dense(&self) -> Vec<f32> {
        let mut m = vec![0.0; self.n_mels() * self.n_bins];
        for (i, b) in self.bands.iter().enumerate() {
            m[i * self.n_bins + b.start..i * self.n_bins + b.start + b.weights.len()].copy_from_slice(&b.weights);
        }
        m
    }
}

/// Keeps the non-zero stretch of a dense row.
fn sparse(dense: Vec<f32>) -> MelBand {
    let first = dense.iter().position(|&w| w != 0.0);
    let last = dense.iter().rposition(|&w| w != 0.0);
    match (first, last) {
        (Some(a), Some(b)) => MelBand { start: a, weights: dense[a..=b].to_vec() },
        // An empty filter (too many mels for the FFT size), as librosa warns.
        _ => MelBand { start: 0, weights: Vec::new() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_match_librosa_values() {
        // librosa.hz_to_mel(1000) == 15; hz_to_mel(4000) == 35.16..; htk 1000 Hz == 999.98..
        assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(4000.0, MelScale::Slaney) - 35.163_760_314_616_646).abs() < 1e-9);
        assert!((hz_to_mel(1000.0, MelScale::Htk) - 999.985_537_139_624_4).abs() < 1e-9);
        for hz in [0.0, 50.0, 999.0, 1000.0, 3000.0, 11025.0] {
            for s in [MelScale::Slaney, MelScale::Htk] {
                assert!((mel_to_hz(hz_to_mel(hz, s), s) - hz).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn bands_are_sparse_and_cover_the_range() {
        let fb = MelFilterbank::librosa(22050.0, 2048, 128, 0.0, 11025.0, MelScale::Slaney, true);
        assert_eq!(fb.n_mels(), 128);
        let stored: usize = fb.bands.iter().map(|b| b.weights.len()).sum();
        assert!(stored < 3 * fb.n_bins, "sparse storage: {stored} weights for {} bins", fb.n_bins);
        // Consecutive triangles overlap: band i+1 starts before band i ends.
        for w in fb.bands.windows(2) {
            assert!(w[1].start <= w[0].start + w[0].weights.len());
        }
    }
}
