//! Butterworth band-pass filter as cascaded second-order sections.
//!
//! Designed as `scipy.signal.butter(order, [low, high], btype="band",
//! output="sos", fs=sample_rate)` is: an analog Butterworth low-pass
//! prototype, the low-pass to band-pass transform with pre-warped edges, and
//! the bilinear transform; then run in transposed direct form II, as
//! `scipy.signal.sosfilt` does, in f64. `order` is the prototype's order, so
//! the filter has `order` sections and each edge rolls off at
//! `6·order` dB per octave.
//!
//! Presets (chain files in plugins/chains/): lung 100–2000 Hz, heart
//! 25–400 Hz. The defaults, 100–1800 Hz, work at every rate from 4 kHz up.

use std::f64::consts::PI;
use std::ffi::CStr;

use auscult_plugin_api::{export_plugin, param, Events, ParamDescriptor, ParamScale, Plugin, PluginError};
use num_complex::Complex64;

const LOW_HZ: u32 = 0;
const HIGH_HZ: u32 = 1;
const ORDER: u32 = 2;

pub const MAX_ORDER: usize = 8;

/// One biquad: `b0 b1 b2 / 1 a1 a2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Section {
    pub b: [f64; 3],
    pub a: [f64; 2],
}

/// The sections of a design, in place: `MAX_ORDER` slots, the first
/// `len` used (no allocation, so `set_param` can redesign on any thread).
#[derive(Clone, Copy)]
pub struct Sections {
    slots: [Section; MAX_ORDER],
    len: usize,
}

impl std::ops::Deref for Sections {
    type Target = [Section];
    fn deref(&self) -> &[Section] {
        &self.slots[..self.len]
    }
}

/// Designs the band-pass; `None` if the edges are not `0 < low < high <
/// fs/2` or the order is not 1 to `MAX_ORDER`. Allocates nothing.
pub fn butter_bandpass(order: usize, low: f64, high: f64, fs: f64) -> Option<Sections> {
    if !((1..=MAX_ORDER).contains(&order) && low > 0.0 && low < high && high < fs / 2.0) {
        return None;
    }
    // Pre-warped analog edges (rad/s), with scipy's fs2 = 2·fs.
    let fs2 = 2.0 * fs;
    let w1 = fs2 * (PI * low / fs).tan();
    let w2 = fs2 * (PI * high / fs).tan();
    let (bw, w0) = (w2 - w1, (w1 * w2).sqrt());
    // Prototype poles on the left half of the unit circle, upper half only
    // (plus the real pole for odd orders): conjugates are implied.
    let mut analog = [Complex64::default(); 2 * MAX_ORDER];
    for k in 0..order {
        let theta = PI * (2 * k + order + 1) as f64 / (2 * order) as f64;
        let p = Complex64::from_polar(1.0, theta);
        // Low-pass to band-pass: each prototype pole p gives two poles.
        let half = p * bw / 2.0;
        let root = (half * half - w0 * w0).sqrt();
        analog[2 * k] = half + root;
        analog[2 * k + 1] = half - root;
    }
    let analog = &analog[..2 * order];
    // Gain: prototype gain 1, times bw^order from the transform, times the
    // bilinear factor for `order` zeros at s = 0 (the rest at infinity).
    let num: Complex64 = Complex64::new(fs2, 0.0).powu(order as u32);
    let den: Complex64 = analog.iter().map(|&s| fs2 - s).product();
    let gain = bw.powi(order as i32) * (num / den).re;

    // Pair each pole with its conjugate: keep those in the upper half-plane
    // (and pair real poles two by two).
    let (mut upper, mut n_upper) = ([Complex64::default(); 2 * MAX_ORDER], 0);
    let (mut real, mut n_real) = ([0.0f64; 2 * MAX_ORDER], 0);
    for z in analog.iter().map(|&s| (fs2 + s) / (fs2 - s)) {
        if z.im > 1e-12 {
            upper[n_upper] = z;
            n_upper += 1;
        } else if z.im.abs() <= 1e-12 {
            real[n_real] = z.re;
            n_real += 1;
        }
    }
    let (upper, real) = (&mut upper[..n_upper], &mut real[..n_real]);
    // Unstable sorts: the stable ones may allocate a buffer.
    upper.sort_unstable_by(|a, b| a.norm().total_cmp(&b.norm()));
    real.sort_unstable_by(|a, b| a.total_cmp(b));
    let mut out = Sections { slots: [Section { b: [0.0; 3], a: [0.0; 2] }; MAX_ORDER], len: 0 };
    let sections = upper.iter().map(|z| [-2.0 * z.re, z.norm_sqr()]).chain(real.chunks(2).map(|pair| {
        let (p1, p2) = (pair[0], *pair.get(1).unwrap_or(&0.0));
        [-(p1 + p2), p1 * p2]
    }));
    for a in sections {
        if out.len == MAX_ORDER {
            return None;
        }
        out.slots[out.len] = Section { b: [1.0, 0.0, -1.0], a };
        out.len += 1;
    }
    if out.len != order {
        return None;
    }
    for b in &mut out.slots[0].b {
        *b *= gain;
    }
    Some(out)
}

