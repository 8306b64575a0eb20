//! Segmenter: finds breath cycles (lung mode) or S1/S2 heart sounds (heart
//! mode) and reports them as events. Audio passes through unchanged.
//!
//! Both modes work on an envelope sampled on a fixed grid of `hop` input
//! samples (10 ms lung, 20 ms heart), so decisions never depend on how the
//! host cuts the stream into blocks.
//!
//! - **Lung**: 100–1000 Hz band energy in dB, smoothed; a noise floor that
//!   follows minima quickly and rises slowly, and a peak follower that decays;
//!   sound starts above `floor + 0.5·(peak − floor)` and ends below
//!   `floor + 0.25·(peak − floor)` (hysteresis). The breathing period comes
//!   from the autocorrelation of the last 15 s of envelope. A sound onset
//!   starts a new cycle (and ends the previous one) when it comes at least
//!   0.6 of a period and `min_cycle_s` after the last boundary (closer, it is
//!   the same breath's expiration); when no onset comes for 1.4 periods, the
//!   boundary is placed one period on (a quiet breath); a cycle longer than
//!   `max_cycle_s` is cut.
//! - **Heart**: a duration-dependent hidden semi-Markov model (Schmidt,
//!   Springer) over a 20 ms envelope of the 40–200 Hz band, decoded over
//!   the last 8 s every 0.5 s; see `heart.rs`. Onsets are reported 1 s
//!   after they happen (the decoder's look-ahead), the last second's when
//!   the host ends the stream (`flush`), S1 and S2 each carrying
//!   the heart rate of the window that found them, in beats per minute.

mod heart;

use std::f64::consts::PI;
use std::ffi::CStr;

use auscult_plugin_api::{export_plugin, param, EventKind, Events, ParamDescriptor, ParamScale, Plugin, PluginError};
use heart::HeartHsmm;

const MODE: u32 = 0;
const MIN_CYCLE_S: u32 = 1;
const MAX_CYCLE_S: u32 = 2;
const MAX_BPM: u32 = 3;

/// An RBJ-cookbook biquad (transposed direct form II, f64).
#[derive(Clone, Copy, Default)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Biquad {
    fn highpass(fs: f64, f0: f64) -> Biquad {
        let (w, q) = (2.0 * PI * f0 / fs, std::f64::consts::FRAC_1_SQRT_2);
        let (c, alpha) = (w.cos(), w.sin() / (2.0 * q));
        let a0 = 1.0 + alpha;
        Biquad { b: [(1.0 + c) / 2.0 / a0, -(1.0 + c) / a0, (1.0 + c) / 2.0 / a0], a: [-2.0 * c / a0, (1.0 - alpha) / a0], z: [0.0; 2] }
    }
    fn lowpass(fs: f64, f0: f64) -> Biquad {
        let (w, q) = (2.0 * PI * f0.min(0.45 * fs) / fs, std::f64::consts::FRAC_1_SQRT_2);
        let (c, alpha) = (w.cos(), w.sin() / (2.0 * q));
        let a0 = 1.0 + alpha;
        Biquad { b: [(1.0 - c) / 2.0 / a0, (1.0 - c) / a0, (1.0 - c) / 2.0 / a0], a: [-2.0 * c / a0, (1.0 - alpha) / a0], z: [0.0; 2] }
    }
    fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

/// Lung mode: onsets closer than this share of the breathing period to the
/// last boundary belong to the same breath; with none for this many periods,
/// a breath was missed.
const LUNG_SAME_BREATH: f64 = 0.6;
const LUNG_MISSED_BREATH: f64 = 1.4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Lung,
    Heart,
}

/// Signal state; `reset` restores `State::default()`.
#[derive(Clone, Copy, Default)]
struct State {
    hp: Biquad,
    lp: Biquad,
    /// Heart: the low and high pitch bands (high-pass, low-pass each) and
    /// their energy over the current hop.
    pitch_low: [Biquad; 2],
    pitch_high: [Biquad; 2],
    acc_low: f64,
    acc_high: f64,
    /// Samples seen.
    n: u64,
    /// Accumulator over the current hop.
    acc: f64,
    acc_n: usize,
    /// Lung: smoothed envelope, dB.
    env: f64,
    env_ready: bool,
    floor: f64,
    peak: f64,
    /// Lung: inside a sound.
    active: bool,
    /// Lung: sample where the envelope last rose above the low threshold.
    rise_at: u64,
    /// Lung: last cycle boundary, if any.
    boundary: Option<u64>,
}

