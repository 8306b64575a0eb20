//! A whole training run as one value. `TrainPlan::run` does what `auscult
//! train` does: the task's corpus and its split, an extra training set,
//! the validation carve, features, an auxiliary target, each member of an
//! ensemble, the held-out report and the card. The CLI parses options into
//! a plan and prints what an [`Observer`] hears; tests and other front ends
//! drive the same code without it.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;

use crate::datasets::split::{self, validation_from_train, Split};
use crate::datasets::{Corpus, DatasetError};
use crate::metrics::Report;

use super::cache::MelCache;
use super::card::{self, Architecture, CardError, Member, ModelCard, Normalization, Training};
use super::checkpoint::{CheckpointError, Checkpointing, RunId};
use super::data::{MelBatcher, MelDataset};
use super::decision;
use super::evaluate;
use super::features::{FeatureConfig, FeatureError, Preprocessor};
use super::inference::{default_device, mean_over_members, weights_bytes};
use super::model::{CnnConfig, Pooling};
use super::pipeline::{keep_training_side, mel_dataset, plugin_search, SplitSpec};
use super::tasks::{self, Task};
use super::training::{self, predict_dataset, EpochLog, TrainConfig, Trained, WarmStart};

/// Which patients are held out.
#[derive(Debug, Clone, PartialEq)]
pub enum SplitChoice {
    /// Fold `fold` of `k` patient-disjoint folds; with `file_blocks`, blocks
    /// of that many numbered files count as one patient.
    Folds { k: usize, fold: usize, file_blocks: Option<usize> },
    /// The data's official split (ICBHI's, or SPRSound's 2022 inter-patient test).
    Official,
    /// Every recording in the folder of this name.
    HoldOutSite(String),
}

/// Everything that decides a trained model.
#[derive(Debug, Clone)]
pub struct TrainPlan {
    pub task: String,
    pub data: PathBuf,
    /// Another set's training side, trained on and never validated or tested on.
    pub extra_train: Option<PathBuf>,
    pub split: SplitChoice,
    /// Feature settings other than the task's, where given.
    pub n_fft: Option<usize>,
    pub hop: Option<usize>,
    pub n_mels: Option<usize>,
    pub channels: Vec<usize>,
    pub pooling: Pooling,
    pub dropout: f64,
    /// Epochs, batch, seed, patience and the rest; its `weight_power`,
    /// `init` and `auxiliary` are set by the plan from the task and below.
    pub train: TrainConfig,
    /// Networks in the ensemble (seeds `train.seed`, +1, ...).
    pub runs: usize,
    pub band_norm: bool,
    /// Train the task's auxiliary target too, at this loss weight.
    pub auxiliary_weight: Option<f32>,
    /// Learn against the recording folder (a PhysioNet site, a corpus)
    /// through a gradient reversal, at this loss weight
    /// (`train --site-adversary`).
    pub site_adversary: Option<f32>,
    /// A model (name or card) whose weights the run starts from.
    pub init: Option<String>,
    /// Classes (one, or two comma-separated) whose decision offsets are
    /// chosen on the validation patients after training (see [`decision`]).
    pub tune_bias: Option<String>,
    /// Where each recording's log-mel is kept between runs (see [`MelCache`]).
    pub feature_cache: Option<PathBuf>,
    /// Save each member's state after every epoch in `out` and continue
    /// from it when the same command runs again (see [`checkpoint`]).
    pub resumable: bool,
    pub out: PathBuf,
    /// The command that reproduces the model, for its card.
    pub command: String,
}

/// What a run tells its front end as it goes.
pub trait Observer {
    /// A line worth showing (the split, what a set holds).
    fn message(&mut self, _text: &str) {}
    /// Something skipped or doubtful that did not stop the run.
    fn warning(&mut self, _text: &str) {}
    /// Feature extraction: `done` of `total` examples.
    fn features(&mut self, _done: usize, _total: usize) {}
    /// Member `run` (from 0) of `runs` starts: `steps` optimiser steps at most.
    fn run_started(&mut self, _run: usize, _runs: usize, _steps: usize) {}
    fn step(&mut self, _step: usize) {}
    fn epoch(&mut self, _log: &EpochLog) {}
    fn run_finished(&mut self) {}
}

