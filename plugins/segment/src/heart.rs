//! Heart mode: S1 and S2 by a duration-dependent hidden semi-Markov model,
//! after Schmidt et al. (2010) and Springer et al. (2016), decoded over a
//! sliding window.
//!
//! The envelope is the log of the mean absolute value of the 40–200 Hz band
//! in 20 ms frames. Every 0.5 s the last 8 s of it are standardised and
//! decoded: the heart period is the highest autocorrelation peak between
//! 0.4 and 1.5 s (40–150 bpm; shorter lags catch the S1–S2 spacing instead
//! of the beat), the systolic interval the highest between 0.18 s and half
//! the period, and from those two Springer's duration distributions for S1,
//! systole, S2 and diastole. A frame's chance of being a sound (S1, S2)
//! rather than a silence (systole, diastole) is a logistic function of the
//! standardised envelope; which of the two sounds, a logistic function of
//! its pitch (the 150–400 Hz band's energy against the 40–120 Hz band's,
//! standardised over the window's sounds): S2 is the higher, and at fast
//! rates, where systole lasts about as long as diastole, the pitch is what
//! tells S1 from S2. The Viterbi path through the four states in their
//! fixed order gives the onsets; those older than 1 s (the decoder's
//! look-ahead) and not reported by an earlier window are reported; when the
//! host says the stream has ended (the end-of-stream extension), the last
//! window is decoded once more and its remaining onsets reported.
//!
//! Settings (band, frame, window, look-ahead, the logistic's slope and
//! centre) were chosen on the recordings of 60 CirCor patients, the pitch's
//! bands and weight, the shortest systole, how near a shorter period may
//! come, and diastole's spread on 300 recordings that include them (see
//! docs/plugins.md); every buffer is sized in `new`, so processing never
//! allocates.

/// Envelope frames per second.
const FRAME_RATE: f64 = 50.0;
/// Frames decoded at once (8 s), frames between decodes (0.5 s), frames
/// before the first (1.5 s), and the look-ahead (1 s): onsets closer than
/// this to the end of a window wait for the next.
const WINDOW: usize = 400;
const EVERY: usize = 25;
const FIRST: usize = 75;
const LOOK_AHEAD: usize = 50;
/// The longest heart period searched, seconds (40 bpm), and the shortest
/// systolic interval; the shortest period is `60 / max_bpm`.
const LONGEST_PERIOD_S: f64 = 1.5;
const MIN_SYSTOLE_S: f64 = 0.18;
/// A shorter autocorrelation peak this close to the best is the period.
/// Three quarters, not nine tenths: a child's fast rhythm often matches
/// twice its period about as well as its period, and a period read double
/// puts a beat's S2 where the next S1 is.
const SHORTER_WITHIN: f64 = 0.75;
/// Diastole's spread, as a share of its mean (Springer: 0.07). Breathing
/// moves a child's diastole by far more than that within one window, and a
/// spread too narrow makes the decoder drop or invent a beat to keep time.
const DIASTOLE_SPREAD: f64 = 0.2;
/// Longest state duration, frames (diastole at 40 bpm with its spread).
const MAX_DURATION: usize = 80;
/// P(sound | z) = 1 / (1 + exp(-SLOPE · (z − CENTRE))).
const SLOPE: f64 = 2.0;
const CENTRE: f64 = 0.5;
/// The pitch bands, Hz: a frame's pitch is the log ratio of the high
/// band's energy to the low band's. S2 (the semilunar valves closing) has
/// more of its energy high than S1 (the atrioventricular ones); at fast
/// rates, where systole and diastole last about as long, this is what
/// tells them apart.
pub const PITCH_LOW_HZ: (f64, f64) = (40.0, 120.0);
pub const PITCH_HIGH_HZ: (f64, f64) = (150.0, 400.0);
/// How much a sound's pitch, standardised over the window's sounds, weighs
/// for S2 (high) against S1 (low): P(S2 | a sound, pitch q) = σ(w·q) per
/// frame. Chosen on 300 CirCor design recordings (0 to 4 tried; more
/// overrides the durations where the pitch misleads).
const PITCH_WEIGHT: f64 = 0.25;

