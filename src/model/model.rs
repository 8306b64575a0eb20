//! The CNN: a compact stack of conv blocks over a log-mel spectrogram,
//! global pooling (the average, or the mean and spread over time, over the
//! whole spectrum or in bands of it) and one linear layer. Well under a
//! million parameters (about 100k with the default widths, 25k at half of
//! them), so it trains on a CPU; `cargo bench --bench model` times it per
//! input.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// How the last block's feature map becomes one vector per input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// Global average over frequency and time.
    #[default]
    Mean,
    /// Mean over frequency, then the mean and standard deviation of each
    /// channel over time (statistics pooling, as in x-vectors): how much a
    /// feature comes and goes, which an average alone cannot say.
    MeanStd,
    /// The same statistics in each of `BANDS` frequency bands (the low and
    /// high half of the spectrum) instead of over all of it: where in the
    /// spectrum a feature comes and goes, as MFCC means beside their
    /// spread do for the baseline, which needs both together.
    BandMeanStd,
}

/// Frequency bands of `Pooling::BandMeanStd`.
const BANDS: usize = 2;

impl Pooling {
    /// Features per channel after pooling.
    fn width(self) -> usize {
        match self {
            Pooling::Mean => 1,
            Pooling::MeanStd => 2,
            Pooling::BandMeanStd => 2 * BANDS,
        }
    }
}

/// Dropout before the classifier layer unless `train --dropout` says otherwise.
pub const DEFAULT_DROPOUT: f64 = 0.3;

#[derive(Config, Debug)]
pub struct CnnConfig {
    pub num_classes: usize,
    /// Output channels of each conv block; each block halves time and frequency.
    #[config(default = "vec![16, 32, 64, 128]")]
    pub channels: Vec<usize>,
    #[config(default = "DEFAULT_DROPOUT")]
    pub dropout: f64,
    #[config(default = "Pooling::Mean")]
    pub pooling: Pooling,
}

/// conv 3×3 → batch norm → ReLU → max-pool 2×2 (see [`max_pool_2x2`]).
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: BatchNorm,
    activation: Relu,
}

impl ConvBlock {
    fn new(input: usize, output: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([input, output], [3, 3]).with_padding(PaddingConfig2d::Same).with_bias(false).init(device),
            norm: BatchNormConfig::new(output).init(device),
            activation: Relu,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        max_pool_2x2(self.activation.forward(self.norm.forward(self.conv.forward(x))))
    }
}

/// Max-pooling over 2 × 2 tiles at stride 2, an odd last row or column
/// dropped: `MaxPool2d` with kernel and stride 2. Without autodiff (every
/// prediction) it is a plain loop over the values, the same maxima: Burn's
/// CPU pooling is a general 3-D kernel that also records every maximum's
/// index for a backward pass, and was the largest single cost of a forward
/// pass (28% of `analyze`). Training keeps Burn's, whose indices the
/// gradient needs.
pub fn max_pool_2x2(x: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    if x.is_autodiff() || height * width == 0 {
        return MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init().forward(x);
    }
    let device = x.device();
    let [batch, channels, ..] = x.dims();
    let (h, w) = (height / 2, width / 2);
    let data = x.into_data();
    // f32, the backend's float, is read in place; another is converted.
    let values: std::borrow::Cow<[f32]> = match data.as_slice::<f32>() {
        Ok(values) => values.into(),
        Err(_) => data.iter::<f32>().collect::<Vec<_>>().into(),
    };
    let mut out = Vec::with_capacity(batch * channels * h * w);
    for plane in values.chunks_exact(height * width) {
        for i in 0..h {
            let (top, bottom) = (&plane[2 * i * width..][..width], &plane[(2 * i + 1) * width..][..width]);
            // NaN wins, as in Burn's kernel.
            out.extend(
                (0..w).map(|j| [top[2 * j + 1], bottom[2 * j], bottom[2 * j + 1]].into_iter().fold(top[2 * j], |m, v| if v > m || v.is_nan() { v } else { m })),
            );
        }
    }
    Tensor::from_data(TensorData::new(out, [batch, channels, h, w]), &device)
}

