//! Examples as log-mel spectrograms, and the batcher that turns them into
//! tensors, with the training-time augmentation: random crop and circular
//! time shift, SpecAugment masks, gain, and mixing in a quieter example of
//! the same class.

use rand::rngs::SmallRng;
use rand::Rng;

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::features::{fixed_frames, LogMel};

/// One labelled example, of any length.
#[derive(Debug, Clone, PartialEq)]
pub struct MelExample {
    pub mel: LogMel,
    pub label: usize,
    /// A second target the network may also be trained to name (the sound
    /// type a KAUH recording is annotated with, beside its diagnosis);
    /// `None` where there is none, or outside training.
    pub auxiliary: Option<usize>,
}

/// A dataset of examples in memory (a few MB for the sets here).
#[derive(Debug, Clone, Default)]
pub struct MelDataset {
    pub examples: Vec<MelExample>,
}

impl MelDataset {
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// Each example's class index, in order.
    pub fn labels(&self) -> impl Iterator<Item = usize> + '_ {
        self.examples.iter().map(|e| e.label)
    }

    /// Mean and standard deviation of every dB value, for normalisation.
    pub fn stats(&self) -> (f32, f32) {
        let (mut n, mut sum, mut sq) = (0f64, 0f64, 0f64);
        for e in &self.examples {
            for &v in &e.mel.data {
                n += 1.0;
                sum += f64::from(v);
                sq += f64::from(v) * f64::from(v);
            }
        }
        let mean = sum / n.max(1.0);
        let std = (sq / n.max(1.0) - mean * mean).max(1e-6).sqrt();
        (mean as f32, std as f32)
    }

    /// Class weights `(total / (classes · count))^power`: 1 is inverse
    /// frequency, 0.5 tempers it for classes with a handful of examples.
    /// A class with no training example gets 1: no loss term carries it,
    /// and Burn refuses a weight of 0 (a small fold can lack a rare class).
    pub fn class_weights(&self, classes: usize, power: f32) -> Vec<f32> {
        let mut counts = vec![0usize; classes];
        for e in &self.examples {
            counts[e.label] += 1;
        }
        let present = counts.iter().filter(|&&c| c > 0).count().max(1) as f32;
        let total = self.examples.len().max(1) as f32;
        counts.iter().map(|&c| if c > 0 { (total / (present * c as f32)).powf(power) } else { 1.0 }).collect()
    }
}

/// Augmentation settings.
#[derive(Debug, Clone, Copy)]
pub struct Augment {
    pub freq_masks: usize,
    pub max_freq_mask: usize,
    pub time_masks: usize,
    /// Largest time mask, as a fraction of the input.
    pub max_time_mask: f32,
    /// Gain range, ± dB.
    pub gain_db: f32,
    /// Chance of mixing in another example of the same class.
    pub mix_probability: f32,
}

impl Default for Augment {
    fn default() -> Self {
        Augment { freq_masks: 2, max_freq_mask: 8, time_masks: 2, max_time_mask: 0.1, gain_db: 6.0, mix_probability: 0.3 }
    }
}

/// A batch's normalised inputs (mel-major, one input after another) and
/// labels, before they become tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchData {
    pub inputs: Vec<f32>,
    pub labels: Vec<i64>,
}

/// Builds `[batch, 1, n_mels, frames]` inputs and `[batch]` labels.
#[derive(Debug, Clone)]
pub struct MelBatcher {
    pub n_mels: usize,
    pub frames: usize,
    pub mean: f32,
    pub std: f32,
    /// Subtract each input's own mean instead of the global one.
    pub per_example: bool,
    /// Subtract each mel band's own mean over the input's frames instead
    /// (over `per_example`): a stethoscope's frequency response and the
    /// level are a constant per band in dB, so this removes both, where one
    /// mean per input removes the level only.
    pub per_band: bool,
}

