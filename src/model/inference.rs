//! Loading a shipped model and running it: card checked against the
//! weights (sha256, then every tensor's shape), then one softmax per window
//! of an input, averaged.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{BurnpackStore, ModuleAdapter, ModuleContext, ModuleSnapshot};
use burn::tensor::{activation::softmax, Bytes, Device, Tensor, TensorData};

use super::card::{CardError, ModelCard};
use super::data::{MelBatcher, MelDataset, MelExample};
use super::features::{LogMel, Preprocessor};
use super::model::{Cnn, CnnConfig};
use crate::host::SearchPath;

/// A model ready to classify log-mel inputs.
pub struct Classifier {
    pub card: ModelCard,
    pub card_path: PathBuf,
    /// One network, or an ensemble's members (the card's first weights first).
    members: Vec<Cnn>,
    batcher: MelBatcher,
    device: Device,
}

/// The device inference and training use: the CPU (Burn's flex backend),
/// or a GPU when the binary is built with `--features cuda` or
/// `--features wgpu`, unless `AUSCULT_DEVICE=cpu`.
pub fn default_device() -> Device {
    if std::env::var("AUSCULT_DEVICE").is_ok_and(|d| d == "cpu") {
        return Device::flex();
    }
    gpu_device().unwrap_or_else(Device::flex)
}

#[cfg(feature = "cuda")]
fn gpu_device() -> Option<Device> {
    Some(Device::cuda(burn::tensor::DeviceIndex::Default))
}

#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
fn gpu_device() -> Option<Device> {
    Some(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(any(feature = "cuda", feature = "wgpu")))]
fn gpu_device() -> Option<Device> {
    None
}

impl Classifier {
    /// Loads the card at `card_path` and its weights, refusing a hash or
    /// shape mismatch with a message that says which.
    pub fn load(card_path: &Path) -> Result<Classifier, CardError> {
        let card = ModelCard::load(card_path)?;
        let device = default_device();
        let members =
            card.verify_all_weights(card_path)?.into_iter().map(|(path, bytes)| load_member(&card, &path, bytes, &device)).collect::<Result<Vec<_>, _>>()?;
        let batcher = MelBatcher {
            n_mels: card.features.n_mels,
            frames: card.features.frames(),
            mean: card.normalization.mean,
            std: card.normalization.std,
            per_example: card.normalization.per_example,
            per_band: card.normalization.per_band,
        };
        Ok(Classifier { card, card_path: card_path.into(), members, batcher, device })
    }

    /// A preprocessor with the card's chain and mel settings.
    pub fn preprocessor(&self, search: &SearchPath) -> Result<Preprocessor, super::features::FeatureError> {
        Preprocessor::new(self.card.features.clone(), self.card.chain.as_deref(), search)
    }

    /// Class probabilities for each input: the mean over its windows (see
    /// [`predict_windows`]) and over the ensemble's members, shifted by the
    /// card's decision bias if it has one; a short input is repeat-padded.
    pub fn predict(&self, inputs: &[LogMel]) -> Vec<Vec<f32>> {
        let each: Vec<Vec<Vec<f32>>> = self.members.iter().map(|m| predict_windows(m, &self.batcher, inputs.iter(), &self.device)).collect();
        let mut probs = mean_over_members(each);
        if let Some(decision) = &self.card.decision {
            probs.iter_mut().for_each(|p| decision.apply(p));
        }
        probs
    }
}