/// Magnitude of the cascade at `freq` Hz (for tests and tools).
pub fn magnitude(sections: &[Section], freq: f64, fs: f64) -> f64 {
    let z = Complex64::from_polar(1.0, -2.0 * PI * freq / fs); // z^-1
    sections
        .iter()
        .map(|s| {
            let num = s.b[0] + s.b[1] * z + s.b[2] * z * z;
            let den = 1.0 + s.a[0] * z + s.a[1] * z * z;
            (num / den).norm()
        })
        .product()
}

pub struct BandPass {
    sample_rate: f64,
    low: f64,
    high: f64,
    order: usize,
    sections: [Section; MAX_ORDER],
    active: usize,
    /// Transposed direct form II state, two values per section.
    state: [[f64; 2]; MAX_ORDER],
}

impl BandPass {
    fn redesign(&mut self, low: f64, high: f64, order: usize) -> Result<(), PluginError> {
        // Static messages: `set_param` is [no-alloc], its refusals too. The
        // host names the value and the limit it stopped at.
        if high >= self.sample_rate / 2.0 {
            return Err(PluginError::invalid_argument("high_hz must be below the Nyquist frequency, half the sample rate"));
        }
        if low >= high {
            return Err(PluginError::invalid_argument("low_hz must be below high_hz"));
        }
        let sections = butter_bandpass(order, low, high, self.sample_rate).ok_or_else(|| PluginError::invalid_argument("cannot design this band-pass"))?;
        self.sections[..order].copy_from_slice(&sections);
        self.active = order;
        (self.low, self.high, self.order) = (low, high, order);
        Ok(())
    }
}