impl State {
    /// Smooths `x` into the envelope (time constant `tau` s) and updates
    /// the floor (follows minima at once, rises `rise` per second) and the
    /// peak (follows maxima at once, decays `decay` per second).
    fn follow(&mut self, x: f64, hop_s: f64, tau: f64, rise: f64, decay: f64) {
        if !self.env_ready {
            (self.env, self.floor, self.peak, self.env_ready) = (x, x, x, true);
        }
        let k = (-hop_s / tau).exp();
        self.env = k * self.env + (1.0 - k) * x;
        self.floor = self.env.min(self.floor + rise * hop_s);
        self.peak = self.env.max(self.peak - decay * hop_s);
    }
}

/// The period of a recurring sound (heart beats, breaths) from the
/// autocorrelation of its recent envelope, as Springer's segmentation
/// estimates the heart rate: a missed or an extra peak does not upset it.
struct PeriodTracker {
    /// Envelope values, circular; sized for the longest window of any mode.
    ring: Vec<f64>,
    /// The window in time order, mean removed, and the autocorrelation per
    /// lag: scratch reused by every estimate (no allocation while processing).
    linear: Vec<f64>,
    corr: Vec<f64>,
    /// This mode's settings.
    cfg: PeriodConfig,
    len: usize,
    next: usize,
    since_estimate: usize,
    /// Period in hops, once estimated.
    period: Option<f64>,
}

#[derive(Clone, Copy)]
struct PeriodConfig {
    /// Hops of envelope held.
    window: usize,
    /// Fewest hops before a first estimate, and hops between estimates.
    min_len: usize,
    every: usize,
    /// Lags searched, seconds.
    lags_s: (f64, f64),
    /// The shortest lag whose local peak reaches this share of the best is
    /// taken (1.0: the best itself). Breathing is irregular and a recording
    /// holds few breaths, so two or three periods often match about as well
    /// as one; heart beats are regular enough for the best.
    shortest_within: f64,
}

/// Lung: 15 s of 10 ms envelope, first estimate after 3 s, every 0.5 s,
/// the shortest lag within 80% of the best; the lags searched are set from
/// the cycle-duration parameters (see `period_config`).
const LUNG_PERIOD: PeriodConfig = PeriodConfig { window: 1500, min_len: 300, every: 50, lags_s: (1.2, 8.0), shortest_within: 0.8 };

impl PeriodTracker {
    fn new() -> PeriodTracker {
        let size = LUNG_PERIOD.window;
        PeriodTracker {
            ring: vec![0.0; size],
            linear: vec![0.0; size],
            corr: vec![0.0; size],
            cfg: LUNG_PERIOD,
            len: 0,
            next: 0,
            since_estimate: 0,
            period: None,
        }
    }

    fn configure(&mut self, cfg: PeriodConfig) {
        debug_assert!(cfg.window <= self.ring.len());
        self.cfg = cfg;
        self.reset();
    }

    fn reset(&mut self) {
        (self.len, self.next, self.since_estimate, self.period) = (0, 0, 0, None);
    }

    fn push(&mut self, env: f64, hop_s: f64) {
        let w = self.cfg.window;
        self.ring[self.next] = env;
        self.next = (self.next + 1) % w;
        self.len = (self.len + 1).min(w);
        self.since_estimate += 1;
        if self.len >= self.cfg.min_len && self.since_estimate >= self.cfg.every {
            self.since_estimate = 0;
            self.estimate(hop_s);
        }
    }

    /// The lag (within `lags_s`, at most 3/4 of the window held) where the
    /// mean-removed envelope matches itself: the best, or the shortest
    /// local peak within `shortest_within` of the best.
    fn estimate(&mut self, hop_s: f64) {
        let (n, w) = (self.len, self.cfg.window);
        let start = (self.next + w - n) % w;
        let x = &mut self.linear[..n];
        for (i, v) in x.iter_mut().enumerate() {
            *v = self.ring[(start + i) % w];
        }
        let mean = x.iter().sum::<f64>() / n as f64;
        x.iter_mut().for_each(|v| *v -= mean);
        let x = &self.linear[..n];
        let lo = ((self.cfg.lags_s.0 / hop_s).round() as usize).max(1);
        let hi = ((self.cfg.lags_s.1 / hop_s).round() as usize).min(n * 3 / 4);
        if hi < lo {
            return;
        }
        let mut best: Option<(usize, f64)> = None;
        for lag in lo..=hi {
            let r = x[..n - lag].iter().zip(&x[lag..]).map(|(a, b)| a * b).sum::<f64>() / (n - lag) as f64;
            self.corr[lag - lo] = r;
            if best.is_none_or(|(_, b)| r > b) {
                best = Some((lag, r));
            }
        }
        let Some((mut lag, r)) = best else { return };
        if r <= 0.0 {
            return;
        }
        if self.cfg.shortest_within < 1.0 {
            let c = &self.corr[..=hi - lo];
            if let Some(i) = (1..c.len().saturating_sub(1)).find(|&i| c[i] >= c[i - 1] && c[i] >= c[i + 1] && c[i] >= self.cfg.shortest_within * r) {
                lag = lo + i;
            }
        }
        self.period = Some(lag as f64);
    }
}

