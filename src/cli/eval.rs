//! `auscult eval`: a model (or one per fold, pooled) scored on held-out
//! patients, with figures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use auscult::datasets::lung_cycles::{self, Layout};
use auscult::datasets::sprsound::Set;
use auscult::datasets::Corpus;
use auscult::model::cache::MelCache;
use auscult::model::card::{self, ModelCard};
use auscult::model::inference::Classifier;
use auscult::model::pipeline::{mel_dataset, plugin_search, SplitSpec};

use auscult::model::evaluate::{patient_means, score as scored};

use super::corpus::{bar, load_for_card};

/// Which examples a model is scored on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Split {
    Test,
    All,
    Official,
    /// SPRSound's 2022 inter-patient test set.
    TestInter,
    /// SPRSound's 2022 intra-patient test set.
    TestIntra,
    /// SPRSound's 2023 test set.
    #[value(name = "test-2023")]
    Test2023,
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Test => "test",
            Split::All => "all",
            Split::Official => "official",
            Split::TestInter => "test-inter",
            Split::TestIntra => "test-intra",
            Split::Test2023 => "test-2023",
        })
    }
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// A model name in models/ or a card file. Given again, the models
    /// (say, one per fold) are pooled, each scored on its own held-out
    /// patients, which must not overlap.
    #[arg(long, required = true)]
    model: Vec<String>,
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// test: the patients the model's card says were held out; all: every
    /// recording found (a separate held-out folder); official: the ICBHI
    /// test split; test-inter, test-intra, test-2023: a SPRSound test set.
    #[arg(long, value_enum, default_value_t = Split::Test)]
    split: Split,
    /// Also write the report as JSON.
    #[arg(long, value_name = "OUT.json")]
    json: Option<PathBuf>,
    /// Where the confusion-matrix and ROC figures (SVG) go.
    #[arg(long, value_name = "DIR", default_value = "eval")]
    plots: PathBuf,
    /// Score each recording alone, even where the label is the patient's
    /// diagnosis (by default those are scored with the mean over the
    /// patient's recordings).
    #[arg(long)]
    per_recording: bool,
    /// Also write each example's truth and probabilities (as scored) as CSV.
    #[arg(long, value_name = "OUT.csv")]
    predictions: Option<PathBuf>,
    /// Keep each recording's log-mel in DIR and read it back on the next
    /// run with the same settings and chain (see `train --feature-cache`).
    #[arg(long, value_name = "DIR")]
    feature_cache: Option<PathBuf>,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.model.len() == 1 || args.split == Split::Test,
        "several models are pooled over their own held-out patients: --split test, not {}",
        args.split
    );
    let models = args
        .model
        .iter()
        .map(|m| {
            let path = card::find(m)?;
            Ok((Classifier::load(&path)?, path))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let card = &models[0].0.card;
    let (task, corpus) = load_for_card(card, &args.data)?;
    let per_patient = task.per_patient && !args.per_recording;
    // Which model (by position) scored each example, so that none is scored twice.
    let mut scored_by: HashMap<usize, usize> = HashMap::new();
    let (mut indices, mut probs, mut truth) = (Vec::new(), Vec::new(), Vec::new());
    for (m, (classifier, card_path)) in models.iter().enumerate() {
        let other = &classifier.card;
        anyhow::ensure!(
            other.task == card.task && other.classes == card.classes,
            "{}: task {} with classes {:?} cannot be pooled with {} ({}, {:?})",
            card_path.display(),
            other.task,
            other.classes,
            card.name,
            card.task,
            card.classes
        );
        let held_out = split_indices(args.split, other, card_path, &corpus, &args.data)?;
        anyhow::ensure!(!held_out.is_empty(), "{}: no examples to evaluate with --split {}", card_path.display(), args.split);
        if let Some((i, &first)) = held_out.iter().find_map(|i| scored_by.get(i).map(|m| (*i, m))) {
            bail!(
                "{}: its held-out patients overlap {}'s (patient {} would be scored twice): pool models of different folds",
                card_path.display(),
                models[first].1.display(),
                corpus.examples[i].patient
            );
        }
        let mut pre = classifier.preprocessor(&plugin_search())?;
        let progress = bar(held_out.len(), "features");
        let mut cache = match &args.feature_cache {
            Some(dir) => MelCache::on_disk(dir, &pre).with_context(|| "--feature-cache".to_string())?,
            None => MelCache::in_memory(),
        };
        let set = mel_dataset(&corpus, &held_out, &mut pre, &mut cache, |n| progress.set_position(n as u64))?;
        progress.finish_and_clear();
        let p = classifier.predict(&set.examples.iter().map(|e| e.mel.clone()).collect::<Vec<_>>());
        probs.extend(if per_patient { patient_means(&p, &corpus, &held_out) } else { p });
        truth.extend(set.labels());
        scored_by.extend(held_out.iter().map(|&i| (i, m)));
        indices.extend(held_out);
    }
    let report = scored(&corpus, &indices, &truth, &probs, &task, &args.data);
    let scoring = if per_patient { ", each recording scored with its patient's mean" } else { "" };
    let name = if args.model.len() == 1 { card.name.clone() } else { format!("{}-pooled-{}", card.name, args.model.len()) };
    let what = if args.model.len() == 1 {
        card.name.clone()
    } else {
        format!("{} models pooled, each on its own held-out patients ({})", args.model.len(), args.model.join(", "))
    };
    outln!("{what} on {} ({}, --split {}{scoring}):\n{}", args.data.display(), corpus.name, args.split, report.to_text());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.predictions {
        write_predictions(path, &corpus, &indices, &probs).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::create_dir_all(&args.plots).with_context(|| format!("creating {}", args.plots.display()))?;
    let title = format!("{name} on {} (--split {}, n = {})", corpus.name, args.split, report.n);
    let confusion = args.plots.join(format!("{name}-confusion.svg"));
    auscult::plots::confusion_svg(&report, &title, &confusion)?;
    let roc = args.plots.join(format!("{name}-roc.svg"));
    auscult::plots::roc_svg(&report, &truth, &probs, &title, &roc)?;
    outln!("figures: {}, {}", confusion.display(), roc.display());
    Ok(ExitCode::SUCCESS)
}

/// The examples `--split` names: `test`, the patients the card says were
/// held out; `all`, every one; `official`, the ICBHI test split; the
/// SPRSound test sets by name.
fn split_indices(split: Split, card: &ModelCard, card_path: &Path, corpus: &Corpus, data: &Path) -> anyhow::Result<Vec<usize>> {
    Ok(match split {
        Split::All => (0..corpus.examples.len()).collect(),
        Split::Official => {
            anyhow::ensure!(
                lung_cycles::layout(data) != Layout::Sprsound,
                "{}: SPRSound has three official test sets: --split test-inter, test-intra or test-2023",
                data.display()
            );
            SplitSpec::official(data, None)?.apply(corpus, data)?.test
        }
        Split::TestInter => SplitSpec::official(data, Some(Set::TestInter))?.apply(corpus, data)?.test,
        Split::TestIntra => SplitSpec::official(data, Some(Set::TestIntra))?.apply(corpus, data)?.test,
        Split::Test2023 => SplitSpec::official(data, Some(Set::Test2023))?.apply(corpus, data)?.test,
        Split::Test => {
            let spec =
                SplitSpec::parse(&card.training.split).with_context(|| format!("{}: cannot read the split {:?}", card_path.display(), card.training.split))?;
            spec.apply(corpus, data)?.test
        }
    })
}

/// One row per example: its file, patient, span, true class and the
/// probabilities it was scored with.
fn write_predictions(path: &Path, corpus: &Corpus, indices: &[usize], probs: &[Vec<f32>]) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_path(path)?;
    let header = ["file", "patient", "start_s", "end_s", "truth"].into_iter().chain(corpus.classes.iter().map(String::as_str));
    csv.write_record(header)?;
    for (&i, p) in indices.iter().zip(probs) {
        let e = &corpus.examples[i];
        let (start, end) = e.span.map_or((String::new(), String::new()), |(s, e)| (format!("{s:.3}"), format!("{e:.3}")));
        let mut record = vec![e.path.display().to_string(), e.patient.clone(), start, end, corpus.classes[e.label].clone()];
        record.extend(p.iter().map(|v| format!("{v:.6}")));
        csv.write_record(&record)?;
    }
    csv.flush()?;
    Ok(())
}
