//! `auscult train`: a model trained on a task's training patients, its
//! card scored on the held-out ones.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use auscult::datasets::split::{validation_from_train, Split};
use auscult::model::card::{self, Architecture, Evaluation, Member, ModelCard, Normalization, Training};
use auscult::model::data::MelBatcher;
use auscult::model::features::{FeatureConfig, Preprocessor};
use auscult::model::inference::{default_device, mean_over_members, weights_bytes};
use auscult::model::model::{CnnConfig, Pooling, DEFAULT_DROPOUT};
use auscult::model::pipeline::{keep_training_side, mel_dataset, plugin_search, SplitSpec};
use auscult::model::tasks::Task;
use auscult::model::training::{self, predict_dataset, Balance, LrSchedule, Selection, TrainConfig, WarmStart};
use burn::module::Module;

use super::corpus::{bar, load_task, patient_means, scored};

const DEFAULT_BATCH: usize = 32;

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// lung-cycles (ICBHI, SPRSound, KAUH), lung-diagnosis (KAUH), heart (class folders), heart-murmur (CirCor), heart-abnormal (PhysioNet 2016), icbhi-diagnosis, sprsound-events, sprsound-records, folder.
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
    /// Use the data's official split instead: ICBHI's train/test, or
    /// SPRSound's training set against its 2022 inter-patient test set.
    #[arg(long)]
    official_split: bool,
    /// For a set without patient ids whose files are numbered (the heart
    /// set): count each block of this many consecutively numbered files of
    /// a class as one patient, so that neighbouring files, which may come
    /// from one source recording, stay on one side of every split.
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..), conflicts_with_all = ["official_split", "hold_out_site"])]
    file_blocks: Option<usize>,
    /// Hold out every recording in the folder of this name and train on the
    /// others (leave-one-site-out: PhysioNet 2016's training-a..f are its
    /// six sites).
    #[arg(long, value_name = "FOLDER", conflicts_with = "official_split")]
    hold_out_site: Option<String>,
    /// Another set to train on as well, never validated or tested on; of
    /// a corpus with an official split, its training side only
    /// (lung-cycles: an ICBHI, SPRSound or KAUH directory, KAUH labelled
    /// by its sound types;
    /// lung-diagnosis: an ICBHI directory, its diagnoses in KAUH's classes).
    #[arg(long, value_name = "DIR")]
    extra_train: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = DEFAULT_BATCH)]
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
    /// Global pooling: mean, mean-std (each channel's mean and spread over
    /// time) or band-mean-std (the same in the low and high half of the spectrum).
    #[arg(long, value_enum, default_value_t = Pooling::Mean)]
    pooling: Pooling,
    /// What picks the epoch kept: the validation balanced accuracy or
    /// loss, or `last`: no validation set (every training patient trains)
    /// and the last of `--epochs`, a count fixed beforehand (no patience).
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
    /// Train an ensemble of N networks on the same patients, each from its
    /// own random start and with its own early stopping; the model's output
    /// is the mean of their probabilities. On small sets one run's figure
    /// depends on its random start; the mean of several depends on it less.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=8))]
    runs: u64,
    /// Dropout before the classifier layer, 0 to below 1. More fights
    /// overfitting a few training patients.
    #[arg(long, default_value_t = DEFAULT_DROPOUT, value_name = "P")]
    dropout: f64,
    /// L2 penalty on the weights, added to each gradient (0: none).
    #[arg(long, default_value_t = 0.0, value_name = "PENALTY")]
    weight_decay: f32,
    /// The learning rate (1e-3) throughout, or cosine: annealed from it to
    /// 0 over all of --epochs, so that the last epochs settle.
    #[arg(long, value_enum, default_value_t = LrSchedule::Constant)]
    lr_schedule: LrSchedule,
    /// How rare classes count as much as common ones: weights (each example
    /// once an epoch, the loss weighted by class) or sampling (a class drawn
    /// uniformly for every input, the loss unweighted).
    #[arg(long, value_enum, default_value_t = Balance::Weights)]
    balance: Balance,
    /// Start from another model's weights (a shipped name or a card's path)
    /// instead of a random draw: its conv blocks, and its classifier layer
    /// too when it was trained for the same classes. Its widths and mel
    /// settings must be this run's.
    #[arg(long, value_name = "MODEL")]
    init: Option<String>,
    /// Also train the network to name each training recording's annotated
    /// sound type (lung-diagnosis: normal, crackle, wheeze or both, from the
    /// KAUH file name), through a second classifier layer dropped after
    /// training. Validation, the epoch kept and the test never see it.
    #[arg(long)]
    auxiliary_sounds: bool,
    /// The auxiliary loss's weight beside the diagnosis loss's 1.
    #[arg(long, default_value_t = 1.0, value_name = "W", requires = "auxiliary_sounds")]
    auxiliary_weight: f32,
    /// Mixup: train on mixtures of two training inputs of any classes, in a
    /// share drawn uniformly per batch, the loss mixed in the same share.
    #[arg(long)]
    mixup: bool,
    /// Normalise each mel band of each input by its own mean over the
    /// input's frames, instead of the task's one mean per input (or one for
    /// the whole set): what a stethoscope does to the spectrum is a constant
    /// per band in dB, and corpora recorded through different ones differ by
    /// it.
    #[arg(long)]
    band_norm: bool,
}

