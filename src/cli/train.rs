//! `auscult train`: a model trained on a task's training patients, its
//! card scored on the held-out ones.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use auscult::model::model::{Pooling, DEFAULT_DROPOUT};
use auscult::model::plan::{dir_name, Observer, SplitChoice, TrainPlan};
use auscult::model::tasks::{self, Task};
use auscult::model::training::{Balance, EpochLog, LrSchedule, Selection, TrainConfig, DEFAULT_LEARNING_RATE};
use indicatif::ProgressBar;

use super::corpus::bar;

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
    /// Adam's learning rate (with --lr-schedule cosine, where it starts).
    /// Fine-tuning a network given by --init usually wants a tenth of the
    /// default or less, so that the first steps do not undo what it learnt.
    #[arg(long, default_value_t = DEFAULT_LEARNING_RATE, value_name = "RATE")]
    learning_rate: f64,
    /// How rare classes count as much as common ones: weights (each example
    /// once an epoch, the loss weighted by class), sampling (a class drawn
    /// uniformly for every input, the loss unweighted) or folder-sampling (a
    /// recording folder, such as a PhysioNet site or a corpus, in proportion
    /// to its examples, then a class uniformly within it: where a recording
    /// was made says nothing of its class).
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
    /// Domain-adversarial training against the recording site: a second
    /// classifier layer learns to name each training recording's folder (a
    /// PhysioNet site, or the corpus an --extra-train set brings) through a
    /// gradient reversal, its loss at this weight, so the conv blocks learn
    /// features that do not tell the sites apart. The layer is dropped
    /// after training.
    #[arg(long, value_name = "W", conflicts_with = "auxiliary_sounds")]
    site_adversary: Option<f32>,
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
    /// After training, move the decision toward or away from these classes
    /// (one, or two comma-separated): offsets to their log-probabilities,
    /// chosen on the validation patients (never the held-out ones) for the
    /// figure the task is judged by (CirCor: the challenge's weighted
    /// accuracy over patients; ICBHI cycles: the mean of balanced accuracy
    /// and the ICBHI Score; otherwise balanced accuracy); kept in the card
    /// and applied wherever the model runs.
    #[arg(long, value_name = "CLASS[,CLASS]")]
    tune_bias: Option<String>,
    /// Keep each recording's log-mel (after the chain) in DIR, and read it
    /// back in later runs with the same mel settings, chain and plugin
    /// libraries: a changed setting, plugin or recording is computed again.
    /// About 64 KB per second of audio at the lung settings.
    #[arg(long, value_name = "DIR")]
    feature_cache: Option<PathBuf>,
    /// Save the run's state in --out after every epoch (checkpoint.bin;
    /// removed when the card is saved), and continue from it when the same
    /// command runs again after an interruption. Each epoch's random draws
    /// then come from the seed and the epoch (Burn's generator cannot be
    /// saved): the weights differ from the same command without it, and an
    /// interrupted run, continued, trains exactly what an uninterrupted one
    /// does.
    #[arg(long)]
    resumable: bool,
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
        args.learning_rate.is_finite() && args.learning_rate > 0.0 && args.learning_rate <= 1.0,
        "--learning-rate {}: the step size must be above 0 and at most 1",
        args.learning_rate
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
    if let Some(w) = args.site_adversary {
        anyhow::ensure!(w.is_finite() && w > 0.0, "--site-adversary {w}: the adversary's loss weight must be a finite number above 0");
    }
    Ok(())
}

pub fn run(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    check_options(args)?;
    let task = tasks::task(&args.task).with_context(|| format!("unknown task {:?}; tasks: {}", args.task, tasks::NAMES.join(", ")))?;
    let plan = TrainPlan {
        task: args.task.clone(),
        data: args.data.clone(),
        extra_train: args.extra_train.clone(),
        split: if args.official_split {
            SplitChoice::Official
        } else if let Some(site) = &args.hold_out_site {
            SplitChoice::HoldOutSite(site.clone())
        } else {
            SplitChoice::Folds { k: args.folds, fold: args.fold, file_blocks: args.file_blocks }
        },
        n_fft: args.n_fft,
        hop: args.hop,
        n_mels: args.n_mels,
        channels: args.channels.clone(),
        pooling: args.pooling,
        dropout: args.dropout,
        train: TrainConfig {
            epochs: args.epochs,
            batch_size: args.batch,
            seed: args.seed,
            max_steps: args.max_steps,
            patience: args.patience,
            select: args.select,
            crops_per_epoch: args.crops as usize,
            weight_decay: args.weight_decay,
            lr_schedule: args.lr_schedule,
            learning_rate: args.learning_rate,
            balance: args.balance,
            mixup: args.mixup,
            ..TrainConfig::default()
        },
        runs: args.runs as usize,
        band_norm: args.band_norm,
        auxiliary_weight: args.auxiliary_sounds.then_some(args.auxiliary_weight),
        site_adversary: args.site_adversary,
        init: args.init.clone(),
        tune_bias: args.tune_bias.clone(),
        feature_cache: args.feature_cache.clone(),
        resumable: args.resumable,
        out: args.out.clone(),
        command: command_line(args, &task),
    };
    let outcome = plan.run(&mut Progress::default())?;
    if let Some(r) = &outcome.report {
        outln!("held-out patients ({}):\n{}", outcome.split.describe(), r.to_text());
    }
    let ensemble = if args.runs > 1 { format!(" in each of {} networks", args.runs) } else { String::new() };
    outln!("saved {} ({} parameters{ensemble}, {} bytes of weights)", outcome.card_path.display(), outcome.card.parameters, outcome.weight_bytes);
    Ok(ExitCode::SUCCESS)
}