/// One member's weights into the card's architecture, or an error naming
/// the file and what does not fit.
fn load_member(card: &ModelCard, path: &Path, bytes: Vec<u8>, device: &Device) -> Result<Cnn, CardError> {
    let mut model = CnnConfig::new(card.classes.len())
        .with_channels(card.architecture.channels.clone())
        .with_dropout(card.architecture.dropout)
        .with_pooling(card.architecture.pooling)
        .init(device);
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)));
    let misfit = |detail: String| CardError::Shape {
        path: path.into(),
        reason: format!(
            "the weights do not fit the card's architecture ({} classes, channels {:?}, pooling {:?}): {detail}",
            card.classes.len(),
            card.architecture.channels,
            card.architecture.pooling
        ),
    };
    let result = model.load_from(&mut store).map_err(|e| misfit(e.to_string()))?;
    // Tensors left over mean another network whose first layers happen to
    // fit (a deeper stack of the same widths): refused, not half-loaded.
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        let mut reasons: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
        reasons.extend(result.missing.iter().map(|(p, _)| format!("missing tensor {p}")));
        reasons.extend(result.unused.iter().map(|p| format!("tensor {p} is not in the card's network")));
        return Err(misfit(reasons.join("; ")));
    }
    Ok(model.valid())
}

/// The mean of several members' probabilities, input by input. One member
/// is returned as it is, so a single model's outputs stay bit-exact.
pub fn mean_over_members(mut each: Vec<Vec<Vec<f32>>>) -> Vec<Vec<f32>> {
    if each.len() <= 1 {
        return each.pop().unwrap_or_default();
    }
    let n = each.len() as f32;
    let mut sum = each.pop().unwrap_or_default();
    for other in each {
        for (s, o) in sum.iter_mut().zip(other) {
            for (a, b) in s.iter_mut().zip(o) {
                *a += b;
            }
        }
    }
    for s in &mut sum {
        for a in s.iter_mut() {
            *a /= n;
        }
    }
    sum
}

/// Where the model's windows over an input `have` frames long start: one
/// window when it fits, else one every half window, the last ending at the
/// end, so that every frame is seen.
pub fn window_offsets(have: usize, frames: usize) -> Vec<usize> {
    if have <= frames || frames == 0 {
        return vec![0];
    }
    let last = have - frames;
    let step = (frames / 2).max(1);
    let mut offsets: Vec<usize> = (0..last).step_by(step).collect();
    offsets.push(last);
    offsets
}

/// Class probabilities for each input, averaged over its windows. A
/// recording longer than the model's window is judged on all of it, not on
/// its middle alone.
///
/// What overlapping windows share is computed once where that is exact:
/// the log-mel (each window is a slice of the input's). Their conv maps
/// are not shared: each window is normalised by its own mean and the convs
/// zero-pad its edges, so the frames two windows have in common give
/// different activations in each.
pub fn predict_windows<'a>(model: &Cnn, batcher: &MelBatcher, inputs: impl Iterator<Item = &'a LogMel>, device: &Device) -> Vec<Vec<f32>> {
    predict_windows_in_batches(model, batcher, inputs, device, WINDOW_BATCH)
}

/// Windows sent through the network at once: every window of a file's
/// inputs together, up to this many.
pub const WINDOW_BATCH: usize = 64;

/// [`predict_windows`] with `batch` windows per forward pass. Each input's
/// probabilities do not depend on the batch (each window is its own row of
/// every layer, and batch norm uses its stored statistics at inference).
pub fn predict_windows_in_batches<'a>(
    model: &Cnn,
    batcher: &MelBatcher,
    inputs: impl Iterator<Item = &'a LogMel>,
    device: &Device,
    batch: usize,
) -> Vec<Vec<f32>> {
    let mut windows = Vec::new();
    let mut owner = Vec::new();
    for (i, mel) in inputs.enumerate() {
        for offset in window_offsets(mel.frames(), batcher.frames) {
            windows.push(MelExample { mel: mel.slice(offset, offset + batcher.frames), label: 0, auxiliary: None });
            owner.push(i);
        }
    }
    // Every input has at least one window.
    let count = owner.last().map_or(0, |&i| i + 1);
    let dataset = MelDataset { examples: windows };
    let all: Vec<usize> = (0..dataset.len()).collect();
    let mut sums: Vec<Vec<f32>> = vec![Vec::new(); count];
    let mut seen = vec![0usize; count];
    for chunk in all.chunks(batch.max(1)) {
        let (x, _) = batcher.batch(&dataset, chunk, None, device);
        for (&w, p) in chunk.iter().zip(probabilities(model, x)) {
            let sum = &mut sums[owner[w]];
            if sum.is_empty() {
                *sum = vec![0.0; p.len()];
            }
            for (s, v) in sum.iter_mut().zip(&p) {
                *s += v;
            }
            seen[owner[w]] += 1;
        }
    }
    for (sum, n) in sums.iter_mut().zip(seen) {
        for s in sum.iter_mut() {
            *s /= n as f32;
        }
    }
    sums
}