pub struct Segmenter {
    fs: f64,
    mode: Mode,
    min_cycle_s: f64,
    max_cycle_s: f64,
    max_bpm: f64,
    hop: usize,
    s: State,
    rate: PeriodTracker,
    heart: HeartHsmm,
}

impl Segmenter {
    fn fresh_state(&self) -> State {
        let (hp, lp) = match self.mode {
            Mode::Lung => (Biquad::highpass(self.fs, 100.0), Biquad::lowpass(self.fs, 1000.0)),
            Mode::Heart => (Biquad::highpass(self.fs, 40.0), Biquad::lowpass(self.fs, 200.0)),
        };
        let band = |(low, high): (f64, f64)| [Biquad::highpass(self.fs, low), Biquad::lowpass(self.fs, high)];
        State { hp, lp, pitch_low: band(heart::PITCH_LOW_HZ), pitch_high: band(heart::PITCH_HIGH_HZ), ..State::default() }
    }

    fn configure(&mut self) {
        self.hop = match self.mode {
            Mode::Lung => (self.fs * 0.010).round() as usize,
            Mode::Heart => HeartHsmm::frame_len(self.fs),
        }
        .max(1);
        self.s = self.fresh_state();
        self.rate.configure(self.period_config());
        self.heart.reset();
    }

    /// Lung: periods from a little under the shortest cycle allowed to the longest.
    fn period_config(&self) -> PeriodConfig {
        PeriodConfig { lags_s: (0.8 * self.min_cycle_s, self.max_cycle_s), ..LUNG_PERIOD }
    }

    /// One envelope value per hop; `now` is the sample index of the hop's end.
    fn on_hop(&mut self, value: f64, pitch: f64, now: u64, block_start: u64, events: &mut Events<'_>) {
        let hop_s = self.hop as f64 / self.fs;
        let s = &mut self.s;
        let offset = |at: u64| at as i64 - block_start as i64;
        match self.mode {
            Mode::Lung => {
                // Energy in dB, ~100 ms smoothing; the floor rises 1 dB/s,
                // the peak decays 2 dB/s.
                s.follow(10.0 * (value + 1e-12).log10(), hop_s, 0.1, 1.0, 2.0);
                self.rate.push(s.env, hop_s);
                let period = self.rate.period.map(|p| p * hop_s * self.fs);
                let range = (s.peak - s.floor).max(6.0);
                let (high, low) = (s.floor + 0.5 * range, s.floor + 0.25 * range);
                if !s.active {
                    if s.env < low {
                        s.rise_at = now;
                    } else if s.env > high {
                        s.active = true;
                        let start = s.rise_at;
                        // An onset less than LUNG_SAME_BREATH of a period after
                        // the last boundary is the same breath's expiration.
                        let min_gap = period.map_or(0.0, |p| LUNG_SAME_BREATH * p).max(self.min_cycle_s * self.fs);
                        let far_enough = s.boundary.is_none_or(|b| (start.saturating_sub(b)) as f64 >= min_gap);
                        if far_enough {
                            if s.boundary.is_some() {
                                events.push(offset(start), EventKind::CycleEnd, 0.0);
                            }
                            events.push(offset(start), EventKind::CycleStart, 0.0);
                            s.boundary = Some(start);
                        }
                    }
                } else if s.env < low {
                    s.active = false;
                    s.rise_at = now;
                }
                // No onset where the next breath was due: a quiet breath.
                // Keep the rhythm (a flywheel) and place the boundary one
                // period on.
                if let (Some(b), Some(p)) = (s.boundary, period) {
                    if (now - b) as f64 >= LUNG_MISSED_BREATH * p {
                        let at = b + p.round() as u64;
                        events.push(offset(at), EventKind::CycleEnd, 0.0);
                        events.push(offset(at), EventKind::CycleStart, 0.0);
                        s.boundary = Some(at);
                    }
                }
                if let Some(b) = s.boundary {
                    if (now - b) as f64 >= self.max_cycle_s * self.fs {
                        events.push(offset(now), EventKind::CycleEnd, 0.0);
                        events.push(offset(now), EventKind::CycleStart, 0.0);
                        s.boundary = Some(now);
                    }
                }
            }
            Mode::Heart => {
                let hop = self.hop as i64;
                self.heart.push(value, pitch, |onset| {
                    let kind = if onset.s1 { EventKind::S1 } else { EventKind::S2 };
                    events.push(onset.frame as i64 * hop - block_start as i64, kind, onset.bpm as f32);
                });
            }
        }
    }
}