/// An observer that hears nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// What a run leaves.
pub struct Outcome {
    pub card: ModelCard,
    pub card_path: PathBuf,
    /// The held-out report (none when the split holds nothing out).
    pub report: Option<Report>,
    pub split: SplitSpec,
    pub weight_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A setting that cannot work, naming it.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Features(#[from] FeatureError),
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PlanError + '_ {
    move |source| PlanError::Io { path: path.to_path_buf(), source }
}

/// The split, the validation carve and the extra training set, over one
/// corpus (the extra set's examples appended to it).
struct Sides {
    spec: SplitSpec,
    split: Split,
    inner: Split,
    /// How the card names the data.
    data_name: String,
}

impl TrainPlan {
    /// The task, with this plan's feature settings, and its corpus.
    fn task_and_corpus(&self, observer: &mut dyn Observer) -> Result<(Task, Corpus), PlanError> {
        let mut task =
            tasks::task(&self.task).ok_or_else(|| PlanError::Invalid(format!("unknown task {:?}; tasks: {}", self.task, tasks::NAMES.join(", "))))?;
        let mut corpus = task.loader.load(&self.data)?;
        for w in &corpus.warnings {
            observer.warning(w);
        }
        if let SplitChoice::Folds { file_blocks: Some(block), .. } = self.split {
            split::group_by_file_number(&mut corpus, block)?;
        }
        if self.auxiliary_weight.is_some() && self.site_adversary.is_some() {
            return Err(PlanError::Invalid("--auxiliary-sounds and --site-adversary each train a second layer; choose one".into()));
        }
        if self.auxiliary_weight.is_some() && task.auxiliary.is_none() {
            return Err(PlanError::Invalid(format!("--auxiliary-sounds: task {} has no sound annotations to train on (lung-diagnosis has KAUH's)", task.name)));
        }
        task.features.n_fft = self.n_fft.unwrap_or(task.features.n_fft);
        task.features.hop = self.hop.unwrap_or(task.features.hop);
        task.features.n_mels = self.n_mels.unwrap_or(task.features.n_mels);
        let f = &task.features;
        if !((16..=8192).contains(&f.n_fft) && (1..=f.n_fft).contains(&f.hop) && (16..=256).contains(&f.n_mels)) {
            return Err(PlanError::Invalid(format!(
                "--n-fft {} / --hop {} / --n-mels {}: the FFT size must be 16 to 8192 samples, the hop 1 to the FFT size, and 16 to 256 mel bands (each conv block halves them)",
                f.n_fft, f.hop, f.n_mels
            )));
        }
        Ok((task, corpus))
    }

    fn sides(&self, task: &Task, corpus: &mut Corpus, observer: &mut dyn Observer) -> Result<Sides, PlanError> {
        let spec = match &self.split {
            SplitChoice::Official => SplitSpec::official(&self.data, None)?,
            SplitChoice::HoldOutSite(site) => SplitSpec::HoldOutSite { site: site.clone() },
            SplitChoice::Folds { k, fold, file_blocks } => SplitSpec::PatientFold { k: *k, fold: *fold, seed: self.train.seed, file_blocks: *file_blocks },
        };
        let split = spec.apply(corpus, &self.data)?;
        let leaked = split.shared_patients(corpus);
        if !leaked.is_empty() {
            return Err(PlanError::Invalid(format!("split leaks patients: {leaked:?}")));
        }
        let mut inner = if self.train.select == training::Selection::Last {
            Split { train: split.train.clone(), test: Vec::new() }
        } else {
            validation_carve(corpus, &split.train, self.train.seed)
        };
        // The split and the validation carve are the primary set's alone, so
        // `eval --split test` finds the same held-out patients without it.
        let mut data_name = dir_name(&self.data);
        if let Some(dir) = &self.extra_train {
            let loader = task.extra.as_ref().ok_or_else(|| PlanError::Invalid(format!("--extra-train: task {} takes no extra training set", task.name)))?;
            let mut extra = loader.load(dir)?;
            for w in &extra.warnings {
                observer.warning(w);
            }
            // Another corpus's test sets are scored on their own, never trained on.
            if let Some(kept) = keep_training_side(&mut extra, dir)? {
                observer.message(&format!("{}: its training side only ({})", dir.display(), kept.describe()));
            }
            if extra.classes != corpus.classes {
                return Err(PlanError::Invalid(format!("{}: classes {:?}, not the task's {:?}", dir.display(), extra.classes, corpus.classes)));
            }
            let known = corpus.patients();
            let clash: Vec<&String> = extra.examples.iter().map(|e| &e.patient).filter(|p| known.contains(p)).collect();
            if !clash.is_empty() {
                return Err(PlanError::Invalid(format!("{}: patients also in {}: {clash:?}", dir.display(), self.data.display())));
            }
            observer.message(&format!(
                "{}: {} training examples of {} patients, classes {:?}",
                dir.display(),
                extra.examples.len(),
                extra.patients().len(),
                extra.class_counts()
            ));
            let start = corpus.examples.len();
            corpus.examples.extend(extra.examples);
            inner.train.extend(start..corpus.examples.len());
            data_name = format!("{data_name} + {} ({}, training only)", dir_name(dir), extra.name);
        }
        observer.message(&format!(
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
        ));
        Ok(Sides { spec, split, inner, data_name })
    }

