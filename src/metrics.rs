//! Classification metrics that stay honest on imbalanced data: balanced
//! accuracy, per-class precision/recall/F1, one-vs-rest ROC AUC, the
//! ICBHI 2017 challenge's specificity, sensitivity and score, and the
//! SPRSound challenges' (BioCAS 2022, 2023) SE, SP, AS, HS and Score.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub class: String,
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// One-vs-rest ROC AUC; `None` when the class is absent or everything is.
    pub roc_auc: Option<f64>,
}

/// The ICBHI challenge metrics (cycles: normal, crackle, wheeze, both).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IcbhiScore {
    /// Normal cycles recognised as normal.
    pub specificity: f64,
    /// Abnormal cycles given their exact abnormal class.
    pub sensitivity: f64,
    /// The mean of the two.
    pub icbhi_score: f64,
}

/// A SPRSound challenge task's figures. SP: normal examples called normal;
/// SE: the others given their class, as the task groups the classes
/// (Task 1-1: any adventitious class; Task 1-2: the exact one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SprsoundScore {
    pub task: String,
    pub sensitivity: f64,
    pub specificity: f64,
    /// (SE + SP) / 2.
    pub average_score: f64,
    /// 2·SE·SP / (SE + SP).
    pub harmonic_score: f64,
    /// (AS + HS) / 2.
    pub score: f64,
}

/// The SPRSound figures of a confusion matrix whose class `c` is in group
/// `groups[c]`; group 0 is normal.
pub fn sprsound_score(task: &str, confusion: &[Vec<usize>], groups: &[usize]) -> SprsoundScore {
    let (mut normal, mut normal_hits, mut other, mut other_hits) = (0, 0, 0, 0);
    for (t, row) in confusion.iter().enumerate() {
        for (p, &n) in row.iter().enumerate() {
            let hit = groups[p] == groups[t];
            if groups[t] == 0 {
                normal += n;
                normal_hits += if hit { n } else { 0 };
            } else {
                other += n;
                other_hits += if hit { n } else { 0 };
            }
        }
    }
    let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let (sensitivity, specificity) = (ratio(other_hits, other), ratio(normal_hits, normal));
    let average_score = (sensitivity + specificity) / 2.0;
    let harmonic_score = if sensitivity + specificity > 0.0 { 2.0 * sensitivity * specificity / (sensitivity + specificity) } else { 0.0 };
    SprsoundScore { task: task.into(), sensitivity, specificity, average_score, harmonic_score, score: (average_score + harmonic_score) / 2.0 }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub icbhi: Option<IcbhiScore>,
    /// The SPRSound challenge tasks, where the data is SPRSound's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sprsound: Vec<SprsoundScore>,
    /// The CirCor murmur challenge's patient-level figures, where the task
    /// is `heart-murmur` (set by the caller, who knows the patients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub murmur: Option<MurmurScore>,
    /// How far the figures could move with other patients (set by the
    /// caller, who knows the patients: see [`patient_bootstrap`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_interval: Option<PatientBootstrap>,
}

/// A 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// 95% intervals from resampling whole patients with replacement: with a
/// few patients held out, a figure says as much about which patients they
/// were as about the model, and this says how much.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientBootstrap {
    pub patients: usize,
    pub resamples: usize,
    pub balanced_accuracy: Interval,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icbhi_score: Option<Interval>,
    /// Each SPRSound task's Score, where the data is SPRSound's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sprsound_score: Vec<TaskInterval>,
}

/// The challenge figures resampled beside balanced accuracy: ICBHI's Score
/// (four classes), and each SPRSound task's Score (its name, and the group
/// of each class, 0 normal).
#[derive(Debug, Clone, Copy, Default)]
pub struct ChallengeFigures<'a> {
    pub icbhi: bool,
    pub sprsound: &'a [(&'a str, &'a [usize])],
}

/// A SPRSound task's Score interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskInterval {
    pub task: String,
    #[serde(flatten)]
    pub interval: Interval,
}