/// A frame's chance of being a sound (S1, S2) from its standardised
/// envelope.
fn sound_probability(z: f64) -> f64 {
    1.0 / (1.0 + (-SLOPE * (z - CENTRE)).exp())
}

/// The four states in their order; a beat is S1, systole, S2, diastole.
const S1: usize = 0;
const S2: usize = 2;
const STATES: usize = 4;

/// An onset found: the frame (from the start of the stream), whether it is
/// S1 (else S2), and the heart rate of the window that found it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Onset {
    pub frame: u64,
    pub s1: bool,
    pub bpm: f64,
}

pub struct HeartHsmm {
    /// The shortest heart period searched, seconds.
    pub shortest_period_s: f64,
    /// Log envelope, circular, `WINDOW` frames.
    ring: Vec<f64>,
    /// Each frame's pitch, beside it.
    pitch_ring: Vec<f64>,
    held: usize,
    next: usize,
    /// Frames pushed since the stream began, and since the last decode.
    frames: u64,
    since_decode: usize,
    /// Onsets before this frame have been reported.
    reported_to: u64,
    // Scratch for one decode, sized once.
    z: Vec<f64>,
    /// The window's standardised pitch.
    q: Vec<f64>,
    corr: Vec<f64>,
    /// Cumulative log emissions, `(WINDOW + 1) × STATES`.
    cum: Vec<[f64; STATES]>,
    delta: Vec<[f64; STATES]>,
    /// The duration of the segment ending at each frame in each state.
    back: Vec<[u16; STATES]>,
    path: Vec<u8>,
    /// Log duration probabilities per state, index d − 1, and the longest
    /// duration each allows.
    duration: [[f64; MAX_DURATION]; STATES],
    longest: [usize; STATES],
}

impl HeartHsmm {
    pub fn new(max_bpm: f64) -> HeartHsmm {
        HeartHsmm {
            shortest_period_s: 60.0 / max_bpm,
            ring: vec![0.0; WINDOW],
            pitch_ring: vec![0.0; WINDOW],
            held: 0,
            next: 0,
            frames: 0,
            since_decode: 0,
            reported_to: 0,
            z: vec![0.0; WINDOW],
            q: vec![0.0; WINDOW],
            corr: vec![0.0; WINDOW],
            cum: vec![[0.0; STATES]; WINDOW + 1],
            delta: vec![[0.0; STATES]; WINDOW + 1],
            back: vec![[0; STATES]; WINDOW + 1],
            path: vec![0; WINDOW],
            duration: [[f64::NEG_INFINITY; MAX_DURATION]; STATES],
            longest: [MAX_DURATION; STATES],
        }
    }

    /// Samples per envelope frame at `fs`.
    pub fn frame_len(fs: f64) -> usize {
        ((fs / FRAME_RATE).round() as usize).max(1)
    }

    pub fn reset(&mut self) {
        (self.held, self.next, self.frames, self.since_decode, self.reported_to) = (0, 0, 0, 0, 0);
    }

    /// One frame's mean absolute value and pitch; calls `report` with each
    /// onset a decode settles.
    pub fn push(&mut self, mean_abs: f64, pitch: f64, mut report: impl FnMut(Onset)) {
        self.ring[self.next] = (mean_abs + 1e-9).ln();
        self.pitch_ring[self.next] = pitch;
        self.next = (self.next + 1) % WINDOW;
        self.held = (self.held + 1).min(WINDOW);
        self.frames += 1;
        self.since_decode += 1;
        if self.held >= FIRST && self.since_decode >= EVERY {
            self.since_decode = 0;
            self.decode(&mut report, LOOK_AHEAD as u64);
        }
    }

    /// The stream has ended: decodes the last window once more and reports
    /// every onset not yet reported, up to the end, since no later window
    /// will confirm them. Then `reset` starts a new stream.
    pub fn flush(&mut self, mut report: impl FnMut(Onset)) {
        if self.held >= FIRST {
            self.decode(&mut report, 0);
        }
    }