    /// Trains, scores the held-out patients and writes the weights, the
    /// training logs and the card under `out`.
    pub fn run(&self, observer: &mut dyn Observer) -> Result<Outcome, PlanError> {
        let (task, mut corpus) = self.task_and_corpus(observer)?;
        let cnn = CnnConfig::new(corpus.classes.len()).with_channels(self.channels.clone()).with_pooling(self.pooling).with_dropout(self.dropout);
        let init = self.init.as_deref().map(|name| warm_start_from(name, &cnn, &task.features, &corpus.classes, observer)).transpose()?;
        let tuned = self.tuned_classes(&corpus.classes)?;
        let sides = self.sides(&task, &mut corpus, observer)?;
        let (mut train_set, val_set, test_set) = features(&task, &corpus, &sides, self.feature_cache.as_deref(), observer)?;

        // The auxiliary target, on the training side only: the primary set's
        // recordings that have one (an --extra-train set's have none).
        let folders = folder_ids(&corpus, &sides.inner.train);
        let auxiliary = match (&task.auxiliary, self.auxiliary_weight) {
            _ if self.site_adversary.is_some() => {
                let weight = self.site_adversary.unwrap_or(1.0);
                let sites = folders.iter().max().map_or(0, |m| m + 1);
                if sites < 2 {
                    return Err(PlanError::Invalid("--site-adversary: the training side holds one recording folder, no site to learn against".into()));
                }
                for (example, &folder) in train_set.examples.iter_mut().zip(&folders) {
                    example.auxiliary = Some(folder);
                }
                observer.message(&format!("site adversary: {sites} recording folders, learnt against through a gradient reversal at weight {weight}"));
                let description = format!(
                    "the recording folder of each of {} training examples ({sites} folders), learnt against through a gradient reversal (domain-adversarial), weight {weight}; its layer dropped after training",
                    train_set.len()
                );
                Some((training::Auxiliary { classes: sites, weight, adversarial: true }, description))
            }
            (Some(target), Some(weight)) => {
                let mut labelled = 0;
                for (example, &i) in train_set.examples.iter_mut().zip(&sides.inner.train) {
                    example.auxiliary = (target.label)(&corpus.examples[i].path);
                    labelled += usize::from(example.auxiliary.is_some());
                }
                observer.message(&format!("auxiliary target: the {} of {labelled} of {} training examples", target.name, train_set.len()));
                let description = format!(
                    "{} ({}), weight {weight}, {labelled} of {} training examples; its layer dropped after training",
                    target.name,
                    target.classes.join(", "),
                    train_set.len()
                );
                Some((training::Auxiliary { classes: target.classes.len(), weight, adversarial: false }, description))
            }
            _ => None,
        };
        let (mean, std) = train_set.stats();
        let batcher = MelBatcher {
            n_mels: task.features.n_mels,
            frames: task.features.frames(),
            mean,
            std,
            per_example: task.per_example_norm,
            per_band: self.band_norm,
        };
        let config = TrainConfig {
            weight_power: task.weight_power,
            init: init.as_ref().map(|(start, _)| start.clone()),
            auxiliary: auxiliary.as_ref().map(|(a, _)| *a),
            ..self.train.clone()
        };
        std::fs::create_dir_all(&self.out).map_err(io(&self.out))?;
        if self.train.balance == training::Balance::FolderSampling {
            let n = folders.iter().max().map_or(0, |m| m + 1);
            observer.message(&format!("folder sampling: {n} recording folders, the classes drawn equally often within each"));
        }
        let members = self.train_members(&cnn, &config, &batcher, (&train_set, &val_set, &folders), &corpus.classes, observer)?;

        // Held-out patients, scored with the mean of the members'
        // probabilities as `Classifier::predict` gives it, and as `auscult
        // eval --split test` scores them, so the card's figures are what its
        // command prints.
        let decision = tuned.map(|tuned| {
            let probs = mean_over_members(members.iter().map(|m| predict_dataset(&m.trained.model, &batcher, &val_set).1).collect());
            let truth: Vec<usize> = val_set.labels().collect();
            let decision = decision::tune(&corpus.classes, &tuned, &probs, &decision::Objective::new(&task, &corpus, &sides.inner.test, &truth));
            observer.message(&format!("decision: {}", decision.describe(&corpus.classes)));
            decision
        });
        let truth: Vec<usize> = test_set.labels().collect();
        let mut probs = mean_over_members(members.iter().map(|m| predict_dataset(&m.trained.model, &batcher, &test_set).1).collect());
        if let Some(decision) = &decision {
            probs.iter_mut().for_each(|p| decision.apply(p));
        }
        let probs = if task.per_patient { evaluate::patient_means(&probs, &corpus, &sides.split.test) } else { probs };
        let report = (!truth.is_empty()).then(|| evaluate::score(&corpus, &sides.split.test, &truth, &probs, &task, &self.data));

        let weight_bytes = members.iter().map(|m| m.bytes).sum();
        let TrainedMember { trained, weights, sha256, .. } = &members[0];
        let data_dir = dir_name(&self.data);
        let card = ModelCard {
            name: self.out.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned()),
            task: task.name.into(),
            classes: corpus.classes.clone(),
            weights: weights.clone(),
            sha256: sha256.clone(),
            parameters: trained.model.num_params(),
            architecture: Architecture { channels: cnn.channels.clone(), dropout: cnn.dropout, pooling: cnn.pooling },
            features: task.features.clone(),
            normalization: Normalization { mean, std, per_example: task.per_example_norm, per_band: self.band_norm },
            chain: task.chain.map(String::from),
            training: Training {
                data: sides.data_name.clone(),
                split: sides.spec.describe(),
                train_examples: train_set.len(),
                validation_examples: val_set.len(),
                test_examples: test_set.len(),
                epochs_run: trained.log.len(),
                best_epoch: trained.best_epoch,
                seed: self.train.seed,
                command: self.command.clone(),
                caveat: task.caveat.map(String::from),
                init: init.map(|(_, from)| from),
                auxiliary: auxiliary.map(|(_, what)| what),
            },
            evaluation: report
                .as_ref()
                .map(|r| evaluate::card_evaluation(r, format!("auscult eval --model {}/card.toml --data DIR/{data_dir} --split test", self.out.display()))),
            members: members[1..]
                .iter()
                .map(|m| Member { weights: m.weights.clone(), sha256: m.sha256.clone(), epochs_run: m.trained.log.len(), best_epoch: m.trained.best_epoch })
                .collect(),
            decision,
        };
        let card_path = self.out.join("card.toml");
        card.save(&card_path)?;
        // The card and weights are whole: the checkpoints have served.
        for path in members.iter().filter_map(|m| m.checkpoint.as_ref()) {
            std::fs::remove_file(path).map_err(io(path))?;
        }
        Ok(Outcome { card, card_path, report, split: sides.spec, weight_bytes })
    }

