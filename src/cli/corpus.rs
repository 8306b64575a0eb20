//! What `train` and `eval` share: loading a task's corpus, scoring
//! predictions on it, and the progress bar.

use std::path::Path;

use anyhow::Context;
use auscult::datasets::circor;
use auscult::datasets::lung_cycles::{self, Layout};
use auscult::datasets::Corpus;
use auscult::metrics;
use auscult::model::tasks::{self, Task};
use indicatif::{ProgressBar, ProgressStyle};

/// The task by name and its corpus from `data`; the loader's warnings (a
/// recording skipped, say) go to stderr.
pub(super) fn load_task(name: &str, data: &Path) -> anyhow::Result<(Task, Corpus)> {
    let task = tasks::task(name).with_context(|| format!("unknown task {name:?}; tasks: {}", tasks::NAMES.join(", ")))?;
    let corpus = task.loader.load(data)?;
    for w in &corpus.warnings {
        eprintln!("auscult: warning: {w}");
    }
    Ok((task, corpus))
}

/// Each recording's probabilities (rows in the order of `indices` into the
/// corpus) replaced by the mean over its patient's recordings: where the
/// label is the patient's diagnosis, all of them speak together.
pub(super) fn patient_means(probs: &[Vec<f32>], corpus: &Corpus, indices: &[usize]) -> Vec<Vec<f32>> {
    metrics::mean_by_group(probs, &patients(corpus, indices))
}

/// The report on `indices` of `corpus`, with the 95% interval from
/// resampling its patients (2 000 times, seeded: the same figures twice).
pub(super) fn scored(corpus: &Corpus, indices: &[usize], truth: &[usize], probs: &[Vec<f32>], task: &Task, data: &Path) -> metrics::Report {
    let icbhi = task.icbhi;
    let mut report = metrics::report(&corpus.classes, truth, probs, icbhi);
    // The SPRSound challenge's figures on SPRSound's own data.
    if lung_cycles::layout(data) == Layout::Sprsound {
        report.sprsound = task.sprsound.iter().map(|(name, groups)| metrics::sprsound_score(name, &report.confusion, groups)).collect();
    }
    if let Some(weights) = task.murmur_weights {
        report.murmur = Some(murmur_by_patient(corpus, indices, truth, probs, weights));
    }
    report.patient_interval = metrics::patient_bootstrap(corpus.classes.len(), truth, probs, &patients(corpus, indices), icbhi, 2000, 1);
    report
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

/// A progress bar on stderr for `len` items of `what`.
pub(super) fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed_precise}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.set_message(what.to_string());
    bar
}