/// A data directory's last component, as cards and commands name it.
fn dir_name(dir: &Path) -> String {
    dir.file_name().map_or("data".into(), |n| n.to_string_lossy().into_owned())
}

/// How clap spells a value on the command line.
fn value_name(value: impl clap::ValueEnum) -> String {
    value.to_possible_value().map_or_else(String::new, |v| v.get_name().to_string())
}

/// Options that cannot work are refused before any audio is read (feature
/// extraction takes minutes on a whole set), each naming its option.
fn check_options(args: &TrainArgs) -> anyhow::Result<()> {
    if !args.official_split && args.hold_out_site.is_none() {
        anyhow::ensure!(args.folds >= 2, "--folds {}: patient-disjoint folds need at least 2", args.folds);
        anyhow::ensure!(args.fold < args.folds, "--fold {}: folds are numbered 0 to {} (--folds {})", args.fold, args.folds - 1, args.folds);
    }
    anyhow::ensure!(args.epochs >= 1, "--epochs 0: training needs at least one epoch");
    anyhow::ensure!(args.batch >= 1, "--batch 0: a batch needs at least one example");
    anyhow::ensure!((0.0..1.0).contains(&args.dropout), "--dropout {}: the share of activations dropped must be at least 0 and below 1", args.dropout);
    anyhow::ensure!(
        args.weight_decay.is_finite() && args.weight_decay >= 0.0,
        "--weight-decay {}: the L2 penalty must be a finite number, 0 or more",
        args.weight_decay
    );
    anyhow::ensure!(
        !args.channels.is_empty() && args.channels.iter().all(|&c| (1..=1024).contains(&c)),
        "--channels needs widths between 1 and 1024, got {:?}",
        args.channels
    );
    anyhow::ensure!(
        args.auxiliary_weight.is_finite() && args.auxiliary_weight > 0.0,
        "--auxiliary-weight {}: the auxiliary loss's weight must be a finite number above 0",
        args.auxiliary_weight
    );
    Ok(())
}