/// What a training run shows on stderr: its messages, a bar for the
/// features and one for each network's steps, a line per epoch.
#[derive(Default)]
struct Progress {
    bar: Option<ProgressBar>,
}

impl Observer for Progress {
    fn message(&mut self, text: &str) {
        self.suspend(|| eprintln!("{text}"));
    }

    fn warning(&mut self, text: &str) {
        self.suspend(|| eprintln!("auscult: warning: {text}"));
    }

    fn features(&mut self, done: usize, total: usize) {
        let bar = self.bar.get_or_insert_with(|| bar(total, "features"));
        bar.set_position(done as u64);
        if done == total {
            bar.finish_and_clear();
            self.bar = None;
        }
    }

    fn run_started(&mut self, run: usize, runs: usize, steps: usize) {
        if let Some(old) = self.bar.take() {
            old.finish_and_clear();
        }
        if runs > 1 {
            eprintln!("run {} of {runs}", run + 1);
        }
        self.bar = Some(bar(steps, "training"));
    }

    fn step(&mut self, step: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
        }
    }

    fn epoch(&mut self, e: &EpochLog) {
        let validation = match (e.validation_loss, e.validation_balanced_accuracy) {
            (Some(loss), Some(ba)) => format!("validation loss {loss:.4}, balanced accuracy {ba:.3}"),
            _ => "no validation set".into(),
        };
        self.suspend(|| eprintln!("epoch {:>3}  loss {:.4}  {validation}  ({:.0} s)", e.epoch, e.train_loss, e.seconds));
    }

    fn run_finished(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress {
    fn suspend(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }
}

/// The command that trains this model again, as the card records it: every
/// option that shapes the model, with the data named by its directory.
fn command_line(args: &TrainArgs, task: &Task) -> String {
    format!(
        "auscult train --task {} --data DIR/{}{} --out {} --epochs {} --patience {} --folds {} --fold {} --seed {} --channels {} --pooling {} --select {}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}",
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
            // The whole mel setting, the task's defaults filled in.
            _ => format!(
                " --n-fft {} --hop {} --n-mels {}",
                args.n_fft.unwrap_or(task.features.n_fft),
                args.hop.unwrap_or(task.features.hop),
                args.n_mels.unwrap_or(task.features.n_mels)
            ),
        },
        if args.official_split { " --official-split" } else { "" },
        args.hold_out_site.as_ref().map_or(String::new(), |s| format!(" --hold-out-site {s}")),
        args.file_blocks.map_or(String::new(), |b| format!(" --file-blocks {b}")),
        if args.runs > 1 { format!(" --runs {}", args.runs) } else { String::new() },
        if args.dropout != DEFAULT_DROPOUT { format!(" --dropout {}", args.dropout) } else { String::new() },
        if args.weight_decay > 0.0 { format!(" --weight-decay {}", args.weight_decay) } else { String::new() },
        if args.lr_schedule != LrSchedule::Constant { format!(" --lr-schedule {}", value_name(args.lr_schedule)) } else { String::new() },
        if args.learning_rate != DEFAULT_LEARNING_RATE { format!(" --learning-rate {}", args.learning_rate) } else { String::new() },
        if args.balance != Balance::Weights { format!(" --balance {}", value_name(args.balance)) } else { String::new() },
        args.init.as_ref().map_or(String::new(), |m| format!(" --init {m}")),
        match (args.auxiliary_sounds, args.auxiliary_weight) {
            (false, _) => String::new(),
            (true, 1.0) => " --auxiliary-sounds".into(),
            (true, w) => format!(" --auxiliary-sounds --auxiliary-weight {w}"),
        },
        args.site_adversary.map_or(String::new(), |w| format!(" --site-adversary {w}")),
        if args.mixup { " --mixup" } else { "" },
        if args.band_norm { " --band-norm" } else { "" },
        args.tune_bias.as_ref().map_or(String::new(), |c| format!(" --tune-bias {c}")),
        if args.resumable { " --resumable" } else { "" }
    )
}