impl MelBatcher {
    /// One input, normalised, mel-major. Without `rng`, a centred crop and
    /// no augmentation (evaluation); with it, the training augmentation.
    pub fn input(&self, example: &MelExample, dataset: &MelDataset, augment: Option<(&Augment, &mut SmallRng)>) -> Vec<f32> {
        let have = example.mel.frames();
        match augment {
            None => {
                let offset = have.saturating_sub(self.frames) / 2;
                let mut x = fixed_frames(&example.mel, self.frames, offset);
                self.normalise(&mut x);
                x
            }
            Some((aug, rng)) => {
                let offset = if have > self.frames { rng.random_range(0..=have - self.frames) } else { 0 };
                let mut x = fixed_frames(&example.mel, self.frames, offset);
                // Circular time shift.
                let shift = rng.random_range(0..self.frames);
                for row in x.chunks_mut(self.frames) {
                    row.rotate_left(shift);
                }
                // Mix in a quieter example of the same class (power sum).
                if rng.random::<f32>() < aug.mix_probability {
                    let same: Vec<&MelExample> = dataset.examples.iter().filter(|e| e.label == example.label).collect();
                    if same.len() > 1 {
                        let other = same[rng.random_range(0..same.len())];
                        let o_have = other.mel.frames();
                        let o_off = if o_have > self.frames { rng.random_range(0..=o_have - self.frames) } else { 0 };
                        let y = fixed_frames(&other.mel, self.frames, o_off);
                        let atten = rng.random_range(3.0f32..10.0);
                        for (a, b) in x.iter_mut().zip(&y) {
                            let p = 10f32.powf(*a / 10.0) + 10f32.powf((b - atten) / 10.0);
                            *a = 10.0 * p.log10();
                        }
                    }
                }
                // Gain.
                let gain = rng.random_range(-aug.gain_db..=aug.gain_db);
                for v in &mut x {
                    *v += gain;
                }
                self.normalise(&mut x);
                // SpecAugment: masks set to the mean (0 after normalising).
                for _ in 0..aug.freq_masks {
                    let w = rng.random_range(0..=aug.max_freq_mask.min(self.n_mels / 4));
                    let f0 = rng.random_range(0..=self.n_mels - w);
                    x[f0 * self.frames..(f0 + w) * self.frames].fill(0.0);
                }
                let max_t = ((self.frames as f32 * aug.max_time_mask) as usize).max(1);
                for _ in 0..aug.time_masks {
                    let w = rng.random_range(0..=max_t);
                    let t0 = rng.random_range(0..=self.frames - w);
                    for row in x.chunks_mut(self.frames) {
                        row[t0..t0 + w].fill(0.0);
                    }
                }
                x
            }
        }
    }

    fn normalise(&self, x: &mut [f32]) {
        if self.per_band {
            for row in x.chunks_mut(self.frames.max(1)) {
                let mean = row.iter().sum::<f32>() / row.len() as f32;
                for v in row {
                    *v = (*v - mean) / self.std;
                }
            }
            return;
        }
        let mean = if self.per_example { x.iter().sum::<f32>() / x.len().max(1) as f32 } else { self.mean };
        for v in x {
            *v = (*v - mean) / self.std;
        }
    }

    /// A batch from `indices` into `dataset`.
    pub fn batch(&self, dataset: &MelDataset, indices: &[usize], augment: Option<(&Augment, &mut SmallRng)>, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        self.tensors(self.batch_data(dataset, indices, augment), device)
    }