/// Computes the report from true labels and predicted probabilities
/// (`probs[i]` has one entry per class). `icbhi` adds the challenge score.
pub fn report(classes: &[String], truth: &[usize], probs: &[Vec<f32>], icbhi: bool) -> Report {
    let k = classes.len();
    let predicted: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&t, &p) in truth.iter().zip(&predicted) {
        confusion[t][p] += 1;
    }
    let n = truth.len();
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let mut per_class = Vec::with_capacity(k);
    for c in 0..k {
        let support: usize = confusion[c].iter().sum();
        let predicted_c: usize = (0..k).map(|t| confusion[t][c]).sum();
        let tp = confusion[c][c] as f64;
        let precision = if predicted_c > 0 { tp / predicted_c as f64 } else { 0.0 };
        let recall = if support > 0 { tp / support as f64 } else { 0.0 };
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        let scores: Vec<f32> = probs.iter().map(|p| p[c]).collect();
        let positive: Vec<bool> = truth.iter().map(|&t| t == c).collect();
        per_class.push(ClassMetrics { class: classes[c].clone(), support, precision, recall, f1, roc_auc: roc_auc(&scores, &positive) });
    }
    let present: Vec<&ClassMetrics> = per_class.iter().filter(|m| m.support > 0).collect();
    let macro_f1 = present.iter().map(|m| m.f1).sum::<f64>() / present.len().max(1) as f64;
    let icbhi = (icbhi && k == 4).then(|| icbhi_score(&confusion));
    let balanced_accuracy = balanced_accuracy(&confusion);
    Report {
        n,
        accuracy: correct as f64 / n.max(1) as f64,
        balanced_accuracy,
        macro_f1,
        per_class,
        confusion,
        icbhi,
        sprsound: Vec::new(),
        murmur: None,
        patient_interval: None,
    }
}

/// The PhysioNet/CinC 2022 murmur figures, one decision per patient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MurmurScore {
    pub patients: usize,
    /// (5·TP present + 3·TP unknown + TP absent) / (5·N present + 3·N unknown + N absent).
    pub weighted_accuracy: f64,
    pub balanced_accuracy: f64,
    /// `confusion[true][predicted]` over patients, in the task's classes.
    pub confusion: Vec<Vec<usize>>,
    /// 95% interval of the weighted accuracy from resampling patients.
    pub interval: Option<Interval>,
}

/// The challenge's weighted accuracy of a confusion matrix whose class `c`
/// weighs `weights[c]`.
pub fn weighted_accuracy(confusion: &[Vec<usize>], weights: &[f64]) -> f64 {
    let (mut hit, mut all) = (0.0, 0.0);
    for (t, row) in confusion.iter().enumerate() {
        hit += weights[t] * row[t] as f64;
        all += weights[t] * row.iter().sum::<usize>() as f64;
    }
    if all > 0.0 {
        hit / all
    } else {
        0.0
    }
}

/// Patient-level murmur figures from each patient's (true, predicted)
/// class, with the weighted accuracy's interval from resampling patients
/// (seeded: the same figures twice).
pub fn murmur_score(pairs: &[(usize, usize)], weights: &[f64], resamples: usize, seed: u64) -> MurmurScore {
    use rand::{Rng, SeedableRng};
    let k = weights.len();
    let confusion_of = |picks: &mut dyn Iterator<Item = (usize, usize)>| {
        let mut c = vec![vec![0usize; k]; k];
        for (t, p) in picks {
            c[t][p] += 1;
        }
        c
    };
    let confusion = confusion_of(&mut pairs.iter().copied());
    let interval = (pairs.len() >= 2 && resamples > 0).then(|| {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let mut was: Vec<f64> =
            (0..resamples).map(|_| weighted_accuracy(&confusion_of(&mut (0..pairs.len()).map(|_| pairs[rng.random_range(0..pairs.len())])), weights)).collect();
        was.sort_by(f64::total_cmp);
        Interval { low: was[(resamples as f64 * 0.025) as usize], high: was[((resamples as f64 * 0.975) as usize).min(resamples - 1)] }
    });
    MurmurScore {
        patients: pairs.len(),
        weighted_accuracy: weighted_accuracy(&confusion, weights),
        balanced_accuracy: balanced_accuracy(&confusion),
        confusion,
        interval,
    }
}

/// The mean recall of the classes present (`confusion[true][predicted]`).
fn balanced_accuracy(confusion: &[Vec<usize>]) -> f64 {
    let recalls: Vec<f64> = confusion
        .iter()
        .enumerate()
        .filter_map(|(c, row)| {
            let support: usize = row.iter().sum();
            (support > 0).then(|| row[c] as f64 / support as f64)
        })
        .collect();
    recalls.iter().sum::<f64>() / recalls.len().max(1) as f64
}

