//! The decision after the network: offsets to some classes'
//! log-probabilities ([`Decision`]), chosen on validation patients for the
//! figure the task is judged by. A network trained mostly on one corpus
//! (or weighted for balance) puts its boundaries where that data wants
//! them; the held-out patients' corpus, or the challenge's metric, may want
//! them elsewhere, and moving a boundary needs no retraining.

use crate::datasets::{circor, Corpus};
use crate::metrics;

use super::card::Decision;
use super::tasks::Task;

/// Offsets from -3 to +3 in steps of 0.1 tried on each tuned class.
const GRID: std::ops::RangeInclusive<i32> = -30..=30;

/// At most this many classes are tuned together (the grid grows as its power).
pub const MAX_TUNED: usize = 2;

/// What a task's decision is tuned for, on validation examples `indices`
/// of `corpus` with true classes `truth`: the CirCor challenge's weighted
/// accuracy over patients (murmur tasks), the mean of balanced accuracy
/// and ICBHI Score (ICBHI's cycles), or balanced accuracy.
pub struct Objective<'a> {
    task: &'a Task,
    classes: &'a [String],
    truth: &'a [usize],
    /// Each validation example's patient, as an index into `patients`.
    patient_of: Vec<usize>,
    patients: usize,
}

impl<'a> Objective<'a> {
    pub fn new(task: &'a Task, corpus: &'a Corpus, indices: &[usize], truth: &'a [usize]) -> Objective<'a> {
        let mut ids: Vec<&str> = indices.iter().map(|&i| corpus.examples[i].patient.as_str()).collect();
        let names = ids.clone();
        ids.sort_unstable();
        ids.dedup();
        let patient_of = names.iter().map(|p| ids.binary_search(p).unwrap_or(0)).collect();
        Objective { task, classes: &corpus.classes, truth, patient_of, patients: ids.len() }
    }

    /// The figure, in words.
    pub fn name(&self) -> &'static str {
        if self.task.murmur_weights.is_some() {
            "challenge weighted accuracy over patients"
        } else if self.task.icbhi {
            "mean of balanced accuracy and ICBHI Score"
        } else {
            "balanced accuracy"
        }
    }

    /// The figure for `probs` (one row per validation example).
    pub fn value(&self, probs: &[Vec<f32>]) -> f64 {
        if let Some(weights) = self.task.murmur_weights {
            return self.murmur(probs, weights);
        }
        let report = metrics::report(self.classes, self.truth, probs, self.task.icbhi);
        match &report.icbhi {
            Some(icbhi) => (report.balanced_accuracy + icbhi.icbhi_score) / 2.0,
            None => report.balanced_accuracy,
        }
    }

    /// (5·TP present + 3·TP unknown + TP absent) / (5·N present + ...):
    /// each patient decided from their recordings by the challenge's rule.
    fn murmur(&self, probs: &[Vec<f32>], weights: &[f64]) -> f64 {
        let mut by_patient = vec![(Vec::new(), Vec::new()); self.patients];
        for ((&p, &t), row) in self.patient_of.iter().zip(self.truth).zip(probs) {
            by_patient[p].0.push(t);
            by_patient[p].1.push(metrics::argmax(row));
        }
        let (mut hit, mut total) = (0.0, 0.0);
        for (truth, predicted) in by_patient {
            let (t, p) = (circor::patient_murmur(truth), circor::patient_murmur(predicted));
            total += weights[t];
            if t == p {
                hit += weights[t];
            }
        }
        if total > 0.0 {
            hit / total
        } else {
            0.0
        }
    }
}

/// The offsets to `tuned` classes' log-probabilities that maximise
/// `objective` over `probs`; of equally good ones the smallest (in the sum
/// of their sizes), so that no evidence means no shift.
pub fn tune(classes: &[String], tuned: &[usize], probs: &[Vec<f32>], objective: &Objective<'_>) -> Decision {
    let steps: Vec<f32> = GRID.map(|i| i as f32 / 10.0).collect();
    // Every combination of offsets, the smallest first.
    let mut combinations: Vec<Vec<f32>> = vec![Vec::new()];
    for _ in tuned {
        combinations = combinations.into_iter().flat_map(|c| steps.iter().map(move |&s| [c.as_slice(), &[s]].concat())).collect();
    }
    combinations.sort_by(|a, b| a.iter().map(|v| v.abs()).sum::<f32>().total_cmp(&b.iter().map(|v| v.abs()).sum()));
    let decision_of = |offsets: &[f32]| {
        let mut bias = vec![0.0; classes.len()];
        for (&class, &offset) in tuned.iter().zip(offsets) {
            bias[class] = offset;
        }
        Decision { bias, chosen_on: String::new() }
    };
    let mut best: Option<(f64, Decision)> = None;
    let mut shifted = probs.to_vec();
    for offsets in &combinations {
        let decision = decision_of(offsets);
        for (s, p) in shifted.iter_mut().zip(probs) {
            s.copy_from_slice(p);
            decision.apply(s);
        }
        let value = objective.value(&shifted);
        if best.as_ref().is_none_or(|(v, _)| value > *v) {
            best = Some((value, decision));
        }
    }
    let (value, decision) = best.unwrap_or_else(|| (0.0, decision_of(&[])));
    let before = objective.value(probs);
    Decision { chosen_on: format!("{} validation examples, {} {value:.3} (unshifted {before:.3})", probs.len(), objective.name()), ..decision }
}

