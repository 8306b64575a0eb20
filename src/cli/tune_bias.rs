//! `auscult tune-bias`: a trained model's decision moved after the fact,
//! as `train --tune-bias` moves it at the end of a run: offsets to some
//! classes' log-probabilities chosen on the validation patients its
//! training carved (found again from the card's split and seed), then the
//! held-out patients scored once with them. The card is rewritten with the
//! decision and that score; the weights are untouched.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use auscult::model::cache::MelCache;
use auscult::model::card::{self, ModelCard};
use auscult::model::decision::{self, Objective};
use auscult::model::evaluate;
use auscult::model::inference::Classifier;
use auscult::model::pipeline::{mel_dataset, plugin_search, SplitSpec};
use auscult::model::plan::{dir_name, validation_carve};

use super::corpus::{bar, load_for_card};

#[derive(clap::Args, Debug)]
pub struct TuneBiasArgs {
    /// The model: a name in models/ or a card file, rewritten with the decision.
    #[arg(long)]
    model: String,
    /// The data it was trained on (the card's split and seed find its
    /// validation and held-out patients in it again).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// One class, or two comma-separated, whose offsets are tuned (a
    /// decision the card already has is replaced, not added to).
    #[arg(long, value_name = "CLASS[,CLASS]")]
    classes: String,
    /// Read and keep log-mels here (see `train --feature-cache`).
    #[arg(long, value_name = "DIR")]
    feature_cache: Option<PathBuf>,
}

pub fn run(args: &TuneBiasArgs) -> anyhow::Result<ExitCode> {
    let card_path = card::find(&args.model)?;
    let mut classifier = Classifier::load(&card_path)?;
    let card = classifier.card.clone();
    let at = card_path.display();
    let tuned = decision::tuned_classes(&args.classes, &card.classes).map_err(|e| anyhow::anyhow!("--classes {e}"))?;
    if card.training.validation_examples == 0 {
        bail!("{at}: trained without validation patients (--select last): there is nothing to choose a decision on");
    }
    let (task, corpus) = load_for_card(&card, &args.data)?;
    let spec = SplitSpec::parse(&card.training.split).with_context(|| format!("{at}: cannot read the split {:?}", card.training.split))?;
    let split = spec.apply(&corpus, &args.data)?;
    let validation = validation_carve(&corpus, &split.train, card.training.seed).test;
    // Another copy of the corpus (more or fewer recordings) would carve
    // other patients: refused rather than tuned on the wrong ones.
    if validation.len() != card.training.validation_examples || split.test.len() != card.training.test_examples {
        bail!(
            "{}: {} validation and {} held-out examples here, {at} trained with {} and {}: not the data it was trained on",
            args.data.display(),
            validation.len(),
            split.test.len(),
            card.training.validation_examples,
            card.training.test_examples
        );
    }

    let mut pre = classifier.preprocessor(&plugin_search())?;
    let mut cache = match &args.feature_cache {
        Some(dir) => MelCache::on_disk(dir, &pre).context("--feature-cache")?,
        None => MelCache::in_memory(),
    };
    // The network's own probabilities: a decision already on the card is replaced.
    classifier.card.decision = None;
    let mut predict = |indices: &[usize], what: &str| -> anyhow::Result<(Vec<usize>, Vec<Vec<f32>>)> {
        let progress = bar(indices.len(), what);
        let set = mel_dataset(&corpus, indices, &mut pre, &mut cache, |n| progress.set_position(n as u64))?;
        progress.finish_and_clear();
        Ok((set.labels().collect(), classifier.predict(&set.examples.iter().map(|e| e.mel.clone()).collect::<Vec<_>>())))
    };
    let (truth, probs) = predict(&validation, "validation")?;
    let mut chosen = decision::tune(&corpus.classes, &tuned, &probs, &Objective::new(&task, &corpus, &validation, &truth));
    chosen.chosen_on = format!("{}; auscult tune-bias --model {} --data DIR/{} --classes {}", chosen.chosen_on, args.model, dir_name(&args.data), args.classes);
    outln!("decision: {}", chosen.describe(&corpus.classes));

    // The held-out patients, once, as `eval --split test` scores the card.
    let (truth, mut probs) = predict(&split.test, "held out")?;
    probs.iter_mut().for_each(|p| chosen.apply(p));
    let probs = if task.per_patient { evaluate::patient_means(&probs, &corpus, &split.test) } else { probs };
    let report = evaluate::score(&corpus, &split.test, &truth, &probs, &task, &args.data);
    outln!("held-out patients ({}), with the decision:\n{}", spec.describe(), report.to_text());
    let command =
        card.evaluation.as_ref().map_or_else(|| format!("auscult eval --model {at} --data DIR/{} --split test", dir_name(&args.data)), |e| e.command.clone());
    let updated = ModelCard { decision: Some(chosen), evaluation: Some(evaluate::card_evaluation(&report, command)), ..card };
    updated.save(&card_path)?;
    outln!("saved {at}");
    Ok(ExitCode::SUCCESS)
}