#[derive(Module, Debug)]
pub struct Cnn {
    blocks: Vec<ConvBlock>,
    pool: AdaptiveAvgPool2d,
    #[module(skip)]
    pooling: Pooling,
    dropout: Dropout,
    head: Linear,
    /// A second classifier layer over the same features, present only
    /// while training with an auxiliary target (`train --auxiliary-sounds`)
    /// and dropped before the weights are saved: a trained model's file is
    /// the same shape either way.
    auxiliary: Option<Linear>,
}

impl CnnConfig {
    pub fn init(&self, device: &Device) -> Cnn {
        let mut blocks = Vec::with_capacity(self.channels.len());
        let mut input = 1;
        for &output in &self.channels {
            blocks.push(ConvBlock::new(input, output, device));
            input = output;
        }
        Cnn {
            blocks,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            pooling: self.pooling,
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(input * self.pooling.width(), self.num_classes).init(device),
            auxiliary: None,
        }
    }
}

/// The identity going forward and the gradient negated coming back: Ganin
/// and Lempitsky's gradient reversal layer (2015). A classifier behind it
/// learns to tell the domains apart while the layers before it are pushed
/// to make them indistinguishable. `2·stop(t) − t` is `t`, and its
/// derivative is −1.
pub fn reverse_gradient(t: Tensor<2>) -> Tensor<2> {
    t.clone().detach().mul_scalar(2.0) - t
}

impl Cnn {
    /// `x`: `[batch, 1, n_mels, frames]` → logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.dropout.forward(self.embed(x)))
    }

    /// The same network with an auxiliary classifier layer for `classes`
    /// further targets, drawn from the device's generator.
    pub fn with_auxiliary_head(self, classes: usize, device: &Device) -> Cnn {
        let [features, _] = self.head.weight.shape().dims();
        Cnn { auxiliary: Some(LinearConfig::new(features, classes).init(device)), ..self }
    }

    /// The same network without its auxiliary layer, as it is saved.
    pub fn without_auxiliary_head(self) -> Cnn {
        Cnn { auxiliary: None, ..self }
    }

    /// Main and auxiliary logits from one pass through the conv blocks
    /// (no auxiliary logits without the layer). With `adversarial`, the
    /// features reach the auxiliary layer through [`reverse_gradient`].
    pub fn forward_with_auxiliary(&self, x: Tensor<4>, adversarial: bool) -> (Tensor<2>, Option<Tensor<2>>) {
        let features = self.dropout.forward(self.embed(x));
        // Burn draws a layer's weights on first use, so this order decides
        // which draws each layer gets: the runs in the README had it.
        let auxiliary = self.auxiliary.as_ref().map(|layer| {
            let seen = if adversarial { reverse_gradient(features.clone()) } else { features.clone() };
            layer.forward(seen)
        });
        (self.head.forward(features), auxiliary)
    }

    /// What the classifier layer sees: the conv blocks' pooled features,
    /// `[batch, channels × pooling width]`.
    pub fn embed(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for block in &self.blocks {
            x = block.forward(x);
        }
        let [batch, channels, _, frames] = x.dims();
        match self.pooling {
            Pooling::Mean => self.pool.forward(x).reshape([batch, channels]),
            Pooling::MeanStd => time_statistics(x.mean_dim(2).reshape([batch, channels, frames])),
            // Each band the mean of its share of the bins (a map with
            // fewer bins than bands repeats them).
            Pooling::BandMeanStd => time_statistics(adaptive_avg_pool2d(x, [BANDS, frames]).reshape([batch, channels * BANDS, frames])),
        }
    }
}

