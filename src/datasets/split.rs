//! Train/test splits that never put one patient on both sides.
//!
//! The notebook this project descends from split recordings at random, so
//! the same patient was in training and test, and its accuracy measured
//! memory of patients. Here a split is either the official ICBHI one (by
//! recording) or patient-disjoint k-fold, stratified by each patient's
//! majority class so that rare classes reach every fold.

use std::collections::{BTreeMap, HashSet};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{icbhi, Corpus};

/// For a set without patient ids whose files are numbered (the heart set's
/// `New_N_001.wav`): each file's patient becomes its folder and the block
/// of `block` consecutive numbers it falls in (`N/0` for 1..=block), so
/// that neighbouring files, which may be cut from one source recording,
/// stay on one side of a split. A file name without a number is an error
/// naming it.
pub fn group_by_file_number(corpus: &mut Corpus, block: usize) -> Result<(), super::DatasetError> {
    let block = block.max(1) as u64;
    for e in &mut corpus.examples {
        let stem = e.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let digits: String = stem.chars().rev().take_while(char::is_ascii_digit).collect::<Vec<_>>().into_iter().rev().collect();
        let number: u64 = digits.parse().map_err(|_| super::DatasetError::Layout {
            path: e.path.clone(),
            reason: "the name ends in no number, so it cannot be grouped by number (--file-blocks)".into(),
        })?;
        let folder = super::folder_of(&e.path);
        e.patient = format!("{folder}/{}", number.saturating_sub(1) / block);
    }
    Ok(())
}

/// Indices into `corpus.examples`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

impl Split {
    /// Patients on both sides (empty for a correct split).
    pub fn shared_patients(&self, corpus: &Corpus) -> Vec<String> {
        let train: HashSet<&str> = self.train.iter().map(|&i| corpus.examples[i].patient.as_str()).collect();
        let mut shared: Vec<String> = self.test.iter().map(|&i| corpus.examples[i].patient.as_str()).filter(|p| train.contains(p)).map(String::from).collect();
        shared.sort();
        shared.dedup();
        shared
    }
}

/// Fold `fold` of `k` patient-disjoint folds: the test side is that fold's
/// patients. Patients are dealt to folds class by class (by their majority
/// class), shuffled with `seed`.
pub fn patient_kfold(corpus: &Corpus, k: usize, fold: usize, seed: u64) -> Split {
    let k = k.max(2);
    let fold = fold % k;
    // Each patient's examples and majority class.
    let mut by_patient: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in corpus.examples.iter().enumerate() {
        by_patient.entry(e.patient.as_str()).or_default().push(i);
    }
    let mut by_class: Vec<Vec<&str>> = vec![Vec::new(); corpus.classes.len().max(1)];
    for (patient, idx) in &by_patient {
        let mut counts = vec![0usize; corpus.classes.len().max(1)];
        for &i in idx {
            counts[corpus.examples[i].label] += 1;
        }
        // Rarest class present wins ties toward minority classes: a patient
        // with any abnormal cycles is dealt as abnormal.
        let majority = (0..counts.len()).max_by_key(|&c| (counts[c], usize::MAX - c)).unwrap_or(0);
        by_class[majority].push(patient);
    }
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut test_patients: HashSet<&str> = HashSet::new();
    let mut dealt = 0usize;
    for patients in &mut by_class {
        patients.shuffle(&mut rng);
        for p in patients.iter() {
            if dealt % k == fold {
                test_patients.insert(p);
            }
            dealt += 1;
        }
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, e) in corpus.examples.iter().enumerate() {
        if test_patients.contains(e.patient.as_str()) {
            test.push(i);
        } else {
            train.push(i);
        }
    }
    Split { train, test }
}

