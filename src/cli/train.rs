//! `auscult train`, `auscult eval`, `auscult analyze`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use auscult::datasets::split::validation_from_train;
use auscult::datasets::Corpus;
use auscult::metrics;
use auscult::model::card::{self, Architecture, Evaluation, ModelCard, Normalization, Training};
use auscult::model::data::MelBatcher;
use auscult::model::features::Preprocessor;
use auscult::model::inference::{default_device, weights_bytes, Classifier};
use auscult::model::model::{CnnConfig, Pooling};
use auscult::model::pipeline::{mel_dataset, plugin_search, SplitSpec};
use auscult::model::tasks::{self, Task};
use auscult::model::training::{self, predict_dataset, Selection, TrainConfig};
use burn::module::Module;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// lung-cycles (ICBHI), lung-diagnosis (KAUH), heart (class folders), icbhi-diagnosis, folder.
    #[arg(long)]
    task: String,
    /// The dataset directory (its own layout, as the task expects).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Output directory: card.toml, model.bpk, training-log.csv.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[arg(long, default_value_t = 40)]
    epochs: usize,
    /// Patient-disjoint folds; fold `--fold` is held out for the card's metrics.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    #[arg(long, default_value_t = 0)]
    fold: usize,
    /// Use the official ICBHI split instead (lung-cycles).
    #[arg(long)]
    official_split: bool,
    /// Another set to train on as well, never validated or tested on
    /// (lung-cycles: a KAUH directory, labelled by its sound types).
    #[arg(long, value_name = "DIR")]
    extra_train: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Stop after this many epochs without a better validation score.
    #[arg(long, default_value_t = 8)]
    patience: usize,
    /// Stop after this many optimiser steps (smoke runs).
    #[arg(long)]
    max_steps: Option<usize>,
    /// Output channels of the conv blocks (each halves time and frequency);
    /// the cost per input grows with the square of the widths.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128")]
    channels: Vec<usize>,
    /// Global pooling: mean, or mean-std (each channel's mean and spread over time).
    #[arg(long, value_enum, default_value_t = Pooling::Mean)]
    pooling: Pooling,
    /// What picks the epoch kept: the validation balanced accuracy or loss.
    #[arg(long, value_enum, default_value_t = Selection::BalancedAccuracy)]
    select: Selection,
    /// Random crops of each training example per epoch (each its own
    /// augmentation), so that long recordings give more than one input.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    crops: u64,
    /// FFT size of the mel features, in samples at the task's rate (default:
    /// the task's; at 4 kHz 256 = 64 ms). Shorter windows keep crackles,
    /// which last a few ms, sharper in time.
    #[arg(long, value_name = "SAMPLES")]
    n_fft: Option<usize>,
    /// Hop between mel frames, in samples (default: the task's, 64 = 16 ms).
    #[arg(long, value_name = "SAMPLES")]
    hop: Option<usize>,
    /// Mel bands (default: the task's, 64; a shorter FFT has fewer bins to
    /// share among them).
    #[arg(long, value_name = "N")]
    n_mels: Option<usize>,
}

fn load_task(name: &str, data: &Path) -> anyhow::Result<(Task, Corpus)> {
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
fn patient_means(probs: &[Vec<f32>], corpus: &Corpus, indices: &[usize]) -> Vec<Vec<f32>> {
    let patients: Vec<&str> = indices.iter().map(|&i| corpus.examples[i].patient.as_str()).collect();
    metrics::mean_by_group(probs, &patients)
}

/// A data directory's last component, as cards and commands name it.
fn dir_name(dir: &Path) -> String {
    dir.file_name().map_or("data".into(), |n| n.to_string_lossy().into_owned())
}

/// How clap spells a value on the command line.
fn value_name(value: impl clap::ValueEnum) -> String {
    value.to_possible_value().map_or_else(String::new, |v| v.get_name().to_string())
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed_precise}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_string());
    bar
}

