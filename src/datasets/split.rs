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
        let mut shared: Vec<String> = self
            .test
            .iter()
            .map(|&i| corpus.examples[i].patient.as_str())
            .filter(|p| train.contains(p))
            .map(String::from)
            .collect();
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
/// them), for early stopping. Never touches the test side.
pub fn validation_from_train(corpus: &Corpus, train: &[usize], fraction: f64, seed: u64) -> Split {
    let sub = Corpus {
        name: corpus.name.clone(),
        classes: corpus.classes.clone(),
        examples: train.iter().map(|&i| corpus.examples[i].clone()).collect(),
        warnings: Vec::new(),
    };
    let k = (1.0 / fraction.clamp(0.05, 0.5)).round() as usize;
    let inner = patient_kfold(&sub, k, 0, seed);
    Split { train: inner.train.iter().map(|&j| train[j]).collect(), test: inner.test.iter().map(|&j| train[j]).collect() }
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
}