/// The ICBHI challenge figures of a 4-class cycle confusion matrix.
fn icbhi_score(confusion: &[Vec<usize>]) -> IcbhiScore {
    let normal: usize = confusion[0].iter().sum();
    let abnormal: usize = (1..4).map(|c| confusion[c].iter().sum::<usize>()).sum();
    let specificity = if normal > 0 { confusion[0][0] as f64 / normal as f64 } else { 0.0 };
    let hits: usize = (1..4).map(|c| confusion[c][c]).sum();
    let sensitivity = if abnormal > 0 { hits as f64 / abnormal as f64 } else { 0.0 };
    IcbhiScore { specificity, sensitivity, icbhi_score: (specificity + sensitivity) / 2.0 }
}

/// Resamples whole patients (`patients[i]` is example i's) with
/// replacement, `resamples` times from `seed`, and returns the 2.5th and
/// 97.5th percentiles of the balanced accuracy (and the ICBHI score with
/// `icbhi`) of the argmax predictions. `None` with fewer than two patients.
pub fn patient_bootstrap<K: std::hash::Hash + Eq>(
    classes: usize,
    truth: &[usize],
    probs: &[Vec<f32>],
    patients: &[K],
    challenge: ChallengeFigures<'_>,
    resamples: usize,
    seed: u64,
) -> Option<PatientBootstrap> {
    let ChallengeFigures { icbhi, sprsound } = challenge;
    use rand::{Rng, SeedableRng};
    // One confusion matrix per patient; a resample sums those drawn.
    let mut index: std::collections::HashMap<&K, usize> = std::collections::HashMap::new();
    let mut per_patient: Vec<Vec<Vec<usize>>> = Vec::new();
    for ((&t, p), patient) in truth.iter().zip(probs).zip(patients) {
        let next = per_patient.len();
        let i = *index.entry(patient).or_insert(next);
        if i == next {
            per_patient.push(vec![vec![0; classes]; classes]);
        }
        per_patient[i][t][argmax(p)] += 1;
    }
    let n = per_patient.len();
    if n < 2 || resamples == 0 {
        return None;
    }
    let icbhi = icbhi && classes == 4;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let (mut bas, mut scores) = (Vec::with_capacity(resamples), Vec::with_capacity(resamples));
    let mut sprsound_scores = vec![Vec::with_capacity(resamples); sprsound.len()];
    let mut confusion = vec![vec![0usize; classes]; classes];
    for _ in 0..resamples {
        confusion.iter_mut().for_each(|row| row.fill(0));
        for _ in 0..n {
            for (sum, row) in confusion.iter_mut().zip(&per_patient[rng.random_range(0..n)]) {
                sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
        }
        bas.push(balanced_accuracy(&confusion));
        if icbhi {
            scores.push(icbhi_score(&confusion).icbhi_score);
        }
        for ((name, groups), v) in sprsound.iter().zip(&mut sprsound_scores) {
            v.push(sprsound_score(name, &confusion, groups).score);
        }
    }
    let interval = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        Interval { low: at(0.025), high: at(0.975) }
    };
    Some(PatientBootstrap {
        patients: n,
        resamples,
        balanced_accuracy: interval(bas),
        icbhi_score: icbhi.then(|| interval(scores)),
        sprsound_score: sprsound.iter().zip(sprsound_scores).map(|((name, _), v)| TaskInterval { task: (*name).to_string(), interval: interval(v) }).collect(),
    })
}

pub fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

/// Each row replaced by the mean of the rows in its group: a diagnosis
/// belongs to the patient, so every recording of one patient is scored with
/// what all of them say together.
pub fn mean_by_group<K: std::hash::Hash + Eq>(probs: &[Vec<f32>], groups: &[K]) -> Vec<Vec<f32>> {
    let mut sums: std::collections::HashMap<&K, (Vec<f64>, usize)> = std::collections::HashMap::new();
    for (p, g) in probs.iter().zip(groups) {
        let entry = sums.entry(g).or_insert_with(|| (vec![0.0; p.len()], 0));
        for (s, &v) in entry.0.iter_mut().zip(p) {
            *s += f64::from(v);
        }
        entry.1 += 1;
    }
    groups
        .iter()
        .map(|g| {
            let (sum, n) = &sums[g];
            sum.iter().map(|s| (s / *n as f64) as f32).collect()
        })
        .collect()
}