pub fn train(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    let (mut task, mut corpus) = load_task(&args.task, &args.data)?;
    task.features.n_fft = args.n_fft.unwrap_or(task.features.n_fft);
    task.features.hop = args.hop.unwrap_or(task.features.hop);
    task.features.n_mels = args.n_mels.unwrap_or(task.features.n_mels);
    let f = &task.features;
    anyhow::ensure!(
        (16..=8192).contains(&f.n_fft) && (1..=f.n_fft).contains(&f.hop) && (16..=256).contains(&f.n_mels),
        "--n-fft {} / --hop {} / --n-mels {}: the FFT size must be 16 to 8192 samples, the hop 1 to the FFT size, and 16 to 256 mel bands (each conv block halves them)",
        f.n_fft,
        f.hop,
        f.n_mels
    );
    let spec = if args.official_split { SplitSpec::IcbhiOfficial } else { SplitSpec::PatientFold { k: args.folds, fold: args.fold, seed: args.seed } };
    let split = spec.apply(&corpus, &args.data)?;
    anyhow::ensure!(split.shared_patients(&corpus).is_empty(), "split leaks patients: {:?}", split.shared_patients(&corpus));
    let mut inner = validation_from_train(&corpus, &split.train, 0.15, args.seed);
    // The split and the validation carve are the primary set's alone, so
    // `eval --split test` finds the same held-out patients without it.
    let data_dir = dir_name(&args.data);
    let mut data_name = data_dir.clone();
    if let Some(dir) = &args.extra_train {
        let loader = task.extra.as_ref().with_context(|| format!("--extra-train: task {} takes no extra training set", task.name))?;
        let extra = loader.load(dir)?;
        for w in &extra.warnings {
            eprintln!("auscult: warning: {w}");
        }
        anyhow::ensure!(extra.classes == corpus.classes, "{}: classes {:?}, not the task's {:?}", dir.display(), extra.classes, corpus.classes);
        let known = corpus.patients();
        let clash: Vec<&String> = extra.examples.iter().map(|e| &e.patient).filter(|p| known.contains(p)).collect();
        anyhow::ensure!(clash.is_empty(), "{}: patients also in {}: {clash:?}", dir.display(), args.data.display());
        eprintln!("{}: {} training examples of {} patients, classes {:?}", dir.display(), extra.examples.len(), extra.patients().len(), extra.class_counts());
        let start = corpus.examples.len();
        corpus.examples.extend(extra.examples);
        inner.train.extend(start..corpus.examples.len());
        data_name = format!("{data_name} + {} ({}, training only)", dir_name(dir), extra.name);
    }
    eprintln!(
        "{}: {} examples of {} patients, classes {:?} {:?}; train {} / validation {} / test {} ({})",
        corpus.name,
        corpus.examples.len(),
        corpus.patients().len(),
        corpus.classes,
        corpus.class_counts(),
        inner.train.len(),
        inner.test.len(),
        split.test.len(),
        spec.describe()
    );

    let search = plugin_search();
    let mut pre = Preprocessor::new(task.features.clone(), task.chain, &search)?;
    let mut cache = HashMap::new();
    let all = inner.train.len() + inner.test.len() + split.test.len();
    let progress = bar(all, "features");
    let mut done = 0;
    let train_set = mel_dataset(&corpus, &inner.train, &mut pre, &mut cache, |_| progress.set_position((done + 1) as u64))?;
    done += inner.train.len();
    progress.set_position(done as u64);
    let val_set = mel_dataset(&corpus, &inner.test, &mut pre, &mut cache, |_| {})?;
    done += inner.test.len();
    progress.set_position(done as u64);
    let test_set = mel_dataset(&corpus, &split.test, &mut pre, &mut cache, |_| {})?;
    progress.finish_and_clear();

    let (mean, std) = train_set.stats();
    let batcher = MelBatcher { n_mels: task.features.n_mels, frames: task.features.frames(), mean, std, per_example: task.per_example_norm };
    anyhow::ensure!(
        !args.channels.is_empty() && args.channels.iter().all(|&c| (1..=1024).contains(&c)),
        "--channels needs widths between 1 and 1024, got {:?}",
        args.channels
    );
    let cnn = CnnConfig::new(corpus.classes.len()).with_channels(args.channels.clone()).with_pooling(args.pooling);
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch,
        seed: args.seed,
        max_steps: args.max_steps,
        patience: args.patience,
        weight_power: task.weight_power,
        select: args.select,
        crops_per_epoch: args.crops as usize,
        ..TrainConfig::default()
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let log_path = args.out.join("training-log.csv");
    let mut log_file = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    writeln!(log_file, "epoch,train_loss,validation_loss,validation_balanced_accuracy,seconds")?;
    let steps_per_epoch = (train_set.len() * args.crops as usize).div_ceil(args.batch);
    let progress = bar(args.epochs * steps_per_epoch, "training");
    let device = default_device();
    let trained = training::train(
        &cnn,
        &config,
        &batcher,
        training::TrainData { train: &train_set, validation: &val_set, classes: &corpus.classes },
        &device,
        |e| {
            let _ = writeln!(
                log_file,
                "{},{:.5},{:.5},{:.4},{:.1}",
                e.epoch, e.train_loss, e.validation_loss, e.validation_balanced_accuracy, e.seconds
            );
            progress.suspend(|| {
                eprintln!(
                    "epoch {:>3}  loss {:.4}  validation loss {:.4}, balanced accuracy {:.3}  ({:.0} s)",
                    e.epoch, e.train_loss, e.validation_loss, e.validation_balanced_accuracy, e.seconds
                )
            });
        },
        |step, _| progress.set_position(step as u64),
    );
    progress.finish_and_clear();

    // Held-out patients.
    let (truth, probs) = predict_dataset(&trained.model, &batcher, &test_set);
    // Scored as `auscult eval --split test` scores it, so the card's figures
    // are what its command prints.
    let probs = if task.per_patient { patient_means(&probs, &corpus, &split.test) } else { probs };
    let report = (!truth.is_empty()).then(|| scored(&corpus, &split.test, &truth, &probs, task.icbhi));
    if let Some(r) = &report {
        println!("held-out patients ({}):\n{}", spec.describe(), r.to_text());
    }

    let bytes = weights_bytes(&trained.model).map_err(|e| anyhow::anyhow!("saving weights: {e}"))?;
    let weights = args.out.join("model.bpk");
    auscult::model::card::write_private(&weights, &bytes).with_context(|| format!("writing {}", weights.display()))?;
    let name = args.out.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned());
    let command = format!(
        "auscult train --task {} --data DIR/{data_dir}{} --out {} --epochs {} --patience {} --folds {} --fold {} --seed {} --channels {} --pooling {} --select {}{}{}{}",
        task.name,
        args.extra_train.as_ref().map_or(String::new(), |d| format!(" --extra-train DIR/{}", dir_name(d))),
        args.out.display(),
        args.epochs,
        args.patience,
        args.folds,
        args.fold,
        args.seed,
        args.channels.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        value_name(args.pooling),
        value_name(args.select),
        if args.crops > 1 { format!(" --crops {}", args.crops) } else { String::new() },
        match (args.n_fft, args.hop, args.n_mels) {
            (None, None, None) => String::new(),
            _ => format!(" --n-fft {} --hop {} --n-mels {}", task.features.n_fft, task.features.hop, task.features.n_mels),
        },
        if args.official_split { " --official-split" } else { "" }
    );
    let card = ModelCard {
        name,
        task: task.name.into(),
        classes: corpus.classes.clone(),
        weights: "model.bpk".into(),
        sha256: card::sha256_hex(&bytes),
        parameters: trained.model.num_params(),
        architecture: Architecture { channels: cnn.channels.clone(), dropout: cnn.dropout, pooling: cnn.pooling },
        features: task.features.clone(),
        normalization: Normalization { mean, std, per_example: task.per_example_norm },
        chain: task.chain.map(String::from),
        training: Training {
            data: data_name.clone(),
            split: spec.describe(),
            train_examples: train_set.len(),
            validation_examples: val_set.len(),
            test_examples: test_set.len(),
            epochs_run: trained.log.len(),
            best_epoch: trained.best_epoch,
            seed: args.seed,
            command,
            caveat: task.caveat.map(String::from),
        },
        evaluation: report.as_ref().map(|r| Evaluation {
            examples: r.n,
            accuracy: r.accuracy,
            balanced_accuracy: r.balanced_accuracy,
            macro_f1: r.macro_f1,
            icbhi_score: r.icbhi.as_ref().map(|i| i.icbhi_score),
            sensitivity: r.icbhi.as_ref().map(|i| i.sensitivity),
            specificity: r.icbhi.as_ref().map(|i| i.specificity),
            command: format!("auscult eval --model {}/card.toml --data DIR/{data_dir} --split test", args.out.display()),
        }),
    };
    let card_path = args.out.join("card.toml");
    card.save(&card_path)?;
    println!("saved {} ({} parameters, {} bytes of weights)", card_path.display(), card.parameters, bytes.len());
    Ok(ExitCode::SUCCESS)
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
    /// recording found (a separate held-out folder); official: the ICBHI test split.
    #[arg(long, default_value = "test")]
    split: String,
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
}