    /// The classes `--tune-bias` names, refused before any audio is read
    /// where they cannot work.
    fn tuned_classes(&self, classes: &[String]) -> Result<Option<Vec<usize>>, PlanError> {
        let Some(names) = &self.tune_bias else { return Ok(None) };
        if self.train.select == training::Selection::Last {
            return Err(PlanError::Invalid(format!("--tune-bias {names}: --select last keeps no validation patients to choose it on")));
        }
        decision::tuned_classes(names, classes).map(Some).map_err(|e| PlanError::Invalid(format!("--tune-bias {e}")))
    }

    /// Each member of the ensemble: trained, its log and weights written.
    /// Returns each with its weights file, their sha256 and their size.
    fn train_members(
        &self,
        cnn: &CnnConfig,
        config: &TrainConfig,
        batcher: &MelBatcher,
        (train_set, val_set, folders): (&MelDataset, &MelDataset, &[usize]),
        classes: &[String],
        observer: &mut dyn Observer,
    ) -> Result<Vec<TrainedMember>, PlanError> {
        let device = default_device();
        let steps = config.epochs * config.steps_per_epoch(train_set.len());
        let mut members = Vec::new();
        for run in 0..self.runs.max(1) {
            let suffix = if run == 0 { String::new() } else { format!("-{}", run + 1) };
            let checkpoint = self.resumable.then(|| Checkpointing {
                path: self.out.join(format!("checkpoint{suffix}.bin")),
                run: RunId::new(&self.command, run, train_set.labels(), val_set.labels()),
            });
            if let Some(c) = checkpoint.as_ref().filter(|c| c.path.exists()) {
                observer.message(&format!("continuing from {}", c.path.display()));
            }
            // The first run is what a single-run command has always trained.
            let config = TrainConfig { seed: self.train.seed + run as u64, checkpoint, ..config.clone() };
            let log_path = self.out.join(format!("training-log{suffix}.csv"));
            let mut log = std::fs::File::create(&log_path).map_err(io(&log_path))?;
            writeln!(log, "epoch,train_loss,validation_loss,validation_balanced_accuracy,seconds").map_err(io(&log_path))?;
            observer.run_started(run, self.runs.max(1), steps);
            let mut log_error = None;
            // Both callbacks below tell the observer; one at a time.
            let shared = std::cell::RefCell::new(&mut *observer);
            let trained = training::train(
                cnn,
                &config,
                batcher,
                training::TrainData { train: train_set, validation: val_set, classes, folders },
                &device,
                |e| {
                    // No validation set: empty fields, as pandas and csv readers take missing values.
                    let field = |v: Option<f64>, decimals: usize| v.map_or(String::new(), |v| format!("{v:.decimals$}"));
                    let line = writeln!(
                        log,
                        "{},{:.5},{},{},{:.1}",
                        e.epoch,
                        e.train_loss,
                        field(e.validation_loss, 5),
                        field(e.validation_balanced_accuracy, 4),
                        e.seconds
                    );
                    if let Err(err) = line {
                        log_error.get_or_insert(err);
                    }
                    shared.borrow_mut().epoch(e);
                },
                |step, _| shared.borrow_mut().step(step),
            )?;
            observer.run_finished();
            if let Some(err) = log_error {
                return Err(PlanError::Io { path: log_path, source: err });
            }
            let bytes = weights_bytes(&trained.model).map_err(|e| PlanError::Invalid(format!("saving weights: {e}")))?;
            let file = format!("model{suffix}.bpk");
            let path = self.out.join(&file);
            card::write_private(&path, &bytes).map_err(io(&path))?;
            members.push(TrainedMember {
                trained,
                weights: file,
                sha256: card::sha256_hex(&bytes),
                bytes: bytes.len(),
                checkpoint: config.checkpoint.map(|c| c.path),
            });
        }
        Ok(members)
    }
}

