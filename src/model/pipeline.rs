//! From a corpus and a split to trained, evaluated, saved models: the code
//! `auscult train` and `auscult eval` share, and the tests drive.

use std::path::Path;

use crate::datasets::lung_cycles::{self, Layout};
use crate::datasets::sprsound::{self, Set};
use crate::datasets::{split, Corpus};
use crate::host::SearchPath;

use super::cache::MelCache;
use super::data::{MelDataset, MelExample};
use super::features::{FeatureError, Preprocessor};

/// How the held-out patients are chosen; recorded in the card so that
/// `eval` can find them again.
#[derive(Debug, Clone, PartialEq)]
pub enum SplitSpec {
    /// Patient-disjoint k-fold: fold `fold` of `k` is held out; with
    /// `file_blocks`, patients are blocks of that many consecutively numbered
    /// files (see `split::group_by_file_number`).
    PatientFold { k: usize, fold: usize, seed: u64, file_blocks: Option<usize> },
    /// The official ICBHI 2017 split (by recording).
    IcbhiOfficial,
    /// SPRSound's training set against one of its official test sets.
    SprsoundOfficial { test: Set },
    /// Every recording in the folder named `site` held out, the other
    /// folders trained on (PhysioNet 2016's `training-a`..`f` are its six
    /// sites): leave-one-site-out, where recordings carry no patient ids
    /// and the sites differ more than the classes do.
    HoldOutSite { site: String },
}

/// How a split's description names its file blocks.
const BLOCKS: &str = ", patients = blocks of ";
const BLOCKS_END: &str = " numbered files";

impl SplitSpec {
    /// The file blocks a split groups patients by, if any.
    pub fn file_blocks(&self) -> Option<usize> {
        match self {
            SplitSpec::PatientFold { file_blocks, .. } => *file_blocks,
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            SplitSpec::PatientFold { k, fold, seed, file_blocks } => format!(
                "patient-disjoint {k}-fold, fold {fold} held out, seed {seed}{}",
                file_blocks.map_or(String::new(), |b| format!("{BLOCKS}{b}{BLOCKS_END}"))
            ),
            SplitSpec::IcbhiOfficial => "official ICBHI 2017 split".into(),
            SplitSpec::SprsoundOfficial { test } => format!("official SPRSound split, test set {}", test.name()),
            SplitSpec::HoldOutSite { site } => format!("site {site} held out"),
        }
    }

    /// The official split of the corpus in `data_dir`: ICBHI's, or
    /// SPRSound's training set against `sprsound_test` (the 2022
    /// inter-patient set when none is named).
    pub fn official(data_dir: &Path, sprsound_test: Option<Set>) -> Result<SplitSpec, crate::datasets::DatasetError> {
        match (lung_cycles::layout(data_dir), sprsound_test) {
            (Layout::Sprsound, test) => Ok(SplitSpec::SprsoundOfficial { test: test.unwrap_or(Set::TestInter) }),
            (Layout::Icbhi, None) => Ok(SplitSpec::IcbhiOfficial),
            (_, Some(test)) => Err(crate::datasets::DatasetError::Layout {
                path: data_dir.into(),
                reason: format!("not a SPRSound copy (Classification/): it has no {} set", test.name()),
            }),
            (Layout::Kauh, None) => Err(crate::datasets::DatasetError::Layout {
                path: data_dir.into(),
                reason: "no official split: only ICBHI (ICBHI_challenge_train_test.txt) and SPRSound have one".into(),
            }),
        }
    }

    /// Parses what [`describe`](Self::describe) wrote.
    pub fn parse(text: &str) -> Option<SplitSpec> {
        if text == "official ICBHI 2017 split" {
            return Some(SplitSpec::IcbhiOfficial);
        }
        if let Some(test) = text.strip_prefix("official SPRSound split, test set ") {
            return Set::parse(test).map(|test| SplitSpec::SprsoundOfficial { test });
        }
        if let Some(site) = text.strip_prefix("site ").and_then(|t| t.strip_suffix(" held out")) {
            return Some(SplitSpec::HoldOutSite { site: site.to_string() });
        }
        let rest = text.strip_prefix("patient-disjoint ")?;
        let (k, rest) = rest.split_once("-fold, fold ")?;
        let (fold, rest) = rest.split_once(" held out, seed ")?;
        let (seed, file_blocks) = match rest.split_once(BLOCKS) {
            Some((seed, blocks)) => (seed, Some(blocks.strip_suffix(BLOCKS_END)?.parse().ok()?)),
            None => (rest, None),
        };
        Some(SplitSpec::PatientFold { k: k.parse().ok()?, fold: fold.parse().ok()?, seed: seed.parse().ok()?, file_blocks })
    }