/// Area under the ROC curve by the rank statistic (ties count half).
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let pos = positive.iter().filter(|&&p| p).count();
    let neg = positive.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties.
    let mut ranks = vec![0.0f64; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = rank;
        }
        i = j + 1;
    }
    let rank_sum: f64 = ranks.iter().zip(positive).filter(|(_, &p)| p).map(|(r, _)| r).sum();
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64)
}

/// The ROC curve, (false positive rate, true positive rate) from (0, 0)
/// to (1, 1), one point per distinct score (ties move diagonally).
pub fn roc_curve(scores: &[f32], positive: &[bool]) -> Option<Vec<(f64, f64)>> {
    let pos = positive.iter().filter(|&&p| p).count() as f64;
    let neg = positive.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, &o) in order.iter().enumerate() {
        if positive[o] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = order.get(i + 1).is_none_or(|&next| scores[next] != scores[o]);
        if last_of_tie {
            points.push((fp / neg, tp / pos));
        }
    }
    Some(points)
}

impl Report {
    /// A plain-text summary as `auscult eval` prints it.
    pub fn to_text(&self) -> String {
        let mut s =
            format!("n = {}   accuracy {:.3}   balanced accuracy {:.3}   macro F1 {:.3}\n", self.n, self.accuracy, self.balanced_accuracy, self.macro_f1);
        if let Some(i) = &self.icbhi {
            s.push_str(&format!("ICBHI: specificity {:.3}   sensitivity {:.3}   score {:.3}\n", i.specificity, i.sensitivity, i.icbhi_score));
        }
        for t in &self.sprsound {
            s.push_str(&format!(
                "SPRSound {}: SE {:.3}   SP {:.3}   AS {:.3}   HS {:.3}   Score {:.3}\n",
                t.task, t.sensitivity, t.specificity, t.average_score, t.harmonic_score, t.score
            ));
        }
        if let Some(m) = &self.murmur {
            s.push_str(&format!(
                "murmur, per patient ({} patients; present if any recording is, else unknown if any is): weighted accuracy {:.3}{}   balanced accuracy {:.3}\n",
                m.patients,
                m.weighted_accuracy,
                m.interval.map_or(String::new(), |i| format!(" ({:.3}–{:.3})", i.low, i.high)),
                m.balanced_accuracy
            ));
        }
        if let Some(b) = &self.patient_interval {
            s.push_str(&format!(
                "95% interval over patients ({} patients resampled {} times): balanced accuracy {:.3}–{:.3}",
                b.patients, b.resamples, b.balanced_accuracy.low, b.balanced_accuracy.high
            ));
            if let Some(i) = &b.icbhi_score {
                s.push_str(&format!(", score {:.3}–{:.3}", i.low, i.high));
            }
            for t in &b.sprsound_score {
                s.push_str(&format!(", SPRSound {} Score {:.3}–{:.3}", t.task, t.interval.low, t.interval.high));
            }
            s.push('\n');
        }
        s.push_str(&format!("\n{:<16} {:>7} {:>9} {:>7} {:>7} {:>7}\n", "class", "support", "precision", "recall", "F1", "AUC"));
        for m in &self.per_class {
            let auc = m.roc_auc.map_or("—".to_string(), |a| format!("{a:.3}"));
            s.push_str(&format!("{:<16} {:>7} {:>9.3} {:>7.3} {:>7.3} {:>7}\n", m.class, m.support, m.precision, m.recall, m.f1, auc));
        }
        s.push_str("\nconfusion (rows: true, columns: predicted)\n");
        let width = self.per_class.iter().map(|m| m.class.len()).max().unwrap_or(4).clamp(4, 16);
        s.push_str(&format!("{:<width$}", ""));
        for m in &self.per_class {
            s.push_str(&format!(" {:>width$}", truncate(&m.class, width)));
        }
        s.push('\n');
        for (m, row) in self.per_class.iter().zip(&self.confusion) {
            s.push_str(&format!("{:<width$}", truncate(&m.class, width)));
            for v in row {
                s.push_str(&format!(" {v:>width$}"));
            }
            s.push('\n');
        }
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn murmur_weighted_accuracy_weighs_present_five_and_unknown_three() {
        // Classes absent, present, unknown. Patients (true, predicted).
        let pairs = [(0, 0), (0, 0), (0, 1), (1, 1), (1, 0), (2, 2)];
        let m = murmur_score(&pairs, &[1.0, 5.0, 3.0], 200, 1);
        // (5·1 + 3·1 + 2) / (5·2 + 3·1 + 3) = 10 / 16.
        assert!((m.weighted_accuracy - 10.0 / 16.0).abs() < 1e-12, "{m:?}");
        assert!((m.balanced_accuracy - (2.0 / 3.0 + 0.5 + 1.0) / 3.0).abs() < 1e-12);
        assert_eq!(m.confusion, [vec![2, 1, 0], vec![1, 1, 0], vec![0, 0, 1]]);
        let i = m.interval.unwrap();
        assert!(i.low <= m.weighted_accuracy && m.weighted_accuracy <= i.high && i.low < i.high, "{i:?}");
        // Always answering absent: the class the weights value least.
        let absent: Vec<(usize, usize)> = pairs.iter().map(|&(t, _)| (t, 0)).collect();
        assert!((murmur_score(&absent, &[1.0, 5.0, 3.0], 0, 1).weighted_accuracy - 3.0 / 16.0).abs() < 1e-12);
    }

    use super::*;

    #[test]
    fn mean_by_group_averages_within_each_group_only() {
        let probs = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.2, 0.8], vec![0.5, 0.5]];
        let groups = ["a", "a", "b", "a"];
        let mean = mean_by_group(&probs, &groups);
        assert_eq!(mean[0], mean[1]);
        assert_eq!(mean[0], mean[3]);
        assert!((mean[0][0] - 0.5).abs() < 1e-6 && (mean[0][1] - 0.5).abs() < 1e-6);
        assert_eq!(mean[2], vec![0.2, 0.8]);
    }

    #[test]
    fn sprsound_scores_group_the_classes_as_each_task_does() {
        // Cycle classes: normal, crackle, wheeze, both. Rows: true.
        let confusion = vec![vec![8, 1, 1, 0], vec![2, 3, 1, 0], vec![0, 0, 2, 2], vec![0, 0, 0, 0]];
        // Task 1-1: any adventitious class counts; 8 of 10 adventitious
        // examples are called adventitious (2 crackles called normal; a
        // crackle called wheeze and two wheezes called both still count).
        let binary = sprsound_score("1-1", &confusion, &[0, 1, 1, 1]);
        assert!((binary.specificity - 0.8).abs() < 1e-12 && (binary.sensitivity - 8.0 / 10.0).abs() < 1e-12, "{binary:?}");
        // Exact classes: 5 of 10.
        let exact = sprsound_score("1-2", &confusion, &[0, 1, 2, 3]);
        assert!((exact.sensitivity - 0.5).abs() < 1e-12);
        let (se, sp) = (0.5, 0.8);
        assert!((exact.average_score - 0.65).abs() < 1e-12);
        assert!((exact.harmonic_score - 2.0 * se * sp / (se + sp)).abs() < 1e-12);
        assert!((exact.score - (0.65 + 2.0 * se * sp / (se + sp)) / 2.0).abs() < 1e-12);
    }

    fn onehot(c: usize, k: usize) -> Vec<f32> {
        (0..k).map(|i| if i == c { 0.9 } else { 0.1 / (k - 1) as f32 }).collect()
    }

    #[test]
    fn the_area_under_the_roc_curve_is_the_rank_auc() {
        let scores = [0.9f32, 0.8, 0.8, 0.7, 0.6, 0.55, 0.5, 0.4, 0.4, 0.1];
        let positive = [true, true, false, true, false, true, false, false, true, false];
        let curve = roc_curve(&scores, &positive).unwrap();
        assert_eq!((curve[0], *curve.last().unwrap()), ((0.0, 0.0), (1.0, 1.0)));
        assert!(curve.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1));
        let trapezoid: f64 = curve.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum();
        let auc = roc_auc(&scores, &positive).unwrap();
        assert!((trapezoid - auc).abs() < 1e-12, "{trapezoid} vs {auc}");
        assert_eq!(roc_curve(&scores, &[true; 10]), None);
    }

    #[test]
    fn always_answering_the_majority_class_scores_chance_balanced_accuracy() {
        // The notebook's trap: 85% of one class, predicted always.
        let classes: Vec<String> = ["copd", "healthy"].iter().map(|s| s.to_string()).collect();
        let truth: Vec<usize> = (0..100).map(|i| usize::from(i >= 85)).collect();
        let probs: Vec<Vec<f32>> = truth.iter().map(|_| onehot(0, 2)).collect();
        let r = report(&classes, &truth, &probs, false);
        assert!((r.accuracy - 0.85).abs() < 1e-12);
        assert!((r.balanced_accuracy - 0.5).abs() < 1e-12);
        assert_eq!(r.per_class[0].roc_auc, Some(0.5), "constant scores carry no ranking");
    }

    #[test]
    fn patient_bootstrap_brackets_the_figure_and_is_repeatable() {
        // Ten patients of ten examples (two classes): five predicted
        // perfectly, five with half their examples wrong; balanced accuracy 0.75.
        let (mut truth, mut probs, mut patients) = (Vec::new(), Vec::new(), Vec::new());
        for p in 0..10 {
            for i in 0..10 {
                let t = i % 2;
                let right = p < 5 || i < 5;
                truth.push(t);
                probs.push(if (t == 0) == right { vec![0.9, 0.1] } else { vec![0.1, 0.9] });
                patients.push(p);
            }
        }
        let classes = ["a".to_string(), "b".to_string()];
        assert!((report(&classes, &truth, &probs, false).balanced_accuracy - 0.75).abs() < 1e-12);
        let b = patient_bootstrap(2, &truth, &probs, &patients, ChallengeFigures::default(), 2000, 7).unwrap();
        assert_eq!((b.patients, b.resamples), (10, 2000));
        let i = b.balanced_accuracy;
        assert!(0.5 <= i.low && i.low < 0.75 && 0.75 < i.high && i.high <= 1.0, "{i:?}");
        assert!(b.icbhi_score.is_none() && b.sprsound_score.is_empty());
        // As a SPRSound task (class 0 normal), its Score resampled the same
        // way brackets the Score of the whole set.
        let task = [("Task 1-1", &[0usize, 1][..])];
        let with = patient_bootstrap(2, &truth, &probs, &patients, ChallengeFigures { icbhi: false, sprsound: &task }, 2000, 7).unwrap();
        let whole = sprsound_score("Task 1-1", &report(&classes, &truth, &probs, false).confusion, &[0, 1]).score;
        let [t] = &with.sprsound_score[..] else { panic!("{:?}", with.sprsound_score) };
        assert_eq!(t.task, "Task 1-1");
        assert!(t.interval.low < whole && whole < t.interval.high && t.interval.high <= 1.0, "{whole} in {t:?}");
        assert_eq!(with.balanced_accuracy, b.balanced_accuracy, "the same resamples");
        assert_eq!(patient_bootstrap(2, &truth, &probs, &patients, ChallengeFigures::default(), 2000, 7), Some(b), "same seed, same interval");
        // Perfect predictions leave nothing to resample.
        let perfect: Vec<Vec<f32>> = truth.iter().map(|&t| if t == 0 { vec![1.0, 0.0] } else { vec![0.0, 1.0] }).collect();
        let p = patient_bootstrap(2, &truth, &perfect, &patients, ChallengeFigures::default(), 500, 7).unwrap();
        assert_eq!((p.balanced_accuracy.low, p.balanced_accuracy.high), (1.0, 1.0));
        // One patient: no interval to speak of.
        assert!(patient_bootstrap(2, &truth, &probs, &vec![0; truth.len()], ChallengeFigures::default(), 500, 7).is_none());
    }

    #[test]
    fn icbhi_score_follows_the_challenge_definition() {
        let classes: Vec<String> = ["normal", "crackle", "wheeze", "both"].iter().map(|s| s.to_string()).collect();
        // 4 normal (3 right), 4 abnormal (2 exactly right, 1 wrong abnormal class, 1 called normal).
        let truth = [0, 0, 0, 0, 1, 2, 3, 1];
        let pred = [0, 0, 0, 1, 1, 2, 1, 0];
        let probs: Vec<Vec<f32>> = pred.iter().map(|&p| onehot(p, 4)).collect();
        let r = report(&classes, &truth, &probs, true);
        let i = r.icbhi.unwrap();
        assert!((i.specificity - 0.75).abs() < 1e-12);
        assert!((i.sensitivity - 0.5).abs() < 1e-12);
        assert!((i.icbhi_score - 0.625).abs() < 1e-12);
        assert_eq!(r.confusion[3][1], 1);
    }

    #[test]
    fn auc_of_a_perfect_and_a_reversed_ranking() {
        let pos = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &pos), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &pos), Some(0.0));
        assert_eq!(roc_auc(&[0.5; 4], &pos), Some(0.5));
        assert_eq!(roc_auc(&[0.5; 2], &[true, true]), None);
    }
}