/// The classes `names` (comma-separated) by index, or an error naming the
/// one that is not among `classes`.
pub fn tuned_classes(names: &str, classes: &[String]) -> Result<Vec<usize>, String> {
    let tuned: Vec<usize> = names
        .split(',')
        .map(|name| classes.iter().position(|c| c == name.trim()).ok_or_else(|| format!("{name}: not one of the task's classes {classes:?}")))
        .collect::<Result<_, _>>()?;
    if tuned.is_empty() || tuned.len() > MAX_TUNED {
        return Err(format!("{names}: one or {MAX_TUNED} classes"));
    }
    Ok(tuned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::Example;
    use crate::model::tasks;

    fn classes() -> Vec<String> {
        ["normal", "crackle", "wheeze", "both"].map(String::from).to_vec()
    }

    fn corpus(classes: Vec<String>, patients: &[&str], labels: &[usize]) -> Corpus {
        let examples =
            patients.iter().zip(labels).map(|(p, &label)| Example { path: format!("{p}.wav").into(), patient: p.to_string(), label, span: None }).collect();
        Corpus { name: "test".into(), classes, examples, warnings: Vec::new() }
    }

    #[test]
    fn a_decision_bias_is_the_softmax_of_the_shifted_logits() {
        let logits = [0.3f32, -1.2, 2.0, 0.1];
        let bias = [0.7f32, 0.0, -0.4, 0.0];
        let softmax = |z: &[f32]| -> Vec<f32> {
            let total: f32 = z.iter().map(|v| v.exp()).sum();
            z.iter().map(|v| v.exp() / total).collect()
        };
        let mut probs = softmax(&logits);
        Decision { bias: bias.to_vec(), chosen_on: String::new() }.apply(&mut probs);
        let shifted: Vec<f32> = logits.iter().zip(bias).map(|(z, b)| z + b).collect();
        for (a, b) in probs.iter().zip(softmax(&shifted)) {
            assert!((a - b).abs() < 1e-6, "{probs:?}");
        }
    }

    #[test]
    fn the_bias_moves_an_under_called_class_back_and_stays_zero_without_evidence() {
        // Normal examples the network scores just below a wheeze: the
        // validation figure needs normal raised.
        let truth = [0, 0, 0, 2, 2, 1];
        let data = corpus(classes(), &["a", "a", "b", "c", "d", "d"], &truth);
        let task = tasks::task("lung-cycles").unwrap();
        let indices: Vec<usize> = (0..truth.len()).collect();
        let objective = Objective::new(&task, &data, &indices, &truth);
        let probs = vec![
            vec![0.40, 0.05, 0.50, 0.05],
            vec![0.42, 0.05, 0.48, 0.05],
            vec![0.35, 0.05, 0.55, 0.05],
            vec![0.10, 0.05, 0.80, 0.05],
            vec![0.15, 0.05, 0.75, 0.05],
            vec![0.10, 0.80, 0.05, 0.05],
        ];
        let decision = tune(&data.classes, &[0], &probs, &objective);
        assert!(decision.bias[0] > 0.0 && decision.bias[1..].iter().all(|&b| b == 0.0), "{decision:?}");
        let shifted: Vec<usize> = probs
            .iter()
            .map(|p| {
                let mut p = p.clone();
                decision.apply(&mut p);
                metrics::argmax(&p)
            })
            .collect();
        assert_eq!(shifted, truth, "{decision:?}");
        assert!(decision.chosen_on.starts_with("6 validation examples, mean of balanced accuracy and ICBHI Score 1.000"), "{}", decision.chosen_on);

        // Every prediction right already: no shift is better than none.
        let right = [vec![0.9, 0.05, 0.03, 0.02], vec![0.1, 0.1, 0.7, 0.1]];
        let objective = Objective::new(&task, &data, &[0, 3], &[0, 2]);
        assert_eq!(tune(&data.classes, &[0, 2], &right, &objective).bias, vec![0.0; 4]);
    }

    #[test]
    fn murmur_decisions_are_tuned_on_patients_by_the_challenges_weights() {
        // absent, present, unknown. Patient p has one recording that is
        // present among absent ones; q is absent; u unknown. The network
        // calls every recording absent, present a little below.
        let task = tasks::task("heart-murmur").unwrap();
        let murmur_classes = ["absent", "present", "unknown"].map(String::from).to_vec();
        let truth = [0, 1, 0, 0, 2];
        let data = corpus(murmur_classes, &["p", "p", "p", "q", "u"], &truth);
        let indices: Vec<usize> = (0..truth.len()).collect();
        let objective = Objective::new(&task, &data, &indices, &truth);
        let probs = vec![vec![0.8, 0.1, 0.1], vec![0.5, 0.4, 0.1], vec![0.8, 0.1, 0.1], vec![0.9, 0.05, 0.05], vec![0.6, 0.1, 0.3]];
        // Unshifted: p is called absent, q absent (right), u absent: 1 / (5 + 1 + 3).
        assert!((objective.value(&probs) - 1.0 / 9.0).abs() < 1e-12);
        let decision = tune(&data.classes, &[1, 2], &probs, &objective);
        assert!(decision.chosen_on.contains("challenge weighted accuracy over patients 1.000 (unshifted 0.111)"), "{}", decision.chosen_on);
        assert_eq!(decision.bias[0], 0.0);
        assert!(decision.bias[1] > 0.0 && decision.bias[2] > 0.0, "{decision:?}");
    }

    #[test]
    fn tuned_classes_are_named_and_counted() {
        assert_eq!(tuned_classes("wheeze,normal", &classes()), Ok(vec![2, 0]));
        assert!(tuned_classes("normal,rhonchi", &classes()).unwrap_err().contains("rhonchi: not one of"));
        assert!(tuned_classes("normal,crackle,wheeze", &classes()).unwrap_err().contains("one or 2 classes"));
    }
}