    /// Decodes the window; reports the onsets at least `look_ahead` frames
    /// before its end that no earlier decode reported.
    fn decode(&mut self, report: &mut impl FnMut(Onset), look_ahead: u64) {
        let n = self.held;
        let start = (self.next + WINDOW - n) % WINDOW;
        for i in 0..n {
            self.z[i] = self.ring[(start + i) % WINDOW];
        }
        let z = &mut self.z[..n];
        let mean = z.iter().sum::<f64>() / n as f64;
        let sd = (z.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt().max(1e-9);
        z.iter_mut().for_each(|v| *v = (*v - mean) / sd);
        self.standardise_pitch(start, n);
        let Some((period, systole)) = self.period_and_systole(n) else { return };
        self.set_durations(period / FRAME_RATE, systole / FRAME_RATE);
        self.viterbi(n);
        let bpm = 60.0 * FRAME_RATE / period;
        let first = self.frames - n as u64;
        let settled = self.frames.saturating_sub(look_ahead);
        for i in 1..n {
            let (state, before) = (usize::from(self.path[i]), usize::from(self.path[i - 1]));
            let frame = first + i as u64;
            if state != before && (state == S1 || state == S2) && frame >= self.reported_to && frame < settled {
                report(Onset { frame, s1: state == S1, bpm });
            }
        }
        self.reported_to = self.reported_to.max(settled);
    }

    /// The window's pitch, standardised over its sounds (each frame
    /// weighed by its chance of being one), so that what counts is a
    /// sound's pitch against the other sounds of the same recording, not
    /// the stethoscope's or the chest's colour; clipped to ±3.
    fn standardise_pitch(&mut self, start: usize, n: usize) {
        let (mut sum_w, mut sum, mut sum_sq) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let (w, p) = (sound_probability(self.z[i]), self.pitch_ring[(start + i) % WINDOW]);
            self.q[i] = p;
            (sum_w, sum, sum_sq) = (sum_w + w, sum + w * p, sum_sq + w * p * p);
        }
        let mean = sum / sum_w.max(1e-9);
        let sd = (sum_sq / sum_w.max(1e-9) - mean * mean).max(0.0).sqrt().max(1e-9);
        self.q[..n].iter_mut().for_each(|v| *v = ((*v - mean) / sd).clamp(-3.0, 3.0));
    }

    /// The heart period and the systolic interval, in frames, from the
    /// autocorrelation of the standardised envelope; `None` while too short.
    fn period_and_systole(&mut self, n: usize) -> Option<(f64, f64)> {
        let z = &self.z[..n];
        let max_lag = ((LONGEST_PERIOD_S * FRAME_RATE).round() as usize).min(n * 3 / 4);
        let min_lag = (MIN_SYSTOLE_S * FRAME_RATE).round() as usize;
        if max_lag <= min_lag {
            return None;
        }
        for lag in min_lag..=max_lag {
            self.corr[lag] = z[..n - lag].iter().zip(&z[lag..]).map(|(a, b)| a * b).sum::<f64>() / (n - lag) as f64;
        }
        let argmax = |from: usize, to: usize| (from..=to).max_by(|&a, &b| self.corr[a].total_cmp(&self.corr[b]));
        let shortest = ((self.shortest_period_s * FRAME_RATE).round() as usize).max(min_lag + 1);
        if shortest > max_lag {
            return None;
        }
        // The best lag, or the shortest local peak within 90% of it: twice
        // the period matches a regular rhythm about as well as the period.
        let best = argmax(shortest, max_lag)?;
        let c = &self.corr;
        let period =
            (shortest + 1..max_lag).find(|&l| c[best] > 0.0 && c[l] >= c[l - 1] && c[l] >= c[l + 1] && c[l] >= SHORTER_WITHIN * c[best]).unwrap_or(best);
        let half = period / 2;
        let systole = if half > min_lag { argmax(min_lag, half)? as f64 } else { 0.3 * FRAME_RATE };
        Some((period as f64, systole))
    }