/// The official ICBHI 2017 split, by recording name. Recordings the split
/// file does not name are left out (and returned).
pub fn icbhi_official(corpus: &Corpus, split: &std::collections::HashMap<String, bool>) -> (Split, Vec<String>) {
    let (mut train, mut test, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for (i, e) in corpus.examples.iter().enumerate() {
        let stem = e.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match split.get(icbhi::split_name(&stem)) {
            Some(true) => train.push(i),
            Some(false) => test.push(i),
            None => unknown.push(stem),
        }
    }
    unknown.sort();
    unknown.dedup();
    (Split { train, test }, unknown)
}

/// Carves a validation set out of `train`, by patient (about `fraction` of
/// the examples), for early stopping. Never touches the test side.
///
/// Patients are dealt as folds are; but where a few patients hold most of
/// the examples (in the ICBHI subset two of eleven hold 62% of the cycles)
/// that fold can swallow the training set, leaving the model a third of
/// it. Then patients are taken in a seeded order, passing over any that
/// would overshoot, until `fraction` of the examples is reached.
pub fn validation_from_train(corpus: &Corpus, train: &[usize], fraction: f64, seed: u64) -> Split {
    let fraction = fraction.clamp(0.05, 0.5);
    let sub = Corpus {
        name: corpus.name.clone(),
        classes: corpus.classes.clone(),
        examples: train.iter().map(|&i| corpus.examples[i].clone()).collect(),
        warnings: Vec::new(),
    };
    let k = (1.0 / fraction).round() as usize;
    let inner = patient_kfold(&sub, k, 0, seed);
    let limit = 2.0 * fraction * sub.examples.len() as f64;
    let carve = if inner.test.len() as f64 <= limit { inner } else { carve_by_size(&sub, fraction, limit, seed) };
    Split { train: carve.train.iter().map(|&j| train[j]).collect(), test: carve.test.iter().map(|&j| train[j]).collect() }
}

/// Whole patients, in a seeded order, until `fraction` of the examples,
/// none that would take the carve past `limit`; the smallest patient if
/// every one would.
fn carve_by_size(corpus: &Corpus, fraction: f64, limit: f64, seed: u64) -> Split {
    let mut by_patient: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &corpus.examples {
        *by_patient.entry(e.patient.as_str()).or_default() += 1;
    }
    let mut patients: Vec<(&str, usize)> = by_patient.into_iter().collect();
    patients.shuffle(&mut rand::rngs::SmallRng::seed_from_u64(seed));
    let target = fraction * corpus.examples.len() as f64;
    let (mut chosen, mut size) = (HashSet::new(), 0usize);
    for &(patient, n) in &patients {
        if (size as f64) >= target {
            break;
        }
        if (size + n) as f64 <= limit {
            chosen.insert(patient);
            size += n;
        }
    }
    if chosen.is_empty() {
        if let Some(&(patient, _)) = patients.iter().min_by_key(|(p, n)| (*n, *p)) {
            chosen.insert(patient);
        }
    }
    let (test, train): (Vec<usize>, Vec<usize>) = (0..corpus.examples.len()).partition(|&i| chosen.contains(corpus.examples[i].patient.as_str()));
    Split { train, test }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::Example;

    fn corpus() -> Corpus {
        let mut examples = Vec::new();
        for p in 0..40 {
            for c in 0..3 {
                examples.push(Example { path: format!("{p}_{c}.wav").into(), patient: format!("P{p}"), label: (p + c) % 3, span: None });
            }
        }
        Corpus { name: "t".into(), classes: vec!["a".into(), "b".into(), "c".into()], examples, warnings: vec![] }
    }

    #[test]
    fn numbered_files_group_into_blocks_per_folder_and_a_name_without_a_number_is_named() {
        let example = |path: &str| Example { path: path.into(), patient: path.into(), label: 0, span: None };
        let mut c = Corpus {
            name: "heart".into(),
            classes: vec!["N".into()],
            examples: vec![example("d/N/New_N_001.wav"), example("d/N/New_N_020.wav"), example("d/N/New_N_021.wav"), example("d/MS/New_MS_001.wav")],
            warnings: vec![],
        };
        group_by_file_number(&mut c, 20).unwrap();
        let patients: Vec<&str> = c.examples.iter().map(|e| e.patient.as_str()).collect();
        assert_eq!(patients, ["N/0", "N/0", "N/1", "MS/0"]);
        c.examples.push(example("d/N/notes.wav"));
        let message = group_by_file_number(&mut c, 20).unwrap_err().to_string();
        assert!(message.starts_with("d/N/notes.wav: ") && message.contains("--file-blocks"), "{message}");
    }

    #[test]
    fn folds_are_patient_disjoint_and_cover_everyone_once() {
        let c = corpus();
        let mut seen_in_test = Vec::new();
        for fold in 0..5 {
            let s = patient_kfold(&c, 5, fold, 7);
            assert!(s.shared_patients(&c).is_empty());
            assert_eq!(s.train.len() + s.test.len(), c.examples.len());
            seen_in_test.extend(s.test.iter().copied());
        }
        seen_in_test.sort();
        assert_eq!(seen_in_test, (0..c.examples.len()).collect::<Vec<_>>());
    }

    #[test]
    fn the_check_catches_a_leaky_split() {
        let c = corpus();
        // Recording-level random split, as the notebook did.
        let leaky = Split { train: (0..c.examples.len()).step_by(2).collect(), test: (1..c.examples.len()).step_by(2).collect() };
        assert!(!leaky.shared_patients(&c).is_empty());
    }

    #[test]
    fn validation_comes_from_training_patients_only() {
        let c = corpus();
        let outer = patient_kfold(&c, 5, 1, 3);
        let inner = validation_from_train(&c, &outer.train, 0.2, 3);
        let test: HashSet<usize> = outer.test.iter().copied().collect();
        assert!(inner.train.iter().chain(&inner.test).all(|i| !test.contains(i)));
        assert!(inner.shared_patients(&c).is_empty());
        assert!(!inner.test.is_empty());
    }

    #[test]
    fn validation_does_not_swallow_the_training_set_when_one_patient_holds_most_of_it() {
        // Patient "big" holds 60 of 100 examples; the rest hold 4 each.
        let mut examples: Vec<Example> =
            (0..60).map(|i| Example { path: format!("big_{i}.wav").into(), patient: "big".into(), label: 0, span: None }).collect();
        for p in 0..10 {
            for c in 0..4 {
                examples.push(Example { path: format!("{p}_{c}.wav").into(), patient: format!("P{p}"), label: c % 2, span: None });
            }
        }
        let c = Corpus { name: "t".into(), classes: vec!["a".into(), "b".into()], examples, warnings: vec![] };
        let all: Vec<usize> = (0..c.examples.len()).collect();
        let mut swallowing = 0;
        for seed in 0..20 {
            let inner = validation_from_train(&c, &all, 0.15, seed);
            assert!(inner.shared_patients(&c).is_empty());
            assert_eq!(inner.train.len() + inner.test.len(), 100);
            assert!((1..=30).contains(&inner.test.len()), "seed {seed}: {} of 100 held for validation", inner.test.len());
            assert!(inner.test.iter().all(|&i| c.examples[i].patient != "big"), "seed {seed}");
            if patient_kfold(&c, 7, 0, seed).test.len() > 30 {
                // The fold would have taken "big": the carve reaches the fraction instead.
                swallowing += 1;
                assert!(inner.test.len() >= 15, "seed {seed}: {}", inner.test.len());
            }
        }
        assert!(swallowing > 0, "no seed dealt the big patient to the validation fold");
        // Equal-sized patients keep the fold carve as it was.
        let even = corpus();
        let all: Vec<usize> = (0..even.examples.len()).collect();
        let sub = validation_from_train(&even, &all, 0.15, 4);
        assert_eq!(sub, patient_kfold(&even, 7, 0, 4));
    }
}
