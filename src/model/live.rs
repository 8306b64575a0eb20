//! Running a model on live audio, in the analysis thread: the raw input is
//! kept for the last minute; when the segmenter closes a cycle (or, for
//! models of whole recordings, every `segment_s`), that stretch is
//! resampled to the model's rate, run through the model's own chain and
//! classified: exactly what training saw.

use std::collections::VecDeque;
use std::path::Path;

use crate::audio::resample::resample;
use crate::host::SearchPath;

use super::features::Preprocessor;
use super::inference::Classifier;

const HISTORY_S: f64 = 60.0;

pub struct LiveModel {
    pub classifier: Classifier,
    pre: Preprocessor,
    source_rate: u32,
    history: VecDeque<f32>,
    /// Absolute input index of `history[0]`.
    history_start: u64,
    /// Classify fixed windows (models of whole recordings) instead of cycles.
    windowed: bool,
    next_window_end: u64,
}

/// A classified stretch of input.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePrediction {
    pub start_s: f64,
    pub end_s: f64,
    pub probabilities: Vec<f32>,
}

impl LiveModel {
    pub fn new(classifier: Classifier, source_rate: u32, search: &SearchPath) -> Result<Self, super::features::FeatureError> {
        let pre = classifier.preprocessor(search)?;
        let windowed = classifier.card.task != "lung-cycles";
        let window = (classifier.card.features.segment_s * f64::from(source_rate)) as u64;
        Ok(Self { classifier, pre, source_rate, history: VecDeque::new(), history_start: 0, windowed, next_window_end: window })
    }

    /// The model's name and classes.
    pub fn describe(&self) -> (String, Vec<String>) {
        (self.classifier.card.name.clone(), self.classifier.card.classes.clone())
    }

    /// Keeps the raw input; returns a prediction when a window completes.
    pub fn push(&mut self, samples: &[f32]) -> Option<LivePrediction> {
        self.history.extend(samples.iter().copied());
        let cap = (HISTORY_S * f64::from(self.source_rate)) as usize;
        while self.history.len() > cap {
            self.history.pop_front();
            self.history_start += 1;
        }
        let end = self.history_start + self.history.len() as u64;
        if self.windowed && end >= self.next_window_end {
            let window = (self.classifier.card.features.segment_s * f64::from(self.source_rate)) as u64;
            let start = self.next_window_end.saturating_sub(window);
            let stop = self.next_window_end;
            self.next_window_end += window;
            return self.classify(start, stop);
        }
        None
    }

    /// Classifies a cycle the segmenter closed (input sample indices).
    pub fn cycle(&mut self, start: u64, end: u64) -> Option<LivePrediction> {
        if self.windowed {
            return None;
        }
        self.classify(start, end)
    }

    fn classify(&mut self, start: u64, end: u64) -> Option<LivePrediction> {
        let from = start.checked_sub(self.history_start)? as usize;
        let to = (end.checked_sub(self.history_start)? as usize).min(self.history.len());
        if to <= from + 64 {
            return None;
        }
        let raw: Vec<f32> = self.history.range(from..to).copied().collect();
        let rate = self.pre.config.sample_rate;
        let samples = if self.source_rate == rate { raw } else { resample(&raw, self.source_rate, rate).ok()? };
        let samples = self.pre.process(Path::new("live input"), samples).ok()?;
        let mel = self.pre.log_mel(&samples);
        let probabilities = self.classifier.predict(&[mel]).into_iter().next()?;
        let r = f64::from(self.source_rate);
        Some(LivePrediction { start_s: start as f64 / r, end_s: end as f64 / r, probabilities })
    }
}