pub fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.model.len() == 1 || args.split == "test",
        "several models are pooled over their own held-out patients: --split test, not {:?}",
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
    let (task, corpus) = load_task(&card.task, &args.data)?;
    if corpus.classes != card.classes {
        bail!("{}: the data's classes {:?} are not the model's {:?}", args.data.display(), corpus.classes, card.classes);
    }
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
        let held_out = split_indices(&args.split, other, card_path, &corpus, &args.data)?;
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
        let set = mel_dataset(&corpus, &held_out, &mut pre, &mut HashMap::new(), |n| progress.set_position(n as u64))?;
        progress.finish_and_clear();
        let p = classifier.predict(&set.examples.iter().map(|e| e.mel.clone()).collect::<Vec<_>>());
        probs.extend(if per_patient { patient_means(&p, &corpus, &held_out) } else { p });
        truth.extend(set.examples.iter().map(|e| e.label));
        scored_by.extend(held_out.iter().map(|&i| (i, m)));
        indices.extend(held_out);
    }
    let report = scored(&corpus, &indices, &truth, &probs, task.icbhi);
    let scoring = if per_patient { ", each recording scored with its patient's mean" } else { "" };
    let name = if args.model.len() == 1 { card.name.clone() } else { format!("{}-pooled-{}", card.name, args.model.len()) };
    let what = if args.model.len() == 1 { card.name.clone() } else { format!("{} models pooled, each on its own held-out patients ({})", args.model.len(), args.model.join(", ")) };
    println!("{what} on {} ({}, --split {}{scoring}):\n{}", args.data.display(), corpus.name, args.split, report.to_text());
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
    println!("figures: {}, {}", confusion.display(), roc.display());
    Ok(ExitCode::SUCCESS)
}

