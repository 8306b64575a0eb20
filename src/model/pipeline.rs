//! From a corpus and a split to trained, evaluated, saved models: the code
//! `auscult train` and `auscult eval` share, and the tests drive.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::datasets::{split, Corpus};
use crate::host::SearchPath;

use super::data::{MelDataset, MelExample};
use super::features::{FeatureError, Preprocessor};

/// How the held-out patients are chosen; recorded in the card so that
/// `eval` can find them again.
#[derive(Debug, Clone, PartialEq)]
pub enum SplitSpec {
    /// Patient-disjoint k-fold: fold `fold` of `k` is held out.
    PatientFold { k: usize, fold: usize, seed: u64 },
    /// The official ICBHI 2017 split (by recording).
    IcbhiOfficial,
}

impl SplitSpec {
    pub fn describe(&self) -> String {
        match self {
            SplitSpec::PatientFold { k, fold, seed } => format!("patient-disjoint {k}-fold, fold {fold} held out, seed {seed}"),
            SplitSpec::IcbhiOfficial => "official ICBHI 2017 split".into(),
        }
    }

    /// Parses what [`describe`](Self::describe) wrote.
    pub fn parse(text: &str) -> Option<SplitSpec> {
        if text == "official ICBHI 2017 split" {
            return Some(SplitSpec::IcbhiOfficial);
        }
        let rest = text.strip_prefix("patient-disjoint ")?;
        let (k, rest) = rest.split_once("-fold, fold ")?;
        let (fold, seed) = rest.split_once(" held out, seed ")?;
        Some(SplitSpec::PatientFold { k: k.parse().ok()?, fold: fold.parse().ok()?, seed: seed.parse().ok()? })
    }

    pub fn apply(&self, corpus: &Corpus, data_dir: &Path) -> Result<split::Split, crate::datasets::DatasetError> {
        Ok(match self {
            SplitSpec::PatientFold { k, fold, seed } => split::patient_kfold(corpus, *k, *fold, *seed),
            SplitSpec::IcbhiOfficial => split::icbhi_official(corpus, &crate::datasets::icbhi::official_split(data_dir)?).0,
        })
    }
}

/// Log-mel spectrograms for the examples `indices` of `corpus`; each file
/// is decoded and run through the chain once.
pub fn mel_dataset(
    corpus: &Corpus,
    indices: &[usize],
    pre: &mut Preprocessor,
    cache: &mut HashMap<PathBuf, super::features::LogMel>,
    mut progress: impl FnMut(usize),
) -> Result<MelDataset, FeatureError> {
    let fps = pre.config.frames_per_s();
    let mut examples = Vec::with_capacity(indices.len());
    for (n, &i) in indices.iter().enumerate() {
        let e = &corpus.examples[i];
        if !cache.contains_key(&e.path) {
            let mel = pre.file(&e.path)?;
            cache.insert(e.path.clone(), mel);
        }
        let whole = &cache[&e.path];
        let mel = match e.span {
            Some((start, end)) => whole.slice((start * fps).floor() as usize, ((end * fps).ceil() as usize).max((start * fps) as usize + 1)),
            None => whole.clone(),
        };
        examples.push(MelExample { mel, label: e.label, auxiliary: None });
        progress(n + 1);
    }
    Ok(MelDataset { examples })
}

/// The standard search path plus the directories tests and `cargo run`
/// leave plugins in.
pub fn plugin_search() -> SearchPath {
    SearchPath::standard(&[])
}
