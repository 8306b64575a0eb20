//! Held-out predictions scored as `auscult eval` and the training card
//! score them: the report, the challenge figures the data's layout calls
//! for, and the 95% intervals from resampling its patients.

use std::path::Path;

use crate::datasets::circor;
use crate::datasets::lung_cycles::{self, Layout};
use crate::datasets::Corpus;
use crate::metrics;

use super::card::Evaluation;
use super::tasks::Task;

/// Each recording's probabilities (rows in the order of `indices` into the
/// corpus) replaced by the mean over its patient's recordings: where the
/// label is the patient's diagnosis, all of them speak together.
pub fn patient_means(probs: &[Vec<f32>], corpus: &Corpus, indices: &[usize]) -> Vec<Vec<f32>> {
    metrics::mean_by_group(probs, &patients(corpus, indices))
}

/// The report on `indices` of `corpus` (data in `data`), with the 95%
/// interval from resampling its patients (2 000 times, seeded: the same
/// figures twice).
pub fn score(corpus: &Corpus, indices: &[usize], truth: &[usize], probs: &[Vec<f32>], task: &Task, data: &Path) -> metrics::Report {
    // Each challenge's figures on its own data: a lung-cycles model scored on
    // SPRSound events gets SPRSound's, not ICBHI's formula under ICBHI's name.
    let on_sprsound = lung_cycles::layout(data) == Layout::Sprsound;
    let icbhi = task.icbhi && !on_sprsound;
    let mut report = metrics::report(&corpus.classes, truth, probs, icbhi);
    let sprsound = if on_sprsound { task.sprsound } else { &[] };
    report.sprsound = sprsound.iter().map(|(name, groups)| metrics::sprsound_score(name, &report.confusion, groups)).collect();
    if let Some(weights) = task.murmur_weights {
        report.murmur = Some(murmur_by_patient(corpus, indices, truth, probs, weights));
    }
    report.patient_interval =
        metrics::patient_bootstrap(corpus.classes.len(), truth, probs, &patients(corpus, indices), metrics::ChallengeFigures { icbhi, sprsound }, 2000, 1);
    report
}

/// What a card keeps of a held-out report, with the command that prints it.
pub fn card_evaluation(r: &metrics::Report, command: String) -> Evaluation {
    Evaluation {
        examples: r.n,
        accuracy: r.accuracy,
        balanced_accuracy: r.balanced_accuracy,
        macro_f1: r.macro_f1,
        icbhi_score: r.icbhi.as_ref().map(|i| i.icbhi_score),
        sensitivity: r.icbhi.as_ref().map(|i| i.sensitivity),
        specificity: r.icbhi.as_ref().map(|i| i.specificity),
        command,
    }
}

/// One decision per patient from their recordings' (the CirCor challenge's
/// rule, applied to the truth and the predictions alike).
fn murmur_by_patient(corpus: &Corpus, indices: &[usize], truth: &[usize], probs: &[Vec<f32>], weights: &[f64]) -> metrics::MurmurScore {
    let mut by_patient: std::collections::BTreeMap<&str, (Vec<usize>, Vec<usize>)> = std::collections::BTreeMap::new();
    for ((&i, &t), p) in indices.iter().zip(truth).zip(probs) {
        let entry = by_patient.entry(corpus.examples[i].patient.as_str()).or_default();
        entry.0.push(t);
        entry.1.push(metrics::argmax(p));
    }
    let pairs: Vec<(usize, usize)> = by_patient.into_values().map(|(t, p)| (circor::patient_murmur(t), circor::patient_murmur(p))).collect();
    metrics::murmur_score(&pairs, weights, 2000, 1)
}

/// The patient of each of `indices` into the corpus.
fn patients<'a>(corpus: &'a Corpus, indices: &[usize]) -> Vec<&'a str> {
    indices.iter().map(|&i| corpus.examples[i].patient.as_str()).collect()
}