/// The folder each of `indices` into the corpus was recorded into (a
/// PhysioNet site, a corpus joined by --extra-train), numbered from 0 in
/// order of first appearance.
fn folder_ids(corpus: &Corpus, indices: &[usize]) -> Vec<usize> {
    let mut ids: std::collections::HashMap<&Path, usize> = std::collections::HashMap::new();
    indices
        .iter()
        .map(|&i| {
            let folder = corpus.examples[i].path.parent().unwrap_or(Path::new(""));
            let next = ids.len();
            *ids.entry(folder).or_insert(next)
        })
        .collect()
}

/// One member of the ensemble, trained and saved.
struct TrainedMember {
    trained: Trained,
    /// Its weights file in the output directory, their sha256 and size.
    weights: String,
    sha256: String,
    bytes: usize,
    /// Its checkpoint, removed once the card is saved.
    checkpoint: Option<PathBuf>,
}

/// The share of a split's training patients carved out for validation.
const VALIDATION_FRACTION: f64 = 0.15;

/// The validation patients a run with `seed` carves from `train` (its
/// `test` side), as training did: `tune-bias` finds the same ones again.
pub fn validation_carve(corpus: &Corpus, train: &[usize], seed: u64) -> Split {
    validation_from_train(corpus, train, VALIDATION_FRACTION, seed)
}