/// The weights `--init` names, checked against this run: the same conv
/// widths and mel settings, so that the blocks see inputs like those they
/// learnt on; the classifier layer kept only for the same classes and
/// pooling. Also how the card names where the run started.
fn warm_start_from(name: &str, cnn: &CnnConfig, features: &FeatureConfig, classes: &[String]) -> anyhow::Result<(WarmStart, String)> {
    let card_path = card::find(name).with_context(|| format!("--init {name}"))?;
    let source = ModelCard::load(&card_path).with_context(|| format!("--init {name}"))?;
    let at = card_path.display();
    anyhow::ensure!(
        source.architecture.channels == cnn.channels,
        "--init {at}: its conv blocks are {:?} wide, this run's (--channels) {:?}",
        source.architecture.channels,
        cnn.channels
    );
    let (theirs, ours) = (&source.features, features);
    for (parameter, a, b) in [
        ("sample rate (Hz)", f64::from(theirs.sample_rate), f64::from(ours.sample_rate)),
        ("FFT size (--n-fft)", theirs.n_fft as f64, ours.n_fft as f64),
        ("hop (--hop)", theirs.hop as f64, ours.hop as f64),
        ("mel bands (--n-mels)", theirs.n_mels as f64, ours.n_mels as f64),
        ("lowest mel frequency (Hz)", theirs.fmin, ours.fmin),
        ("highest mel frequency (Hz)", theirs.fmax, ours.fmax),
    ] {
        anyhow::ensure!(a == b, "--init {at}: trained with {parameter} {a}, this run has {b}: its conv blocks learnt on other inputs");
    }
    let head = source.classes == classes && source.architecture.pooling == cnn.pooling;
    // An ensemble's first member: the others started elsewhere, and one
    // start is what a run takes.
    let (_, bytes) = source.verify_all_weights(&card_path)?.into_iter().next().with_context(|| format!("--init {at}: no weights"))?;
    let start = WarmStart::new(bytes, head, cnn).map_err(|e| anyhow::anyhow!("--init {at}: {e}"))?;
    let what = if head { "every layer" } else { "its conv blocks" };
    eprintln!("starting from {at} ({what}; sha256 {})", source.sha256);
    Ok((start, format!("{} ({what}; sha256 {})", source.name, source.sha256)))
}