/// `[batch, features, frames]` → each feature's mean over time, then each
/// one's standard deviation: `[batch, 2 × features]`.
fn time_statistics(x: Tensor<3>) -> Tensor<2> {
    let [batch, features, _] = x.dims();
    let mean = x.clone().mean_dim(2);
    let var = (x - mean.clone()).powi_scalar(2).mean_dim(2);
    Tensor::cat(vec![mean, (var + 1e-5).sqrt()], 1).reshape([batch, 2 * features])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::inference::default_device;
    use crate::model::test_support::one_at_a_time;

    #[test]
    fn the_gradient_reversal_passes_values_and_negates_gradients() {
        let device = default_device().autodiff();
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 3.5, 0.25], [2, 2]), &device).require_grad();
        let y = reverse_gradient(x.clone());
        assert_eq!(y.to_data().try_to_vec::<f32>().unwrap(), vec![1.0, -2.0, 3.5, 0.25]);
        // d/dx of sum(w ⊙ y) is −w through the reversal, +w without it.
        let w = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]), &device);
        let grads = (y * w.clone()).sum().backward();
        assert_eq!(x.grad(&grads).unwrap().to_data().try_to_vec::<f32>().unwrap(), vec![-1.0, -2.0, -3.0, -4.0]);
        let grads = (x.clone() * w).sum().backward();
        assert_eq!(x.grad(&grads).unwrap().to_data().try_to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    }

    /// A network without conv blocks: its features are the pooling of the
    /// input itself.
    fn pooled(pooling: Pooling, rows: [[f32; 2]; 4]) -> Vec<f32> {
        // Building a network draws from the generator that seeded trainings share.
        let _one_at_a_time = one_at_a_time();
        let device = default_device();
        let cnn = CnnConfig::new(2).with_channels(Vec::new()).with_pooling(pooling).init(&device);
        let x = Tensor::<4>::from_data(TensorData::new(rows.concat(), [1, 1, 4, 2]), &device);
        cnn.embed(x).into_data().try_to_vec::<f32>().unwrap()
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
    }

    #[test]
    fn band_statistics_keep_where_in_the_spectrum_a_feature_comes_and_goes() {
        // Four bins by two frames: the low half moves (1 then 3), the high
        // half holds (6 on average). The same bands the other way up.
        let low_moves = [[1.0, 3.0], [1.0, 3.0], [5.0, 5.0], [7.0, 7.0]];
        let high_moves = [[5.0, 5.0], [7.0, 7.0], [1.0, 3.0], [1.0, 3.0]];
        let still = 1e-5f32.sqrt();
        // Means of the low and high band, then their spreads over time.
        assert!(close(&pooled(Pooling::BandMeanStd, low_moves), &[2.0, 6.0, 1.0, still]), "{:?}", pooled(Pooling::BandMeanStd, low_moves));
        assert!(close(&pooled(Pooling::BandMeanStd, high_moves), &[6.0, 2.0, still, 1.0]));
        // Over the whole spectrum the two are one input: per frame 3.5, then 4.5.
        assert!(close(&pooled(Pooling::MeanStd, low_moves), &[4.0, 0.5]));
        assert_eq!(pooled(Pooling::MeanStd, low_moves), pooled(Pooling::MeanStd, high_moves));
        assert!(close(&pooled(Pooling::Mean, low_moves), &[4.0]));
    }

    #[test]
    fn the_pooling_of_the_conv_blocks_is_burns_max_pool_value_for_value() {
        use burn::tensor::Distribution;
        let _one_at_a_time = one_at_a_time();
        let device = default_device();
        let burns = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        // Even and odd sizes (an odd row or column is dropped), ties at the
        // ReLU's zeros, and the first block's single channel.
        for shape in [[3, 4, 64, 312], [2, 16, 33, 157], [1, 1, 5, 2], [2, 3, 2, 7]] {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).clamp_min(0.0);
            let ours = max_pool_2x2(x.clone());
            let theirs = burns.forward(x);
            assert_eq!(ours.dims(), theirs.dims(), "{shape:?}");
            assert_eq!(ours.into_data().try_to_vec::<f32>().unwrap(), theirs.into_data().try_to_vec::<f32>().unwrap(), "{shape:?}");
        }
    }

    #[test]
    fn the_classifier_layer_is_as_wide_as_the_pooled_features() {
        let _one_at_a_time = one_at_a_time();
        let device = default_device();
        let x = Tensor::<4>::zeros([3, 1, 32, 40], &device);
        for (pooling, width) in [(Pooling::Mean, 8), (Pooling::MeanStd, 16), (Pooling::BandMeanStd, 32)] {
            let cnn = CnnConfig::new(5).with_channels(vec![4, 8]).with_pooling(pooling).init(&device);
            assert_eq!(cnn.embed(x.clone()).dims(), [3, width], "{pooling:?}");
            assert_eq!(cnn.forward(x.clone()).dims(), [3, 5], "{pooling:?}");
        }
    }
}