    /// Springer's duration distributions (Gaussian, within three standard
    /// deviations of their means) for a heart period and systolic interval
    /// in seconds.
    fn set_durations(&mut self, period_s: f64, systole_s: f64) {
        let s1 = (0.122, 0.022);
        let s2 = (0.094, 0.022);
        let systole = (systole_s - 0.122, 0.025);
        let diastole_mean = period_s - systole_s - 0.094;
        let diastole = (diastole_mean, DIASTOLE_SPREAD * diastole_mean + 0.006);
        for (state, (mean, sd)) in [s1, systole, s2, diastole].into_iter().enumerate() {
            let lo = (((mean - 3.0 * sd) * FRAME_RATE).floor() as usize).max(1);
            let hi = (((mean + 3.0 * sd) * FRAME_RATE).ceil() as usize).clamp(lo, MAX_DURATION);
            self.longest[state] = hi;
            let row = &mut self.duration[state];
            for (i, v) in row.iter_mut().enumerate() {
                let d = i + 1;
                let x = (d as f64 / FRAME_RATE - mean) / sd.max(1e-3);
                *v = if (lo..=hi).contains(&d) { -0.5 * x * x } else { f64::NEG_INFINITY };
            }
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let norm = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            row.iter_mut().for_each(|v| *v -= norm);
        }
    }