/// Softmax of the model's logits, one row per input.
pub fn probabilities(model: &Cnn, x: Tensor<4>) -> Vec<Vec<f32>> {
    let [batch, ..] = x.dims();
    let p = softmax(model.forward(x), 1);
    let classes = p.dims()[1];
    let data: TensorData = p.into_data();
    let flat: Vec<f32> = data.try_to_vec::<f32>().unwrap_or_default();
    (0..batch).map(|i| flat[i * classes..(i + 1) * classes].to_vec()).collect()
}

/// Saves weights as burnpack bytes (the card records their sha256).
pub fn weights_bytes(model: &Cnn) -> Result<Vec<u8>, String> {
    let mut store = BurnpackStore::from_bytes(None).with_to_adapter(WithoutParamIds);
    model.valid().save_into(&mut store).map_err(|e| e.to_string())?;
    store.get_bytes().map(|b| b.to_vec()).map_err(|e| e.to_string())
}

/// Saves weights with their parameter ids (a training checkpoint: Adam's
/// state is keyed by them), auxiliary layer and all.
pub fn weights_with_ids(model: &Cnn) -> Result<Vec<u8>, String> {
    let mut store = BurnpackStore::from_bytes(None);
    model.valid().save_into(&mut store).map_err(|e| e.to_string())?;
    store.get_bytes().map(|b| b.to_vec()).map_err(|e| e.to_string())
}

/// Loads what `weights_with_ids` saved into `model` (the same
/// architecture), each parameter taking back its saved id; an error names
/// the tensors that do not fit.
pub fn load_with_ids(model: Cnn, bytes: &[u8]) -> Result<Cnn, String> {
    warm_start(model, bytes, true)
}

/// Leaves out each tensor's parameter id. Burn gives every parameter a
/// random id when it is made and the burnpack stores it beside the tensor
/// (it identifies optimiser state, which a model file does not hold), so
/// the same weights trained twice were saved as two files with two hashes.
/// Without it a card's command rebuilds its weights file byte for byte.
#[derive(Clone)]
struct WithoutParamIds;

impl ModuleAdapter for WithoutParamIds {
    fn adapt(&self, mut tensor: PackTensor, _: ModuleContext<'_>) -> PackTensor {
        tensor.param_id = None;
        tensor
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

/// Starts `model` from another network's weights (`train --init`): its
/// conv blocks always, its classifier layer only with `head` (the same
/// classes). An error names the tensors that do not fit.
pub fn warm_start(mut model: Cnn, bytes: &[u8], head: bool) -> Result<Cnn, String> {
    let store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())));
    let mut store = if head { store } else { store.with_regex(r"^blocks\.") };
    let result = model.load_from(&mut store).map_err(|e| e.to_string())?;
    let mut reasons: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
    reasons.extend(result.missing.iter().map(|(p, _)| format!("missing tensor {p}")));
    reasons.extend(result.unused.iter().map(|p| format!("tensor {p} is not in this network")));
    if reasons.is_empty() {
        Ok(model)
    } else {
        Err(reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::window_offsets;

    #[test]
    fn windows_cover_every_frame_and_a_short_input_gets_one() {
        assert_eq!(window_offsets(10, 384), vec![0]);
        assert_eq!(window_offsets(384, 384), vec![0]);
        for have in [385, 500, 767, 768, 1000, 4000] {
            let offsets = window_offsets(have, 384);
            assert_eq!(offsets[0], 0);
            assert_eq!(*offsets.last().unwrap(), have - 384, "the last window ends at the end ({have})");
            assert!(offsets.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= 192), "{have}: {offsets:?}");
        }
    }
}
