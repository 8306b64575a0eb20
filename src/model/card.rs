//! A model's card: everything needed to use the weights exactly as they
//! were trained (classes, rate, chain, mel settings, normalisation,
//! architecture), where they came from, how they scored on held-out
//! patients, and the sha256 of the weights file, checked on load.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::features::FeatureConfig;
use super::model::Pooling;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    pub name: String,
    /// lung-cycles, lung-diagnosis, heart, or a folder dataset's name.
    pub task: String,
    pub classes: Vec<String>,
    /// The weights file, relative to the card.
    pub weights: String,
    pub sha256: String,
    pub parameters: usize,
    pub architecture: Architecture,
    pub features: FeatureConfig,
    pub normalization: Normalization,
    /// The preprocessing chain (a chain file's TOML), run before the mel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    pub training: Training,
    /// `auscult eval` on the held-out patients, as trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// Further members of an ensemble (`train --runs N`): the same
    /// architecture trained on the same patients from other random starts.
    /// The model's output is the mean of all members' probabilities, which
    /// steadies a model whose single runs differ as much as their data allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
    /// A shift of the decision between the classes, chosen after training
    /// on validation patients (`train --tune-bias CLASS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// Log-probability offsets added to the network's output before the
/// argmax and the probabilities shown: a prior shift. A corpus whose
/// classes are balanced otherwise than the training data's (ICBHI's adult
/// normals against SPRSound's children's) wants the boundary moved, not
/// the network retrained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// One offset per class, in the card's class order (natural log).
    pub bias: Vec<f32>,
    /// What the offsets were chosen on and for (never the held-out patients).
    pub chosen_on: String,
}

impl Decision {
    /// The offsets that are not zero, by class name, and what they were chosen on.
    pub fn describe(&self, classes: &[String]) -> String {
        let shifts: Vec<String> = classes.iter().zip(&self.bias).filter(|(_, b)| **b != 0.0).map(|(c, b)| format!("{c} {b:+.1}")).collect();
        let shifts = if shifts.is_empty() { "no shift".to_string() } else { shifts.join(", ") };
        format!("{shifts} ({})", self.chosen_on)
    }

    /// `probs` reweighted by `exp(bias)` and renormalised: the softmax of
    /// the logits plus the bias.
    pub fn apply(&self, probs: &mut [f32]) {
        let mut total = 0.0;
        for (p, b) in probs.iter_mut().zip(&self.bias) {
            *p *= b.exp();
            total += *p;
        }
        if total > 0.0 {
            for p in probs.iter_mut() {
                *p /= total;
            }
        }
    }
}

/// One more set of weights in an ensemble, checked like the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The weights file, relative to the card.
    pub weights: String,
    pub sha256: String,
    /// Its own early stopping, as `Training` records the first member's.
    pub epochs_run: usize,
    pub best_epoch: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    pub channels: Vec<usize>,
    pub dropout: f64,
    /// Cards written before the choice existed pooled by the mean.
    #[serde(default)]
    pub pooling: Pooling,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    pub mean: f32,
    pub std: f32,
    /// Subtract each input's own mean first (removes device and gain level).
    #[serde(default)]
    pub per_example: bool,
    /// Subtract each mel band's own mean instead (removes a stethoscope's
    /// frequency response as well as the level).
    #[serde(default)]
    pub per_band: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// What it was trained on (the dataset folder's name, not a path).
    pub data: String,
    /// How the held-out patients were chosen.
    pub split: String,
    pub train_examples: usize,
    pub validation_examples: usize,
    pub test_examples: usize,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub seed: u64,
    /// The command that reproduces the model.
    pub command: String,
    /// What the split cannot promise (e.g. a dataset without patient ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
    /// The model whose weights the training started from (`train
    /// --init`): its name, what was taken, and its weights' sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
    /// A second target trained beside the classes (`train
    /// --auxiliary-sounds`), its layer dropped after training: what it was,
    /// its classes, its loss's weight and how many training examples had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auxiliary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    pub examples: usize,
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub macro_f1: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icbhi_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specificity: Option<f64>,
    /// The command that reproduces these figures.
    pub command: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: the weights' sha256 is {actual}, the card says {expected}: the weights do not belong to this card", path.display())]
    Hash { path: PathBuf, expected: String, actual: String },
    #[error("{}: {reason}", path.display())]
    Shape { path: PathBuf, reason: String },
    #[error(transparent)]
    Untrusted(#[from] crate::trust::TrustError),
    #[error("model \"{name}\" not found: not a card file, and not in {searched}")]
    NotFound { name: String, searched: String },
}

