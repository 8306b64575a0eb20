//! Analysis windows.

use std::f64::consts::PI;

/// Periodic Hann window (`scipy.signal.get_window("hann", n, fftbins=True)`),
/// the one librosa uses: `0.5 - 0.5 cos(2πi/n)`.
pub fn hann_periodic(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos()).collect()
}

/// Symmetric Hann window, `0.5 - 0.5 cos(2πi/(n-1))` (Kaldi's "hanning").
pub fn hann_symmetric(n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![1.0];
    }
    (0..n).map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / (n - 1) as f64).cos()).collect()
}

/// Kaldi's default "povey" window: a symmetric Hann raised to 0.85.
pub fn povey(n: usize) -> Vec<f64> {
    hann_symmetric(n).into_iter().map(|w| w.powf(0.85)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_hann_matches_its_definition() {
        let w = hann_periodic(4);
        let expect = [0.0, 0.5, 1.0, 0.5];
        for (a, b) in w.iter().zip(expect) {
            assert!((a - b).abs() < 1e-15);
        }
        let s = hann_symmetric(5);
        assert!((s[0]).abs() < 1e-15 && (s[2] - 1.0).abs() < 1e-15 && (s[4]).abs() < 1e-15);
    }
}