impl Plugin for BandPass {
    const ID: &'static CStr = c"org.auscult.bandpass";
    const NAME: &'static CStr = c"Band-pass";
    const VERSION: &'static CStr = c"1.0.0";
    const DESCRIPTION: &'static CStr = c"Butterworth band-pass, cascaded second-order sections";
    const PARAMS: &'static [ParamDescriptor] = &[
        param(LOW_HZ, c"low_hz", c"Hz", 1.0, 20_000.0, 100.0, ParamScale::Log),
        param(HIGH_HZ, c"high_hz", c"Hz", 2.0, 24_000.0, 1800.0, ParamScale::Log),
        param(ORDER, c"order", c"", 2.0, 8.0, 4.0, ParamScale::Integer),
    ];

    fn new(sample_rate: f64, _max_block: usize) -> Result<Self, PluginError> {
        let mut bp = BandPass {
            sample_rate,
            low: 0.0,
            high: 0.0,
            order: 0,
            sections: [Section { b: [0.0; 3], a: [0.0; 2] }; MAX_ORDER],
            active: 0,
            state: [[0.0; 2]; MAX_ORDER],
        };
        bp.redesign(100.0, 1800.0, 4)?;
        Ok(bp)
    }

    fn process(&mut self, input: &[f32], output: &mut [f32], _: &mut Events<'_>) -> Result<(), PluginError> {
        let sections = &self.sections[..self.active];
        let state = &mut self.state[..self.active];
        for (o, &i) in output.iter_mut().zip(input) {
            let mut x = f64::from(i);
            for (s, z) in sections.iter().zip(state.iter_mut()) {
                let y = s.b[0] * x + z[0];
                z[0] = s.b[1] * x - s.a[0] * y + z[1];
                z[1] = s.b[2] * x - s.a[1] * y;
                x = y;
            }
            *o = x as f32;
        }
        Ok(())
    }

    /// The host applies a chain file's values in descriptor order (low, then
    /// high), so a band entirely above the default one arrives as a low edge
    /// above the current high edge. That case moves the high edge up an
    /// octave (below Nyquist) and the chain's high value then lands; a high
    /// edge at or below the low one is refused.
    fn set_param(&mut self, id: u32, value: f64) -> Result<(), PluginError> {
        let (low, high, order) = match id {
            LOW_HZ => (value, self.high, self.order),
            HIGH_HZ => (self.low, value, self.order),
            ORDER => (self.low, self.high, value as usize),
            _ => return Err(PluginError::new("unknown parameter")),
        };
        if id == LOW_HZ && low >= high {
            let nyquist = self.sample_rate / 2.0;
            let pushed = (low * 2.0).min(nyquist * 0.99);
            if pushed > low {
                return self.redesign(low, pushed, order);
            }
        }
        self.redesign(low, high, order)
    }

    fn get_param(&self, id: u32) -> Option<f64> {
        match id {
            LOW_HZ => Some(self.low),
            HIGH_HZ => Some(self.high),
            ORDER => Some(self.order as f64),
            _ => None,
        }
    }

    fn reset(&mut self) {
        self.state = [[0.0; 2]; MAX_ORDER];
    }
}

export_plugin!(BandPass);

#[cfg(test)]
mod tests {
    use super::*;

    fn db(x: f64) -> f64 {
        20.0 * x.log10()
    }

    #[test]
    fn edges_are_minus_three_db_and_octaves_outside_roll_off() {
        for (fs, lo, hi) in [(4000.0, 100.0, 1800.0), (44100.0, 100.0, 2000.0), (8000.0, 25.0, 400.0)] {
            for order in 2..=8 {
                let s = butter_bandpass(order, lo, hi, fs).unwrap();
                assert!((db(magnitude(&s, lo, fs)) + 3.0103).abs() < 0.01, "{fs} {order} low edge");
                assert!((db(magnitude(&s, hi, fs)) + 3.0103).abs() < 0.01, "{fs} {order} high edge");
                let centre = (lo * hi).sqrt();
                assert!(db(magnitude(&s, centre, fs)).abs() < 0.01, "unit gain at the centre");
                assert!(db(magnitude(&s, lo / 2.0, fs)) <= -6.0 * order as f64, "{fs} {order} octave below");
                if hi * 2.0 < fs / 2.0 {
                    assert!(db(magnitude(&s, hi * 2.0, fs)) <= -6.0 * order as f64, "{fs} {order} octave above");
                }
            }
        }
    }

    #[test]
    fn nyquist_and_inverted_edges_are_errors() {
        let mut bp = BandPass::new(4000.0, 64).unwrap();
        let err = bp.set_param(HIGH_HZ, 2000.0).unwrap_err();
        assert!(err.message.contains("Nyquist"), "{err}");
        assert_eq!(bp.get_param(HIGH_HZ), Some(1800.0), "a refused value changes nothing");
        let err = bp.set_param(HIGH_HZ, 50.0).unwrap_err();
        assert!(err.message.contains("below high_hz"), "{err}");
    }
}

#[cfg(test)]
auscult_plugin_api::no_alloc_test!(BandPass);