/// The examples `--split` names: `test`, the patients the card says were
/// held out; `all`, every one; `official`, the ICBHI test split.
fn split_indices(split: &str, card: &ModelCard, card_path: &Path, corpus: &Corpus, data: &Path) -> anyhow::Result<Vec<usize>> {
    Ok(match split {
        "all" => (0..corpus.examples.len()).collect(),
        "official" => SplitSpec::IcbhiOfficial.apply(corpus, data)?.test,
        "test" => {
            let spec = SplitSpec::parse(&card.training.split)
                .with_context(|| format!("{}: cannot read the split {:?}", card_path.display(), card.training.split))?;
            spec.apply(corpus, data)?.test
        }
        other => bail!("--split must be test, all or official, not {other:?}"),
    })
}

/// The report on `indices` of `corpus`, with the 95% interval from
/// resampling its patients (2 000 times, seeded: the same figures twice).
fn scored(corpus: &Corpus, indices: &[usize], truth: &[usize], probs: &[Vec<f32>], icbhi: bool) -> metrics::Report {
    let mut report = metrics::report(&corpus.classes, truth, probs, icbhi);
    let patients: Vec<&str> = indices.iter().map(|&i| corpus.examples[i].patient.as_str()).collect();
    report.patient_interval = metrics::patient_bootstrap(corpus.classes.len(), truth, probs, &patients, icbhi, 2000, 1);
    report
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

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// Recordings (WAV or FLAC).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// A model name in models/ (e.g. heart) or a card file.
    #[arg(long)]
    model: String,
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv"])]
    format: String,
}