impl Plugin for Segmenter {
    const ID: &'static CStr = c"org.auscult.segment";
    const NAME: &'static CStr = c"Segmenter";
    const VERSION: &'static CStr = c"1.2.0";
    const DESCRIPTION: &'static CStr = c"Breath cycles (lung) or S1/S2 (heart) as events; audio unchanged";
    const PARAMS: &'static [ParamDescriptor] = &[
        // 0 = lung, 1 = heart
        param(MODE, c"mode", c"", 0.0, 1.0, 0.0, ParamScale::Integer),
        param(MIN_CYCLE_S, c"min_cycle_s", c"s", 0.3, 10.0, 1.5, ParamScale::Linear),
        param(MAX_CYCLE_S, c"max_cycle_s", c"s", 1.0, 30.0, 8.0, ParamScale::Linear),
        param(MAX_BPM, c"max_bpm", c"bpm", 60.0, 240.0, 150.0, ParamScale::Linear),
    ];

    fn new(sample_rate: f64, _max_block: usize) -> Result<Self, PluginError> {
        let mut s = Segmenter {
            fs: sample_rate,
            mode: Mode::Lung,
            min_cycle_s: 1.5,
            max_cycle_s: 8.0,
            max_bpm: 150.0,
            hop: 1,
            s: State::default(),
            rate: PeriodTracker::new(),
            heart: HeartHsmm::new(150.0),
        };
        s.configure();
        Ok(s)
    }

    fn process(&mut self, input: &[f32], output: &mut [f32], events: &mut Events<'_>) -> Result<(), PluginError> {
        output.copy_from_slice(input);
        let block_start = self.s.n;
        for &x in input {
            let y = self.s.lp.run(self.s.hp.run(f64::from(x)));
            self.s.acc += match self.mode {
                Mode::Lung => y * y,
                Mode::Heart => y.abs(),
            };
            if self.mode == Mode::Heart {
                let s = &mut self.s;
                let [low_hp, low_lp] = &mut s.pitch_low;
                let low = low_lp.run(low_hp.run(f64::from(x)));
                let [high_hp, high_lp] = &mut s.pitch_high;
                let high = high_lp.run(high_hp.run(f64::from(x)));
                s.acc_low += low * low;
                s.acc_high += high * high;
            }
            self.s.acc_n += 1;
            self.s.n += 1;
            if self.s.acc_n == self.hop {
                let value = self.s.acc / self.hop as f64;
                let pitch = (self.s.acc_high + 1e-12).ln() - (self.s.acc_low + 1e-12).ln();
                (self.s.acc, self.s.acc_low, self.s.acc_high) = (0.0, 0.0, 0.0);
                self.s.acc_n = 0;
                let now = self.s.n;
                self.on_hop(value, pitch, now, block_start, events);
            }
        }
        Ok(())
    }

    fn set_param(&mut self, id: u32, value: f64) -> Result<(), PluginError> {
        match id {
            MODE => {
                self.mode = if value == 0.0 { Mode::Lung } else { Mode::Heart };
                self.configure();
            }
            MIN_CYCLE_S if value >= self.max_cycle_s => return Err(PluginError::invalid_argument("min_cycle_s must be below max_cycle_s")),
            MIN_CYCLE_S => {
                self.min_cycle_s = value;
                self.rate.cfg = self.period_config();
            }
            MAX_CYCLE_S if value <= self.min_cycle_s => return Err(PluginError::invalid_argument("max_cycle_s must be above min_cycle_s")),
            MAX_CYCLE_S => {
                self.max_cycle_s = value;
                self.rate.cfg = self.period_config();
            }
            MAX_BPM => {
                self.max_bpm = value;
                self.heart.shortest_period_s = 60.0 / value;
            }
            _ => return Err(PluginError::new("unknown parameter")),
        }
        Ok(())
    }

    fn get_param(&self, id: u32) -> Option<f64> {
        match id {
            MODE => Some(if self.mode == Mode::Lung { 0.0 } else { 1.0 }),
            MIN_CYCLE_S => Some(self.min_cycle_s),
            MAX_CYCLE_S => Some(self.max_cycle_s),
            MAX_BPM => Some(self.max_bpm),
            _ => None,
        }
    }

    fn reset(&mut self) {
        self.s = self.fresh_state();
        self.rate.reset();
        self.heart.reset();
    }

    // Heart mode holds each onset back a second for the next window to
    // confirm; lung mode reports as it goes.
    const FLUSHES: bool = true;

    fn flush(&mut self, events: &mut Events<'_>) -> Result<(), PluginError> {
        if self.mode == Mode::Heart {
            let (hop, end) = (self.hop as i64, self.s.n as i64);
            self.heart.flush(|onset| {
                let kind = if onset.s1 { EventKind::S1 } else { EventKind::S2 };
                events.push(onset.frame as i64 * hop - end, kind, onset.bpm as f32);
            });
        }
        Ok(())
    }
}

export_plugin!(Segmenter);

#[cfg(test)]
auscult_plugin_api::no_alloc_test!(Segmenter);