    /// The same batch as plain data: assembling it touches no tensor, so a
    /// thread beside the training step can do it (see `loader`).
    pub fn batch_data(&self, dataset: &MelDataset, indices: &[usize], mut augment: Option<(&Augment, &mut SmallRng)>) -> BatchData {
        let mut inputs = Vec::with_capacity(indices.len() * self.n_mels * self.frames);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let e = &dataset.examples[i];
            let aug = augment.as_mut().map(|(a, r)| (*a, &mut **r));
            inputs.extend(self.input(e, dataset, aug));
            labels.push(e.label as i64);
        }
        BatchData { inputs, labels }
    }

    /// `[batch, 1, n_mels, frames]` inputs and `[batch]` labels on `device`.
    pub fn tensors(&self, data: BatchData, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let rows = data.labels.len();
        let x = Tensor::<4>::from_data(TensorData::new(data.inputs, [rows, 1, self.n_mels, self.frames]), device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(data.labels, [rows]), device);
        (x, y)
    }

    /// The auxiliary targets of `indices`, one-hot `[batch, classes]`; an
    /// example without one gets a row of zeros, so that it adds nothing to
    /// the auxiliary loss (see `training::auxiliary_loss`).
    pub fn auxiliary_targets(&self, dataset: &MelDataset, indices: &[usize], classes: usize, device: &Device) -> Tensor<2> {
        let mut data = vec![0f32; indices.len() * classes];
        for (row, &i) in indices.iter().enumerate() {
            if let Some(c) = dataset.examples[i].auxiliary.filter(|&c| c < classes) {
                data[row * classes + c] = 1.0;
            }
        }
        Tensor::<2>::from_data(TensorData::new(data, [indices.len(), classes]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auxiliary_targets_are_one_hot_and_zero_where_there_is_none() {
        let example = |auxiliary| MelExample { mel: LogMel { n_mels: 1, data: vec![0.0] }, label: 0, auxiliary };
        let set = MelDataset { examples: vec![example(Some(2)), example(None), example(Some(0)), example(Some(7))] };
        let batcher = MelBatcher { n_mels: 1, frames: 1, mean: 0.0, std: 1.0, per_example: false, per_band: false };
        let device = super::super::inference::default_device();
        let targets = batcher.auxiliary_targets(&set, &[0, 1, 2, 3], 3, &device);
        assert_eq!(targets.dims(), [4, 3]);
        let rows = targets.into_data().try_to_vec::<f32>().unwrap();
        // Class 7 is not one of the 3: no target rather than a wrong one.
        assert_eq!(rows, vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn band_normalisation_removes_a_constant_per_band_and_keeps_the_shape_in_time() {
        // Two bands of four frames; the second input is the first through
        // another "stethoscope": +12 dB in band 0, -7 dB in band 1.
        let frames = |rows: [[f32; 4]; 2]| LogMel { n_mels: 2, data: (0..4).flat_map(|t| [rows[0][t], rows[1][t]]).collect() };
        let a = MelExample { mel: frames([[-40.0, -30.0, -40.0, -50.0], [-60.0, -60.0, -20.0, -60.0]]), label: 0, auxiliary: None };
        let b = MelExample { mel: frames([[-28.0, -18.0, -28.0, -38.0], [-67.0, -67.0, -27.0, -67.0]]), label: 0, auxiliary: None };
        let set = MelDataset { examples: vec![a.clone(), b.clone()] };
        let band = MelBatcher { n_mels: 2, frames: 4, mean: -45.0, std: 10.0, per_example: true, per_band: true };
        let (xa, xb) = (band.input(&a, &set, None), band.input(&b, &set, None));
        for (p, q) in xa.iter().zip(&xb) {
            assert!((p - q).abs() < 1e-5, "{xa:?} against {xb:?}");
        }
        assert!((xa[1] - 1.0).abs() < 1e-5 && (xa[6] - 3.0).abs() < 1e-5, "{xa:?}");
        // One mean per input cannot undo a different response per band.
        let input = MelBatcher { per_band: false, ..band };
        assert_ne!(input.input(&a, &set, None), input.input(&b, &set, None));
    }

    #[test]
    fn a_class_missing_from_a_fold_still_gets_a_positive_weight() {
        let example = |label| MelExample { mel: LogMel { n_mels: 1, data: vec![0.0] }, label, auxiliary: None };
        let set = MelDataset { examples: vec![example(0), example(0), example(0), example(1)] };
        let weights = set.class_weights(4, 0.5);
        assert!(weights.iter().all(|&w| w > 0.0), "{weights:?}");
        assert!(weights[1] > weights[0], "the rarer present class weighs more: {weights:?}");
        // What the trainer does with them: Burn panics on a weight of 0.
        let device = super::super::inference::default_device();
        let _ = burn::nn::loss::CrossEntropyLossConfig::new().with_weights(Some(weights)).init(&device);
    }
}