pub fn run(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    check_options(args)?;
    let (mut task, mut corpus) = load_task(&args.task, &args.data)?;
    if let Some(block) = args.file_blocks {
        auscult::datasets::split::group_by_file_number(&mut corpus, block)?;
    }
    anyhow::ensure!(
        !args.auxiliary_sounds || task.auxiliary.is_some(),
        "--auxiliary-sounds: task {} has no sound annotations to train on (lung-diagnosis has KAUH's)",
        task.name
    );
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
    let cnn = CnnConfig::new(corpus.classes.len()).with_channels(args.channels.clone()).with_pooling(args.pooling).with_dropout(args.dropout);
    let init = args.init.as_deref().map(|name| warm_start_from(name, &cnn, &task.features, &corpus.classes)).transpose()?;
    let spec = if args.official_split {
        SplitSpec::official(&args.data, None)?
    } else if let Some(site) = &args.hold_out_site {
        SplitSpec::HoldOutSite { site: site.clone() }
    } else {
        SplitSpec::PatientFold { k: args.folds, fold: args.fold, seed: args.seed, file_blocks: args.file_blocks }
    };
    let split = spec.apply(&corpus, &args.data)?;
    anyhow::ensure!(split.shared_patients(&corpus).is_empty(), "split leaks patients: {:?}", split.shared_patients(&corpus));
    let mut inner = if args.select == Selection::Last {
        Split { train: split.train.clone(), test: Vec::new() }
    } else {
        validation_from_train(&corpus, &split.train, 0.15, args.seed)
    };
    // The split and the validation carve are the primary set's alone, so
    // `eval --split test` finds the same held-out patients without it.
    let data_dir = dir_name(&args.data);
    let mut data_name = data_dir.clone();
    if let Some(dir) = &args.extra_train {
        let loader = task.extra.as_ref().with_context(|| format!("--extra-train: task {} takes no extra training set", task.name))?;
        let mut extra = loader.load(dir)?;
        for w in &extra.warnings {
            eprintln!("auscult: warning: {w}");
        }
        // Another corpus's test sets are scored on their own, never trained on.
        if let Some(kept) = keep_training_side(&mut extra, dir)? {
            eprintln!("{}: its training side only ({})", dir.display(), kept.describe());
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
    let mut train_set = mel_dataset(&corpus, &inner.train, &mut pre, &mut cache, |_| progress.set_position((done + 1) as u64))?;
    done += inner.train.len();
    progress.set_position(done as u64);
    let val_set = mel_dataset(&corpus, &inner.test, &mut pre, &mut cache, |_| {})?;
    done += inner.test.len();
    progress.set_position(done as u64);
    let test_set = mel_dataset(&corpus, &split.test, &mut pre, &mut cache, |_| {})?;
    progress.finish_and_clear();

    // The auxiliary target, on the training side only: the primary set's
    // recordings that have one (an --extra-train set's have none).
    let auxiliary = match (&task.auxiliary, args.auxiliary_sounds) {
        (Some(target), true) => {
            let mut labelled = 0;
            for (example, &i) in train_set.examples.iter_mut().zip(&inner.train) {
                example.auxiliary = (target.label)(&corpus.examples[i].path);
                labelled += usize::from(example.auxiliary.is_some());
            }
            eprintln!("auxiliary target: the {} of {labelled} of {} training examples", target.name, train_set.len());
            let description = format!(
                "{} ({}), weight {}, {labelled} of {} training examples; its layer dropped after training",
                target.name,
                target.classes.join(", "),
                args.auxiliary_weight,
                train_set.len()
            );
            Some((training::Auxiliary { classes: target.classes.len(), weight: args.auxiliary_weight }, description))
        }
        _ => None,
    };
    let (mean, std) = train_set.stats();
    let batcher =
        MelBatcher { n_mels: task.features.n_mels, frames: task.features.frames(), mean, std, per_example: task.per_example_norm, per_band: args.band_norm };
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch,
        seed: args.seed,
        max_steps: args.max_steps,
        patience: args.patience,
        weight_power: task.weight_power,
        select: args.select,
        crops_per_epoch: args.crops as usize,
        weight_decay: args.weight_decay,
        lr_schedule: args.lr_schedule,
        balance: args.balance,
        init: init.as_ref().map(|(start, _)| start.clone()),
        auxiliary: auxiliary.as_ref().map(|(a, _)| *a),
        mixup: args.mixup,
        ..TrainConfig::default()
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let device = default_device();
    let steps_per_epoch = config.steps_per_epoch(train_set.len());
    let mut members = Vec::new();
    let mut weight_bytes = 0;
    for run in 0..args.runs as usize {
        // The first run is what a single-run command has always trained.
        let config = TrainConfig { seed: args.seed + run as u64, ..config.clone() };
        if args.runs > 1 {
            eprintln!("run {} of {}", run + 1, args.runs);
        }
        let suffix = if run == 0 { String::new() } else { format!("-{}", run + 1) };
        let log_path = args.out.join(format!("training-log{suffix}.csv"));
        let mut log_file = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        writeln!(log_file, "epoch,train_loss,validation_loss,validation_balanced_accuracy,seconds")?;
        let progress = bar(args.epochs * steps_per_epoch, "training");
        let trained = training::train(
            &cnn,
            &config,
            &batcher,
            training::TrainData { train: &train_set, validation: &val_set, classes: &corpus.classes },
            &device,
            |e| {
                // No validation set: empty fields, as pandas and csv readers take missing values.
                let field = |v: Option<f64>, decimals: usize| v.map_or(String::new(), |v| format!("{v:.decimals$}"));
                let _ = writeln!(
                    log_file,
                    "{},{:.5},{},{},{:.1}",
                    e.epoch,
                    e.train_loss,
                    field(e.validation_loss, 5),
                    field(e.validation_balanced_accuracy, 4),
                    e.seconds
                );
                let validation = match (e.validation_loss, e.validation_balanced_accuracy) {
                    (Some(loss), Some(ba)) => format!("validation loss {loss:.4}, balanced accuracy {ba:.3}"),
                    _ => "no validation set".into(),
                };
                progress.suspend(|| eprintln!("epoch {:>3}  loss {:.4}  {validation}  ({:.0} s)", e.epoch, e.train_loss, e.seconds));
            },
            |step, _| progress.set_position(step as u64),
        );
        progress.finish_and_clear();
        let bytes = weights_bytes(&trained.model).map_err(|e| anyhow::anyhow!("saving weights: {e}"))?;
        let file = format!("model{suffix}.bpk");
        let path = args.out.join(&file);
        auscult::model::card::write_private(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        weight_bytes += bytes.len();
        members.push((trained, file, card::sha256_hex(&bytes)));
    }

    // Held-out patients, scored with the mean of the members' probabilities
    // as `Classifier::predict` gives it.
    let truth: Vec<usize> = test_set.labels().collect();
    let probs = mean_over_members(members.iter().map(|(m, ..)| predict_dataset(&m.model, &batcher, &test_set).1).collect());
    // Scored as `auscult eval --split test` scores it, so the card's figures
    // are what its command prints.
    let probs = if task.per_patient { patient_means(&probs, &corpus, &split.test) } else { probs };
    let report = (!truth.is_empty()).then(|| scored(&corpus, &split.test, &truth, &probs, &task, &args.data));
    if let Some(r) = &report {
        outln!("held-out patients ({}):\n{}", spec.describe(), r.to_text());
    }

    let (trained, weights, sha256) = &members[0];
    let name = args.out.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned());
    let command = command_line(args, &task);
    let card = ModelCard {
        name,
        task: task.name.into(),
        classes: corpus.classes.clone(),
        weights: weights.clone(),
        sha256: sha256.clone(),
        parameters: trained.model.num_params(),
        architecture: Architecture { channels: cnn.channels.clone(), dropout: cnn.dropout, pooling: cnn.pooling },
        features: task.features.clone(),
        normalization: Normalization { mean, std, per_example: task.per_example_norm, per_band: args.band_norm },
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
            init: init.map(|(_, from)| from),
            auxiliary: auxiliary.map(|(_, what)| what),
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
        members: members[1..]
            .iter()
            .map(|(t, weights, sha256)| Member { weights: weights.clone(), sha256: sha256.clone(), epochs_run: t.log.len(), best_epoch: t.best_epoch })
            .collect(),
    };
    let card_path = args.out.join("card.toml");
    card.save(&card_path)?;
    let ensemble = if args.runs > 1 { format!(" in each of {} networks", args.runs) } else { String::new() };
    outln!("saved {} ({} parameters{ensemble}, {weight_bytes} bytes of weights)", card_path.display(), card.parameters);
    Ok(ExitCode::SUCCESS)
}

/// The command that trains this model again, as the card records it: every
/// option that shapes the model, with the data named by its directory.
fn command_line(args: &TrainArgs, task: &Task) -> String {
    format!(
        "auscult train --task {} --data DIR/{}{} --out {} --epochs {} --patience {} --folds {} --fold {} --seed {} --channels {} --pooling {} --select {}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}",
        task.name,
        dir_name(&args.data),
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
        if args.batch != DEFAULT_BATCH { format!(" --batch {}", args.batch) } else { String::new() },
        args.max_steps.map_or(String::new(), |n| format!(" --max-steps {n}")),
        if args.crops > 1 { format!(" --crops {}", args.crops) } else { String::new() },
        match (args.n_fft, args.hop, args.n_mels) {
            (None, None, None) => String::new(),
            _ => format!(" --n-fft {} --hop {} --n-mels {}", task.features.n_fft, task.features.hop, task.features.n_mels),
        },
        if args.official_split { " --official-split" } else { "" },
        args.hold_out_site.as_ref().map_or(String::new(), |s| format!(" --hold-out-site {s}")),
        args.file_blocks.map_or(String::new(), |b| format!(" --file-blocks {b}")),
        if args.runs > 1 { format!(" --runs {}", args.runs) } else { String::new() },
        if args.dropout != DEFAULT_DROPOUT { format!(" --dropout {}", args.dropout) } else { String::new() },
        if args.weight_decay > 0.0 { format!(" --weight-decay {}", args.weight_decay) } else { String::new() },
        if args.lr_schedule != LrSchedule::Constant { format!(" --lr-schedule {}", value_name(args.lr_schedule)) } else { String::new() },
        if args.balance != Balance::Weights { format!(" --balance {}", value_name(args.balance)) } else { String::new() },
        args.init.as_ref().map_or(String::new(), |m| format!(" --init {m}")),
        match (args.auxiliary_sounds, args.auxiliary_weight) {
            (false, _) => String::new(),
            (true, 1.0) => " --auxiliary-sounds".into(),
            (true, w) => format!(" --auxiliary-sounds --auxiliary-weight {w}"),
        },
        if args.mixup { " --mixup" } else { "" },
        if args.band_norm { " --band-norm" } else { "" }
    )
}