/// Training, validation and held-out sets as log-mel examples, each file
/// decoded and run through the chain once.
fn features(
    task: &Task,
    corpus: &Corpus,
    sides: &Sides,
    cache_dir: Option<&Path>,
    observer: &mut dyn Observer,
) -> Result<(MelDataset, MelDataset, MelDataset), PlanError> {
    let mut pre = Preprocessor::new(task.features.clone(), task.chain, &plugin_search())?;
    let mut cache = match cache_dir {
        Some(dir) => MelCache::on_disk(dir, &pre).map_err(|e| PlanError::Invalid(format!("--feature-cache: {e}")))?,
        None => MelCache::in_memory(),
    };
    let total = sides.inner.train.len() + sides.inner.test.len() + sides.split.test.len();
    let mut done = 0;
    let mut sets = Vec::with_capacity(3);
    for indices in [&sides.inner.train, &sides.inner.test, &sides.split.test] {
        sets.push(mel_dataset(corpus, indices, &mut pre, &mut cache, |n| observer.features(done + n, total))?);
        done += indices.len();
    }
    if cache_dir.is_some() {
        observer.message(&format!("features: {} recordings read back from the cache, {} computed", cache.read_back, cache.computed));
    }
    let test = sets.pop().unwrap_or_default();
    let validation = sets.pop().unwrap_or_default();
    let train = sets.pop().unwrap_or_default();
    Ok((train, validation, test))
}

/// The weights `init` names, checked against this run: the same conv
/// widths and mel settings, so that the blocks see inputs like those they
/// learnt on; the classifier layer kept only for the same classes and
/// pooling. Also how the card names where the run started.
fn warm_start_from(
    name: &str,
    cnn: &CnnConfig,
    features: &FeatureConfig,
    classes: &[String],
    observer: &mut dyn Observer,
) -> Result<(WarmStart, String), PlanError> {
    let invalid = |what: String| PlanError::Invalid(format!("--init {name}: {what}"));
    let card_path = card::find(name).map_err(|e| invalid(e.to_string()))?;
    let source = ModelCard::load(&card_path).map_err(|e| invalid(e.to_string()))?;
    let at = card_path.display();
    if source.architecture.channels != cnn.channels {
        return Err(PlanError::Invalid(format!(
            "--init {at}: its conv blocks are {:?} wide, this run's (--channels) {:?}",
            source.architecture.channels, cnn.channels
        )));
    }
    let (theirs, ours) = (&source.features, features);
    for (parameter, a, b) in [
        ("sample rate (Hz)", f64::from(theirs.sample_rate), f64::from(ours.sample_rate)),
        ("FFT size (--n-fft)", theirs.n_fft as f64, ours.n_fft as f64),
        ("hop (--hop)", theirs.hop as f64, ours.hop as f64),
        ("mel bands (--n-mels)", theirs.n_mels as f64, ours.n_mels as f64),
        ("lowest mel frequency (Hz)", theirs.fmin, ours.fmin),
        ("highest mel frequency (Hz)", theirs.fmax, ours.fmax),
    ] {
        if a != b {
            return Err(PlanError::Invalid(format!("--init {at}: trained with {parameter} {a}, this run has {b}: its conv blocks learnt on other inputs")));
        }
    }
    let head = source.classes == classes && source.architecture.pooling == cnn.pooling;
    // An ensemble's first member: the others started elsewhere, and one
    // start is what a run takes.
    let (_, bytes) = source.verify_all_weights(&card_path)?.into_iter().next().ok_or_else(|| invalid("no weights".into()))?;
    let start = WarmStart::new(bytes, head, cnn).map_err(|e| PlanError::Invalid(format!("--init {at}: {e}")))?;
    let what = if head { "every layer" } else { "its conv blocks" };
    observer.message(&format!("starting from {at} ({what}; sha256 {})", source.sha256));
    Ok((start, format!("{} ({what}; sha256 {})", source.name, source.sha256)))
}

/// A data directory's last component, as cards and commands name it.
pub fn dir_name(dir: &Path) -> String {
    dir.file_name().map_or("data".into(), |n| n.to_string_lossy().into_owned())
}