pub fn analyze(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let card_path = card::find(&args.model)?;
    let classifier = Classifier::load(&card_path)?;
    let classes = classifier.card.classes.clone();
    let mut pre = classifier.preprocessor(&plugin_search())?;
    let fps = pre.config.frames_per_s();
    let mut rows: Vec<(String, f64, f64, Vec<f32>)> = Vec::new();
    for file in &args.files {
        let samples = pre.audio(file)?;
        let mel = pre.log_mel(&samples);
        // Cycle-level models run on each breath cycle the segmenter finds;
        // the others on the whole recording.
        let spans: Vec<(f64, f64)> = if classifier.card.task == "lung-cycles" {
            cycles(&samples, pre.config.sample_rate).unwrap_or_else(|e| {
                eprintln!("auscult: warning: {}: no cycle segmentation ({e}); classifying the whole file", file.display());
                vec![]
            })
        } else {
            vec![]
        };
        let duration = samples.len() as f64 / f64::from(pre.config.sample_rate);
        let spans = if spans.is_empty() { vec![(0.0, duration)] } else { spans };
        let inputs: Vec<_> = spans.iter().map(|&(s, e)| mel.slice((s * fps) as usize, (e * fps).ceil() as usize)).collect();
        for ((s, e), p) in spans.into_iter().zip(classifier.predict(&inputs)) {
            rows.push((file.display().to_string(), s, e, p));
        }
    }
    let mut out = std::io::stdout().lock();
    match args.format.as_str() {
        "json" => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|(f, s, e, p)| {
                    let probs: serde_json::Map<String, serde_json::Value> = classes.iter().zip(p).map(|(c, v)| (c.clone(), serde_json::json!(v))).collect();
                    serde_json::json!({"file": f, "start_s": s, "end_s": e, "prediction": classes[metrics::argmax(p)], "probabilities": probs})
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        }
        "csv" => {
            // File names hold commas (KAUH's do): the writer quotes them.
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(["file", "start_s", "end_s", "prediction"].into_iter().chain(classes.iter().map(String::as_str)))?;
            for (f, s, e, p) in &rows {
                let mut record = vec![f.clone(), format!("{s:.3}"), format!("{e:.3}"), classes[metrics::argmax(p)].clone()];
                record.extend(p.iter().map(|v| format!("{v:.4}")));
                csv.write_record(&record)?;
            }
            csv.flush()?;
        }
        _ => {
            for (f, s, e, p) in &rows {
                let best = metrics::argmax(p);
                writeln!(out, "{f}  {s:>7.2}–{e:<7.2} s  {:<14} {:.2}", classes[best], p[best])?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Breath cycles found by the segment plugin (lung mode), in seconds.
fn cycles(samples: &[f32], rate: u32) -> anyhow::Result<Vec<(f64, f64)>> {
    let text = "[[chain]]\nplugin = \"segment\"\nparams = { mode = 0 }\n";
    let config = auscult::host::ChainConfig::parse(Path::new("segmenter"), text.into())?;
    let r = f64::from(rate);
    let mut chain = config.build(&plugin_search(), r, 4096)?;
    let mut out = vec![0.0f32; samples.len()];
    let mut events = Vec::with_capacity(4096);
    for (i, o) in samples.chunks(4096).zip(out.chunks_mut(4096)) {
        events.reserve(auscult::host::chain::EVENTS_PER_BLOCK);
        chain.process(i, o, &mut events);
    }
    let mut cycles = auscult::host::CycleTracker::default();
    Ok(events.iter().filter_map(|e| cycles.push(e)).map(|(s, e)| (s as f64 / r, e as f64 / r)).collect())
}