    pub fn apply(&self, corpus: &Corpus, data_dir: &Path) -> Result<split::Split, crate::datasets::DatasetError> {
        Ok(match self {
            SplitSpec::PatientFold { k, fold, seed, file_blocks: None } => split::patient_kfold(corpus, *k, *fold, *seed),
            SplitSpec::PatientFold { k, fold, seed, file_blocks: Some(block) } => {
                let mut grouped = corpus.clone();
                split::group_by_file_number(&mut grouped, *block)?;
                split::patient_kfold(&grouped, *k, *fold, *seed)
            }
            SplitSpec::IcbhiOfficial => split::icbhi_official(corpus, &crate::datasets::icbhi::official_split(data_dir)?).0,
            SplitSpec::SprsoundOfficial { test } => {
                let sets = sprsound::official_sets(data_dir)?;
                let in_set = |set: Set| corpus.examples.iter().enumerate().filter(|(_, e)| sets.get(&e.path) == Some(&set)).map(|(i, _)| i).collect();
                split::Split { train: in_set(Set::Train), test: in_set(*test) }
            }
            SplitSpec::HoldOutSite { site } => {
                let (test, train): (Vec<usize>, Vec<usize>) =
                    (0..corpus.examples.len()).partition(|&i| crate::datasets::folder_of(&corpus.examples[i].path) == *site);
                if test.is_empty() {
                    let mut sites: Vec<String> = corpus.examples.iter().map(|e| crate::datasets::folder_of(&e.path)).collect();
                    sites.sort();
                    sites.dedup();
                    return Err(crate::datasets::DatasetError::Layout {
                        path: data_dir.into(),
                        reason: format!("no recordings in a folder named {site:?}; the sites here: {}", sites.join(", ")),
                    });
                }
                split::Split { train, test }
            }
        })
    }
}

/// Keeps the training side of a corpus that has an official split (ICBHI
/// with its split file, SPRSound), for use as an extra training set: its
/// test sets stay unheard, to be scored on their own. Returns the split
/// kept by, if any.
pub fn keep_training_side(corpus: &mut Corpus, dir: &Path) -> Result<Option<SplitSpec>, crate::datasets::DatasetError> {
    let spec = match lung_cycles::layout(dir) {
        Layout::Icbhi if dir.join("ICBHI_challenge_train_test.txt").is_file() => SplitSpec::IcbhiOfficial,
        Layout::Sprsound => SplitSpec::SprsoundOfficial { test: Set::TestInter },
        _ => return Ok(None),
    };
    let train = spec.apply(corpus, dir)?.train;
    let mut keep = vec![false; corpus.examples.len()];
    train.iter().for_each(|&i| keep[i] = true);
    let mut flags = keep.into_iter();
    corpus.examples.retain(|_| flags.next().unwrap_or(false));
    Ok(Some(spec))
}

/// Log-mel spectrograms for the examples `indices` of `corpus`; each file
/// is decoded and run through the chain once (or read back from `cache`).
pub fn mel_dataset(
    corpus: &Corpus,
    indices: &[usize],
    pre: &mut Preprocessor,
    cache: &mut MelCache,
    mut progress: impl FnMut(usize),
) -> Result<MelDataset, FeatureError> {
    let fps = pre.config.frames_per_s();
    let mut examples = Vec::with_capacity(indices.len());
    for (n, &i) in indices.iter().enumerate() {
        let e = &corpus.examples[i];
        let whole = cache.get(&e.path, pre)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_split_reads_back_from_its_description() {
        for spec in [
            SplitSpec::PatientFold { k: 5, fold: 2, seed: 7, file_blocks: None },
            SplitSpec::PatientFold { k: 5, fold: 0, seed: 1, file_blocks: Some(20) },
            SplitSpec::IcbhiOfficial,
            SplitSpec::SprsoundOfficial { test: Set::Test2023 },
            SplitSpec::HoldOutSite { site: "training-e".into() },
        ] {
            assert_eq!(SplitSpec::parse(&spec.describe()), Some(spec.clone()), "{}", spec.describe());
        }
    }
}
