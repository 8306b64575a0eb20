//! Loading a shipped model and running it: card checked against the
//! weights (sha256, then every tensor's shape), then one softmax per input.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot};
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
    model: Cnn,
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
        let bytes = card.verify_weights(card_path)?;
        let device = default_device();
        let mut model = CnnConfig::new(card.classes.len())
            .with_channels(card.architecture.channels.clone())
            .with_dropout(card.architecture.dropout)
            .init(&device);
        let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)));
        let weights = card.weights_path(card_path);
        let misfit = |detail: String| CardError::Shape {
            path: weights.clone(),
            reason: format!(
                "the weights do not fit the card's architecture ({} classes, channels {:?}): {detail}",
                card.classes.len(),
                card.architecture.channels
            ),
        };
        let result = model.load_from(&mut store).map_err(|e| misfit(e.to_string()))?;
        if !result.errors.is_empty() || !result.missing.is_empty() {
            let mut reasons: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
            reasons.extend(result.missing.iter().map(|(p, _)| format!("missing tensor {p}")));
            return Err(misfit(reasons.join("; ")));
        }
        let batcher = MelBatcher {
            n_mels: card.features.n_mels,
            frames: card.features.frames(),
            mean: card.normalization.mean,
            std: card.normalization.std,
            per_example: card.normalization.per_example,
        };
        Ok(Classifier { card, card_path: card_path.into(), model: model.valid(), batcher, device })
    }

    /// A preprocessor with the card's chain and mel settings.
    pub fn preprocessor(&self, search: &SearchPath) -> Result<Preprocessor, super::features::FeatureError> {
        Preprocessor::new(self.card.features.clone(), self.card.chain.as_deref(), search)
    }

    /// Class probabilities for each input (centre-cropped or repeat-padded).
    pub fn predict(&self, inputs: &[LogMel]) -> Vec<Vec<f32>> {
        if inputs.is_empty() {
            return Vec::new();
        }
        let dataset = MelDataset { examples: inputs.iter().map(|m| MelExample { mel: m.clone(), label: 0 }).collect() };
        let mut probs = Vec::with_capacity(inputs.len());
        let all: Vec<usize> = (0..inputs.len()).collect();
        for chunk in all.chunks(64) {
            let (x, _) = self.batcher.batch(&dataset, chunk, None, &self.device);
            probs.extend(probabilities(&self.model, x));
        }
        probs
    }
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
    let mut store = BurnpackStore::from_bytes(None);
    model.valid().save_into(&mut store).map_err(|e| e.to_string())?;
    store.get_bytes().map(|b| b.to_vec()).map_err(|e| e.to_string())
}
