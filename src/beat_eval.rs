//! Scoring a segmenter's heart sounds against annotated ones.
//!
//! The reference is a segmentation into S1, systole, S2 and diastole (as
//! CirCor's `.tsv` files give it); the detections are the S1 and S2 events
//! a chain reports, each carrying the heart rate it shows. Only the
//! annotated stretches count: the annotators left parts of many recordings
//! out (noise, or no clear beat), and what a segmenter finds there can be
//! neither right nor wrong.

use crate::datasets::circor::{HeartState, Segment};

/// One-to-one matches between detected and reference times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub matched: usize,
    pub detected: usize,
    pub reference: usize,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.matched += other.matched;
        self.detected += other.detected;
        self.reference += other.reference;
    }

    pub fn precision(&self) -> f64 {
        self.matched as f64 / self.detected.max(1) as f64
    }

    pub fn recall(&self) -> f64 {
        self.matched as f64 / self.reference.max(1) as f64
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }
}

/// The most one-to-one pairs of a detection and a reference time no
/// further apart than `tolerance` seconds. Both sorted; going through them
/// in order and pairing each detection with the earliest reference still
/// in reach is optimal for points on a line.
pub fn match_times(detected: &[f64], reference: &[f64], tolerance: f64) -> Counts {
    let mut next = 0;
    let mut matched = 0;
    for &d in detected {
        while next < reference.len() && reference[next] < d - tolerance {
            next += 1;
        }
        if next < reference.len() && reference[next] <= d + tolerance {
            matched += 1;
            next += 1;
        }
    }
    Counts { matched, detected: detected.len(), reference: reference.len() }
}

/// What an annotation says about one recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Onsets of the annotated S1 and S2 sounds, seconds, sorted.
    pub s1: Vec<f64>,
    pub s2: Vec<f64>,
    /// The annotated stretches (runs of states other than "none").
    pub stretches: Vec<(f64, f64)>,
    /// 60 over the median interval between consecutive S1 onsets within a
    /// stretch; `None` with fewer than two.
    pub rate_bpm: Option<f64>,
}

impl Reference {
    pub fn from_segments(segments: &[Segment]) -> Reference {
        let mut stretches: Vec<(f64, f64)> = Vec::new();
        let (mut s1, mut s2) = (Vec::new(), Vec::new());
        for s in segments {
            match s.state {
                HeartState::Unannotated => continue,
                HeartState::S1 => s1.push(s.start_s),
                HeartState::S2 => s2.push(s.start_s),
                HeartState::Systole | HeartState::Diastole => {}
            }
            match stretches.last_mut() {
                Some(last) if (s.start_s - last.1).abs() < 1e-6 => last.1 = s.end_s,
                _ => stretches.push((s.start_s, s.end_s)),
            }
        }
        s1.sort_by(f64::total_cmp);
        s2.sort_by(f64::total_cmp);
        let stretch_of = |t: f64| stretches.iter().position(|&(a, b)| t >= a && t <= b);
        let intervals: Vec<f64> = s1.windows(2).filter(|w| stretch_of(w[0]) == stretch_of(w[1])).map(|w| w[1] - w[0]).collect();
        let rate_bpm = median(intervals).filter(|&i| i > 0.0).map(|i| 60.0 / i);
        Reference { s1, s2, stretches, rate_bpm }
    }

    /// Annotated seconds.
    pub fn annotated_s(&self) -> f64 {
        self.stretches.iter().map(|(a, b)| b - a).sum()
    }

    /// Whether `t` lies in an annotated stretch, widened by `margin` each
    /// side (a detection just before a stretch may be its first sound).
    fn covers(&self, t: f64, margin: f64) -> bool {
        self.stretches.iter().any(|&(a, b)| t >= a - margin && t <= b + margin)
    }
}

/// A heart sound a segmenter reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub time_s: f64,
    /// S1 (true) or S2.
    pub s1: bool,
    /// The heart rate it carries, beats per minute.
    pub bpm: f64,
}

/// One recording scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordingScore {
    pub s1: Counts,
    pub s2: Counts,
    /// The annotated rate and the rate shown (the median of the rates the
    /// detections in the annotated stretches carry), where both exist.
    pub rates_bpm: Option<(f64, f64)>,
}

pub fn score(reference: &Reference, detections: &[Detection], tolerance: f64) -> RecordingScore {
    let inside: Vec<&Detection> = detections.iter().filter(|d| reference.covers(d.time_s, tolerance)).collect();
    let times = |s1: bool| {
        let mut t: Vec<f64> = inside.iter().filter(|d| d.s1 == s1).map(|d| d.time_s).collect();
        t.sort_by(f64::total_cmp);
        t
    };
    let shown = median(inside.iter().map(|d| d.bpm).filter(|b| b.is_finite() && *b > 0.0).collect());
    RecordingScore {
        s1: match_times(&times(true), &reference.s1, tolerance),
        s2: match_times(&times(false), &reference.s2, tolerance),
        rates_bpm: reference.rate_bpm.zip(shown),
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start_s: f64, end_s: f64, state: HeartState) -> Segment {
        Segment { start_s, end_s, state }
    }

    #[test]
    fn matching_is_one_to_one_within_the_tolerance() {
        // Two detections near one reference: one match; a detection 0.11 s
        // away at 0.1 s tolerance: none.
        assert_eq!(match_times(&[0.95, 1.05], &[1.0], 0.1), Counts { matched: 1, detected: 2, reference: 1 });
        assert_eq!(match_times(&[1.11], &[1.0], 0.1).matched, 0);
        // Greedy by nearest would pair 1.05 with 1.0 and leave 0.92 and 1.12
        // unmatched; in order, all three detections pair.
        assert_eq!(match_times(&[0.92, 1.05, 1.12], &[1.0, 1.1, 1.2], 0.1).matched, 3);
    }

    #[test]
    fn the_reference_keeps_onsets_stretches_and_the_rate_within_stretches() {
        use HeartState::*;
        let segments = [
            seg(0.0, 1.0, Unannotated),
            seg(1.0, 1.1, S1),
            seg(1.1, 1.4, Systole),
            seg(1.4, 1.5, S2),
            seg(1.5, 2.0, Diastole),
            seg(2.0, 2.1, S1),
            seg(2.1, 2.4, Systole),
            seg(2.4, 5.0, Unannotated),
            seg(5.0, 5.1, S1),
            seg(5.1, 5.4, Systole),
        ];
        let r = Reference::from_segments(&segments);
        assert_eq!(r.s1, [1.0, 2.0, 5.0]);
        assert_eq!(r.s2, [1.4]);
        assert_eq!(r.stretches, [(1.0, 2.4), (5.0, 5.4)]);
        // 2.0 -> 5.0 spans unannotated time: not a beat interval.
        assert_eq!(r.rate_bpm, Some(60.0));
        let d = |time_s, s1| Detection { time_s, s1, bpm: 62.0 };
        // The detection at 3.0 s is in no stretch: neither right nor wrong.
        let s = score(&r, &[d(1.02, true), d(1.45, false), d(2.2, true), d(3.0, true), d(5.05, true)], 0.1);
        assert_eq!(s.s1, Counts { matched: 2, detected: 3, reference: 3 });
        assert_eq!(s.s2, Counts { matched: 1, detected: 1, reference: 1 });
        assert_eq!(s.rates_bpm, Some((60.0, 62.0)));
    }
}