impl ModelCard {
    /// Reads a card, refusing one that others could have replaced.
    pub fn load(path: &Path) -> Result<ModelCard, CardError> {
        crate::trust::check_private(path, "model card")?;
        let text = std::fs::read_to_string(path).map_err(|source| CardError::Io { path: path.into(), source })?;
        Self::parse(path, &text)
    }

    /// Parses a card's text as if read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<ModelCard, CardError> {
        let card: ModelCard = toml::from_str(text).map_err(|e| CardError::Parse { path: path.into(), message: e.to_string().trim_end().replace('\n', " ") })?;
        if let Some(decision) = &card.decision {
            if decision.bias.len() != card.classes.len() || !decision.bias.iter().all(|b| b.is_finite()) {
                return Err(CardError::Parse {
                    path: path.into(),
                    message: format!("decision.bias: {} finite offsets expected (one per class), found {:?}", card.classes.len(), decision.bias),
                });
            }
        }
        Ok(card)
    }

    pub fn save(&self, path: &Path) -> Result<(), CardError> {
        let text = toml::to_string(self).map_err(|e| CardError::Parse { path: path.into(), message: e.to_string() })?;
        write_private(path, text.as_bytes()).map_err(|source| CardError::Io { path: path.into(), source })
    }

    /// The weights file beside the card.
    pub fn weights_path(&self, card_path: &Path) -> PathBuf {
        beside(card_path, &self.weights)
    }

    /// Every weights file the card names, the first one first, each with
    /// the sha256 the card gives it.
    fn weight_files(&self, card_path: &Path) -> Vec<(PathBuf, &str)> {
        std::iter::once((self.weights_path(card_path), self.sha256.as_str()))
            .chain(self.members.iter().map(|m| (beside(card_path, &m.weights), m.sha256.as_str())))
            .collect()
    }

    /// Reads every weights file (the first, then the ensemble's other
    /// members), refusing any whose sha256 differs from the card's.
    pub fn verify_all_weights(&self, card_path: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, CardError> {
        self.weight_files(card_path).into_iter().map(|(path, sha256)| verify(&path, sha256).map(|bytes| (path, bytes))).collect()
    }
}

fn beside(card_path: &Path, file: &str) -> PathBuf {
    card_path.parent().unwrap_or(Path::new(".")).join(file)
}

fn verify(path: &Path, expected: &str) -> Result<Vec<u8>, CardError> {
    crate::trust::check_private(path, "model")?;
    let bytes = std::fs::read(path).map_err(|source| CardError::Io { path: path.into(), source })?;
    let actual = sha256_hex(&bytes);
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(CardError::Hash { path: path.into(), expected: expected.into(), actual });
    }
    Ok(bytes)
}

/// Writes a model file as 0644 whatever the umask, so that
/// [`ModelCard::load`] accepts what training wrote.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Finds a model by card path, or by name in `models/` (beside the binary's
/// repository, or the current directory).
pub fn find(name_or_path: &str) -> Result<PathBuf, CardError> {
    let direct = Path::new(name_or_path);
    if direct.is_file() {
        return Ok(direct.to_path_buf());
    }
    let mut dirs = vec![PathBuf::from("models")];
    if let Ok(exe) = std::env::current_exe() {
        // target/release/auscult -> the repository's models/
        if let Some(root) = exe.parent().and_then(Path::parent).and_then(Path::parent) {
            dirs.push(root.join("models"));
        }
    }
    for dir in &dirs {
        for candidate in [dir.join(name_or_path).join("card.toml"), dir.join(format!("{name_or_path}.toml"))] {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(CardError::NotFound { name: name_or_path.into(), searched: dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ") })
}