    /// The most likely state path over the window's `n` frames. The first
    /// and the last segment may be shorter than their state allows (the
    /// window cuts them), never longer.
    fn viterbi(&mut self, n: usize) {
        self.cum[0] = [0.0; STATES];
        for t in 0..n {
            let p = sound_probability(self.z[t]);
            let (sound, silence) = ((p + 1e-6).ln(), (1.0 - p + 1e-6).ln());
            // ln(2·σ(∓w·q)): which of the two sounds, 0 for a pitch at the
            // sounds' mean, so that it never favours sound over silence.
            let s2 = 1.0 / (1.0 + (-PITCH_WEIGHT * self.q[t]).exp());
            let (s1, s2) = ((2.0 * (1.0 - s2)).ln(), (2.0 * s2).ln());
            let c = self.cum[t];
            self.cum[t + 1] = [c[0] + sound + s1, c[1] + silence, c[2] + sound + s2, c[3] + silence];
        }
        for t in 1..=n {
            for k in 0..STATES {
                let prev = (k + STATES - 1) % STATES;
                let (mut best, mut best_d) = (f64::NEG_INFINITY, 1);
                for d in 1..=self.longest[k].min(t) {
                    let s = t - d;
                    let emitted = self.cum[t][k] - self.cum[s][k];
                    let v = if s == 0 {
                        emitted
                    } else {
                        let before = self.delta[s][prev];
                        let mut v = before + self.duration[k][d - 1] + emitted;
                        if t == n {
                            v = v.max(before + emitted);
                        }
                        v
                    };
                    if v > best {
                        (best, best_d) = (v, d);
                    }
                }
                self.delta[t][k] = best;
                self.back[t][k] = best_d as u16;
            }
        }
        let mut k = (0..STATES).max_by(|&a, &b| self.delta[n][a].total_cmp(&self.delta[n][b])).unwrap_or(0);
        let mut t = n;
        while t > 0 {
            let d = usize::from(self.back[t][k]).clamp(1, t);
            self.path[t - d..t].fill(k as u8);
            t -= d;
            k = (k + STATES - 1) % STATES;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic phonocardiogram envelope: S1 (100 ms) at each beat, S2
    /// (80 ms) `systole_s` later, quiet between.
    fn beats(bpm: f64, systole_s: f64, seconds: f64) -> Vec<f64> {
        let period = 60.0 / bpm;
        (0..(seconds * FRAME_RATE) as usize)
            .map(|i| {
                let t = i as f64 / FRAME_RATE;
                let phase = t % period;
                if phase < 0.1 || (phase >= systole_s && phase < systole_s + 0.08) {
                    1.0
                } else {
                    0.05
                }
            })
            .collect()
    }

    #[test]
    fn finds_s1_and_s2_of_a_regular_rhythm_once_each_at_its_rate() {
        for (bpm, systole_s) in [(72.0, 0.32), (110.0, 0.22)] {
            let mut hsmm = HeartHsmm::new(150.0);
            let mut onsets = Vec::new();
            let envelope = beats(bpm, systole_s, 20.0);
            for &v in &envelope {
                hsmm.push(v, 0.0, |o| onsets.push(o));
            }
            let period = 60.0 / bpm;
            let s1: Vec<f64> = onsets.iter().filter(|o| o.s1).map(|o| o.frame as f64 / FRAME_RATE).collect();
            let s2: Vec<f64> = onsets.iter().filter(|o| !o.s1).map(|o| o.frame as f64 / FRAME_RATE).collect();
            // Every beat from 2 s (the first windows are short, their rate
            // less sure) to the last confirmed second, each once, on time.
            let beats_from_2s = s1.iter().filter(|&&t| t >= 2.0).count();
            let expected = ((19.0 - 2.0) / period).floor() as usize;
            assert!(beats_from_2s >= expected && beats_from_2s <= expected + 1, "{bpm} bpm: {beats_from_2s} S1 from 2 s for {expected} beats: {s1:?}");
            assert!(s1.windows(2).all(|w| w[1] > w[0]), "reported once each, in order");
            for t in s1.iter().filter(|&&t| t >= 2.0) {
                let off = (t + period / 2.0) % period - period / 2.0;
                assert!(off.abs() <= 0.04, "{bpm} bpm: S1 at {t:.2} s is {off:.3} s off the beat");
            }
            for t in s2.iter().filter(|&&t| t >= 2.0) {
                let off = ((t - systole_s) + period / 2.0) % period - period / 2.0;
                assert!(off.abs() <= 0.04, "{bpm} bpm: S2 at {t:.2} s is {off:.3} s off");
            }
            assert!(s2.len() + 1 >= s1.len());
            for o in &onsets {
                assert!((o.bpm - bpm).abs() / bpm < 0.05, "rate {} against {bpm}", o.bpm);
            }
        }
    }

    #[test]
    fn at_a_fast_rate_where_the_durations_cannot_tell_the_higher_pitched_sound_is_s2() {
        // 130 bpm with systole as long as diastole and the two sounds alike
        // in length and loudness: only their pitch differs.
        let (bpm, frames) = (130.0, 20 * FRAME_RATE as usize);
        let period = 60.0 / bpm;
        let half = period / 2.0;
        let first_at = |pitch_of_first: f64| {
            let mut hsmm = HeartHsmm::new(150.0);
            let mut onsets = Vec::new();
            for i in 0..frames {
                let phase = (i as f64 / FRAME_RATE) % period;
                let (envelope, pitch) = match phase {
                    p if p < 0.09 => (1.0, pitch_of_first),
                    p if (half..half + 0.09).contains(&p) => (1.0, -pitch_of_first),
                    _ => (0.05, 0.0),
                };
                hsmm.push(envelope, pitch, |o| onsets.push(o));
            }
            let s1: Vec<f64> = onsets.iter().filter(|o| o.s1 && o.frame as f64 / FRAME_RATE >= 2.0).map(|o| (o.frame as f64 / FRAME_RATE) % period).collect();
            assert!(s1.len() >= 30, "{} S1 found", s1.len());
            // The share of S1 onsets on the first sound (phase 0).
            s1.iter().filter(|&&p| p.min(period - p) <= 0.04).count() as f64 / s1.len() as f64
        };
        assert!(first_at(-1.0) > 0.95, "the lower-pitched first sound is S1");
        assert!(first_at(1.0) < 0.05, "the higher-pitched first sound is S2");
    }

    #[test]
    fn silence_and_short_streams_report_nothing_and_reset_starts_over() {
        let mut hsmm = HeartHsmm::new(150.0);
        let mut onsets = Vec::new();
        for _ in 0..(FIRST - 1) {
            hsmm.push(0.5, 0.0, |o| onsets.push(o));
        }
        assert!(onsets.is_empty(), "no decode before 1.5 s");
        for &v in &beats(80.0, 0.3, 10.0) {
            hsmm.push(v, 0.0, |o| onsets.push(o));
        }
        assert!(!onsets.is_empty());
        hsmm.reset();
        let mut after = Vec::new();
        for &v in &beats(80.0, 0.3, 5.0) {
            hsmm.push(v, 0.0, |o| after.push(o));
        }
        assert!(after.iter().all(|o| o.frame < 250), "frames count from the reset: {after:?}");
    }
}
