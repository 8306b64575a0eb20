//! Training: Adam on class-weighted cross-entropy (or on plain
//! cross-entropy over class-balanced draws), the augmentation in
//! `data.rs` and optionally mixup, early stopping on a validation set
//! carved from the training patients only (or a fixed count of epochs on
//! all of them), and a per-epoch log. A run starts from a random draw or
//! from another model's weights (`WarmStart`).

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bytes, Device, Int, Tensor, TensorData};

use super::checkpoint::{Best, Checkpoint, CheckpointError, Checkpointing};
use super::data::{Augment, MelBatcher, MelDataset};
use super::inference::{default_device, load_with_ids, warm_start, weights_bytes, weights_with_ids};
use super::loader::{EpochLoad, LoadedBatch};
use super::model::{Cnn, CnnConfig};
use crate::metrics;

/// Adam's step size when a run names none: right for training from a
/// random start; fine-tuning a trained network wants less.
pub const DEFAULT_LEARNING_RATE: f64 = 1e-3;

#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Stop after this many epochs without a better validation score.
    pub patience: usize,
    pub seed: u64,
    pub augment: Option<Augment>,
    /// Stop after this many optimiser steps in all (tests: a few).
    pub max_steps: Option<usize>,
    /// Class-weight exponent (see `MelDataset::class_weights`).
    pub weight_power: f32,
    /// What picks the epoch whose model is kept.
    pub select: Selection,
    /// Random crops of each training example per epoch: a long recording
    /// holds several inputs' worth of sound, and one crop per epoch gives a
    /// small set only a few optimiser steps between validations.
    pub crops_per_epoch: usize,
    /// L2 penalty added to each gradient (Adam's coupled weight decay);
    /// 0 for none.
    pub weight_decay: f32,
    /// How the learning rate moves over the run.
    pub lr_schedule: LrSchedule,
    /// How the rare classes are made to count.
    pub balance: Balance,
    /// Another model's weights to start from instead of a random draw.
    pub init: Option<WarmStart>,
    /// A second target trained beside the classes (none: the classes alone).
    pub auxiliary: Option<Auxiliary>,
    /// Train on mixtures of pairs of inputs (`Mixup`).
    pub mixup: bool,
    /// Save the run's state after every epoch, and continue from it
    /// (none: a run lives in memory only).
    pub checkpoint: Option<Checkpointing>,
}

/// Mixup (Zhang et al. 2018): a batch is mixed with a shuffled copy of
/// itself, each input `λ·x + (1 − λ)·x[partner]`, and the loss is the same
/// mixture of the two inputs' losses. The network then trains on patients
/// that lie between the ones it has and cannot memorise them one by one:
/// with a few dozen training patients the validation loss otherwise rises
/// after the first epochs. λ is drawn uniformly, once per batch: Beta(1, 1),
/// the choice of PANNs.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixup {
    /// Each row's partner: a permutation of the batch's rows.
    partner: Vec<usize>,
    /// The first input's share.
    lambda: f32,
}

impl Mixup {
    /// Draws the partners and share for a batch of `rows`.
    pub fn draw(rows: usize, rng: &mut SmallRng) -> Mixup {
        let mut partner: Vec<usize> = (0..rows).collect();
        partner.shuffle(rng);
        Mixup { partner, lambda: rng.random::<f32>() }
    }

    fn partners(&self, device: &Device) -> Tensor<1, Int> {
        let rows: Vec<i64> = self.partner.iter().map(|&r| r as i64).collect();
        Tensor::<1, Int>::from_data(TensorData::new(rows, [self.partner.len()]), device)
    }

    /// `λ·t + (1 − λ)·t[partner]` along the batch: inputs, or soft targets.
    pub fn mix<const D: usize>(&self, t: Tensor<D>) -> Tensor<D> {
        let partners = self.partners(&t.device());
        t.clone().mul_scalar(self.lambda) + t.select(0, partners).mul_scalar(1.0 - self.lambda)
    }

    /// The loss of mixed inputs' `logits`: `λ·loss(y) + (1 − λ)·loss(y[partner])`.
    pub fn loss(&self, loss_fn: &CrossEntropyLoss, logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
        let partners = labels.clone().select(0, self.partners(&labels.device()));
        loss_fn.forward(logits.clone(), labels).mul_scalar(self.lambda) + loss_fn.forward(logits, partners).mul_scalar(1.0 - self.lambda)
    }
}

/// `t` as the batch's mixup mixes it, or as it is without one.
fn mixed<const D: usize>(mixup: Option<&Mixup>, t: Tensor<D>) -> Tensor<D> {
    match mixup {
        Some(m) => m.mix(t),
        None => t,
    }
}

/// A second target the network learns to name from the same features
/// (multi-task learning), through a classifier layer of its own that is
/// dropped when training ends. A KAUH recording is annotated with the
/// sounds heard (crackles, wheezes) as well as its patient's diagnosis; the
/// sounds are what the diagnosis is heard by, and naming them asks the
/// conv blocks for features a few dozen patients' diagnoses alone may not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Auxiliary {
    /// Classes of the auxiliary target (`MelExample::auxiliary` indexes them).
    pub classes: usize,
    /// Its loss's weight beside the main loss's 1.
    pub weight: f32,
    /// Learnt against, not beside (domain-adversarial training, Ganin et
    /// al. 2016): the layer still learns to name the target, but through a
    /// gradient reversal, so the conv blocks are pushed towards features
    /// that do not tell it (the recording site: `train --site-adversary`).
    pub adversarial: bool,
}

/// Cross-entropy of `logits` against one-hot `targets`, averaged over the
/// rows that have a target: a row of zeros (an example without one) adds
/// nothing, and a batch without any target gives 0.
pub fn auxiliary_loss(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let labelled = targets.clone().sum().clamp_min(1.0);
    (log_softmax(logits, 1) * targets).sum().neg() / labelled
}

/// Another model's weights to start from (`train --init`): its conv
/// blocks, which learnt what sounds look like, and its classifier layer
/// only when it was trained for the same classes. A set of a few dozen
/// patients gives too little to learn filters from scratch.
#[derive(Clone)]
pub struct WarmStart {
    weights: Vec<u8>,
    head: bool,
}

impl WarmStart {
    /// Checks that `weights` (burnpack bytes) fit `cnn`, the architecture
    /// they will start: an error names the tensors that do not.
    pub fn new(weights: Vec<u8>, head: bool, cnn: &CnnConfig) -> Result<WarmStart, String> {
        warm_start(cnn.init(&default_device()), &weights, head)?;
        Ok(WarmStart { weights, head })
    }

    /// Whether the classifier layer starts from the weights too.
    pub fn keeps_head(&self) -> bool {
        self.head
    }
}

impl std::fmt::Debug for WarmStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WarmStart {{ {} bytes of weights, head: {} }}", self.weights.len(), self.head)
    }
}

/// How a class with few training examples is made to count as much as a
/// common one, since balanced accuracy weighs every class alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Balance {
    /// Each example once per epoch, its loss weighted by its class's
    /// weight (inverse frequency, tempered by the task's exponent).
    #[default]
    Weights,
    /// Each epoch's inputs drawn with replacement, a class chosen uniformly
    /// and then one of its examples, under an unweighted loss. A rare
    /// class's few examples come round several times an epoch, each time
    /// with fresh augmentation, where weighting scales up the gradient of
    /// one view of each.
    Sampling,
    /// Each epoch's inputs drawn with replacement: a recording folder (a
    /// site, a corpus) in proportion to its examples, then a class
    /// uniformly among those it holds, then one of its examples, under an
    /// unweighted loss. Within every folder the classes come equally often,
    /// so where a recording was made is no clue to its class, which it is
    /// where one site's recordings are mostly abnormal and another's mostly
    /// normal.
    FolderSampling,
}

/// The training set's indices grouped as the balancing draws them.
struct Draws {
    /// Each present class's examples.
    by_class: Vec<Vec<usize>>,
    /// Each folder's example count and its present classes' examples.
    by_folder: Vec<(usize, Vec<Vec<usize>>)>,
}

impl Draws {
    /// `folders`: each example's folder (empty: all in one).
    fn new(labels: &[usize], folders: &[usize]) -> Draws {
        let by_class = examples_by_class(labels.iter().copied());
        let mut members: Vec<Vec<usize>> = Vec::new();
        for i in 0..labels.len() {
            let f = folders.get(i).copied().unwrap_or(0);
            if members.len() <= f {
                members.resize_with(f + 1, Vec::new);
            }
            members[f].push(i);
        }
        let by_folder = members
            .into_iter()
            .filter(|m| !m.is_empty())
            .map(|m| {
                let classes = examples_by_class(m.iter().map(|&i| labels[i])).into_iter().map(|c| c.into_iter().map(|j| m[j]).collect()).collect();
                (m.len(), classes)
            })
            .collect();
        Draws { by_class, by_folder }
    }
}

impl Balance {
    /// Refills `order`, one epoch's inputs long and holding the previous
    /// epoch's, with the indices that train next.
    fn epoch_order(self, order: &mut [usize], draws: &Draws, rng: &mut SmallRng) {
        let pick = |classes: &[Vec<usize>], rng: &mut SmallRng| {
            let class = &classes[rng.random_range(0..classes.len())];
            class[rng.random_range(0..class.len())]
        };
        match self {
            Balance::Weights => order.shuffle(rng),
            // One folder: the same draws as class-balanced sampling.
            Balance::Sampling => order.iter_mut().for_each(|slot| *slot = pick(&draws.by_class, rng)),
            Balance::FolderSampling if draws.by_folder.len() <= 1 => order.iter_mut().for_each(|slot| *slot = pick(&draws.by_class, rng)),
            Balance::FolderSampling => {
                let total: usize = draws.by_folder.iter().map(|(n, _)| n).sum();
                for slot in order.iter_mut() {
                    // A folder in proportion to its examples.
                    let mut at = rng.random_range(0..total);
                    let mut chosen = &draws.by_folder[0].1;
                    for (n, classes) in &draws.by_folder {
                        if at < *n {
                            chosen = classes;
                            break;
                        }
                        at -= n;
                    }
                    *slot = pick(chosen, rng);
                }
            }
        }
    }

    /// Whether the loss weighs the classes (else the draws balance them).
    fn weighs_the_loss(self) -> bool {
        self == Balance::Weights
    }
}

/// Each present class's example indices (classes with none left out).
fn examples_by_class(labels: impl Iterator<Item = usize>) -> Vec<Vec<usize>> {
    let mut by_class: Vec<Vec<usize>> = Vec::new();
    for (i, label) in labels.enumerate() {
        if by_class.len() <= label {
            by_class.resize_with(label + 1, Vec::new);
        }
        by_class[label].push(i);
    }
    by_class.retain(|c| !c.is_empty());
    by_class
}

/// The learning rate over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LrSchedule {
    /// `learning_rate` at every step.
    #[default]
    Constant,
    /// Cosine annealing from `learning_rate` down to 0 over every step of
    /// `epochs` (SGDR without restarts). At a constant rate the last
    /// epochs' weights still jump, and with them the validation figure
    /// that picks one; small final steps let them settle.
    Cosine,
}

impl LrSchedule {
    /// The scheduler for a run of `steps` optimiser steps.
    fn scheduler(self, learning_rate: f64, steps: usize) -> ModuleLrScheduler {
        match self {
            LrSchedule::Constant => ModuleLrScheduler::new(learning_rate),
            // Burn refuses a rate outside (0, 1] or no steps: both are kept
            // inside here, so its refusal (which cannot come) falls back to
            // the constant rate rather than a panic in the library.
            LrSchedule::Cosine => {
                let rate = learning_rate.clamp(f64::MIN_POSITIVE, 1.0);
                CosineAnnealingLrSchedulerConfig::new(rate, steps.max(1)).init().map_or_else(|_| ModuleLrScheduler::new(rate), Into::into)
            }
        }
    }
}

/// The validation figure that picks the epoch to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Selection {
    /// Highest balanced accuracy: what the model is judged on, but a step
    /// function of a few validation patients.
    #[default]
    BalancedAccuracy,
    /// Lowest class-weighted cross-entropy: moves with every probability,
    /// so it is steadier on a small validation set.
    Loss,
    /// The last epoch, with no validation set at all: every training
    /// patient trains and the epoch count, fixed beforehand, is the only
    /// stop. Where a handful of validation patients make either figure
    /// jump from epoch to epoch, they pick an epoch partly by chance and
    /// are missed from the training.
    Last,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 40,
            batch_size: 32,
            learning_rate: DEFAULT_LEARNING_RATE,
            patience: 8,
            seed: 1,
            augment: Some(Augment::default()),
            max_steps: None,
            weight_power: 1.0,
            select: Selection::default(),
            crops_per_epoch: 1,
            weight_decay: 0.0,
            lr_schedule: LrSchedule::default(),
            balance: Balance::default(),
            init: None,
            auxiliary: None,
            mixup: false,
            checkpoint: None,
        }
    }
}

impl TrainConfig {
    /// Optimiser steps in one epoch over `examples` training examples.
    pub fn steps_per_epoch(&self, examples: usize) -> usize {
        (examples * self.crops_per_epoch.max(1)).div_ceil(self.batch_size.max(1))
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    /// The training loss (the main loss plus the weighted auxiliary one).
    pub train_loss: f64,
    /// Class-weighted cross-entropy of the validation predictions (none
    /// without a validation set).
    pub validation_loss: Option<f64>,
    pub validation_balanced_accuracy: Option<f64>,
    pub seconds: f64,
}

pub struct Trained {
    /// The kept epoch's model (by `TrainConfig::select`), in inference mode.
    pub model: Cnn,
    pub log: Vec<EpochLog>,
    pub best_epoch: usize,
}

/// What a model trains and stops on.
pub struct TrainData<'a> {
    pub train: &'a MelDataset,
    pub validation: &'a MelDataset,
    pub classes: &'a [String],
    /// Each training example's recording folder, numbered from 0, for
    /// `Balance::FolderSampling` (empty: all in one).
    pub folders: &'a [usize],
}

/// Trains on `train`, keeping the epoch that `config.select` rates best on
/// `validation` (the last, for `Selection::Last` or an empty validation
/// set). `on_epoch` sees each epoch's log (progress, files),
/// `on_step` each optimiser step's loss. With `config.checkpoint` the
/// run's state is saved after every epoch and a saved state is continued
/// from (its epochs' logs are handed to `on_epoch` again first); the only
/// errors are a checkpoint's.
pub fn train(
    cnn: &CnnConfig,
    config: &TrainConfig,
    batcher: &MelBatcher,
    data: TrainData<'_>,
    device: &Device,
    mut on_epoch: impl FnMut(&EpochLog),
    mut on_step: impl FnMut(usize, f64),
) -> Result<Trained, CheckpointError> {
    let TrainData { train, validation, classes, folders } = data;
    let autodiff = device.clone().autodiff();
    // The backend's generator draws the initial weights and the dropout
    // masks: seeded, the same command trains the same network, and the
    // members of `--runs` (seeds S, S+1, ...) still start apart. Some
    // backends seed globally, so this belongs right before the draws.
    autodiff.seed(config.seed);
    let mut model = cnn.init(&autodiff);
    if let Some(init) = &config.init {
        // Drawn first all the same, so that a fresh head is the one a cold
        // start of the same seed would have.
        model = warm_start(model, &init.weights, init.head).expect("WarmStart::new checked the weights against this architecture");
    }
    if let Some(auxiliary) = &config.auxiliary {
        model = model.with_auxiliary_head(auxiliary.classes, &autodiff);
    }
    let decay = (config.weight_decay > 0.0).then(|| WeightDecayConfig::new(config.weight_decay));
    let mut optimizer = AdamConfig::new().with_weight_decay(decay).init();
    // The validation loss keeps the class weights either way, so that
    // both ways of balancing pick their epoch by the same figure.
    let weights = train.class_weights(classes.len(), config.weight_power);
    let loss_weights = if config.balance.weighs_the_loss() { weights.clone() } else { vec![1.0; classes.len()] };
    let loss_fn = CrossEntropyLossConfig::new().with_weights(Some(loss_weights)).init(&autodiff);
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..train.len()).cycle().take(train.len() * config.crops_per_epoch.max(1)).collect();
    let draws = Draws::new(&train.labels().collect::<Vec<_>>(), folders);
    // The schedule spans the whole of `epochs` (or `max_steps`), whether or
    // not early stopping ends the run before.
    let planned_steps = (config.epochs * config.steps_per_epoch(train.len())).min(config.max_steps.unwrap_or(usize::MAX));
    let mut schedule = config.lr_schedule.scheduler(config.learning_rate, planned_steps);
    let mut best: Option<(Best, Cnn)> = None;
    let mut log = Vec::new();
    let mut steps = 0usize;
    let mut first_epoch = 1;
    let resumed = match &config.checkpoint {
        Some(c) => Checkpoint::load(&c.path, &c.run)?.map(|saved| (saved, &c.path)),
        None => None,
    };
    if let Some((saved, path)) = resumed {
        let corrupt = |reason: String| CheckpointError::Corrupt { path: path.clone(), reason };
        // The parameter ids come back with the weights, and Adam's moments
        // are keyed by them.
        model = load_with_ids(model, &saved.model).map_err(|e| corrupt(format!("network: {e}")))?;
        optimizer = optimizer.from_bytes(Bytes::from_bytes_vec(saved.optimizer)).map_err(|e| corrupt(format!("optimiser: {e:?}")))?;
        if let Some(b) = saved.best {
            let kept = warm_start(cnn.init(device), &saved.best_model, true).map_err(|e| corrupt(format!("best network: {e}")))?;
            best = Some((b, kept));
        }
        if saved.order.len() != order.len() {
            return Err(corrupt(format!("an epoch of {} inputs, not {}", saved.order.len(), order.len())));
        }
        order = saved.order;
        for _ in 0..saved.steps {
            schedule.step();
        }
        steps = saved.steps;
        saved.log.iter().for_each(&mut on_epoch);
        log = saved.log;
        first_epoch = if saved.done { config.epochs + 1 } else { saved.epoch + 1 };
    }
    let epoch_log = |model: &Cnn, epoch: usize, train_loss: f64, started: std::time::Instant| {
        let (validation_loss, validation_balanced_accuracy) = validate(model, batcher, validation, classes, &weights).unzip();
        EpochLog { epoch, train_loss, validation_loss, validation_balanced_accuracy, seconds: started.elapsed().as_secs_f64() }
    };
    for epoch in first_epoch..=config.epochs {
        if config.checkpoint.is_some() && epoch > 1 {
            // Burn's generator (the dropout masks) cannot be saved, so a
            // resumable run seeds it, and the epoch's own draws, from the
            // seed and the epoch: continued from a checkpoint it draws
            // what it would have drawn uninterrupted.
            let seed = epoch_seed(config.seed, epoch);
            autodiff.seed(seed);
            rng = SmallRng::seed_from_u64(seed);
        }
        let started = std::time::Instant::now();
        config.balance.epoch_order(&mut order, &draws, &mut rng);
        let (mut loss_sum, mut batches) = (0.0f64, 0usize);
        let mut out_of_steps = false;
        let load = EpochLoad { dataset: train, batcher, order: &order, batch_size: config.batch_size, augment: config.augment.as_ref(), mixup: config.mixup };
        // The next batches are assembled on the loader's thread while this
        // one trains; the generator comes back for the next epoch's order.
        (model, rng) = std::thread::scope(|scope| {
            let loader = load.start(scope, rng);
            let mut model = model;
            while let Some(LoadedBatch { indices, data, mixup }) = loader.next_batch() {
                let (x, y) = batcher.tensors(data, &autodiff);
                let x = mixed(mixup.as_ref(), x);
                let (logits, auxiliary_logits) = model.forward_with_auxiliary(x, config.auxiliary.is_some_and(|a| a.adversarial));
                let mut loss = match &mixup {
                    Some(m) => m.loss(&loss_fn, logits, y),
                    None => loss_fn.forward(logits, y),
                };
                if let (Some(auxiliary), Some(auxiliary_logits)) = (&config.auxiliary, auxiliary_logits) {
                    let targets = mixed(mixup.as_ref(), batcher.auxiliary_targets(train, &indices, auxiliary.classes, &autodiff));
                    loss = loss + auxiliary_loss(auxiliary_logits, targets).mul_scalar(auxiliary.weight);
                }
                let value = f64::from(loss.clone().into_scalar::<f32>());
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(schedule.step(), model, grads);
                loss_sum += value;
                batches += 1;
                steps += 1;
                on_step(steps, value);
                if config.max_steps.is_some_and(|m| steps >= m) {
                    out_of_steps = true;
                    break;
                }
            }
            (model, loader.finish())
        });
        let entry = epoch_log(&model, epoch, loss_sum / batches.max(1) as f64, started);
        on_epoch(&entry);
        // A run out of steps stops where it is, unscored; without a score
        // (`Last`, or no validation set) the last epoch's model is kept.
        let score = match config.select {
            _ if out_of_steps => None,
            Selection::BalancedAccuracy => entry.validation_balanced_accuracy,
            Selection::Loss => entry.validation_loss.map(|l| -l),
            Selection::Last => None,
        };
        log.push(entry);
        let mut stop = out_of_steps || epoch == config.epochs;
        if let Some(score) = score {
            if best.as_ref().is_none_or(|(b, _)| score > b.score) {
                best = Some((Best { score, epoch }, model.valid()));
            } else if best.as_ref().is_some_and(|(b, _)| epoch - b.epoch >= config.patience) {
                stop = true;
            }
        }
        if let Some(checkpointing) = &config.checkpoint {
            let io = |e: String| CheckpointError::Io { path: checkpointing.path.clone(), source: std::io::Error::other(e) };
            let checkpoint = Checkpoint {
                epoch,
                steps,
                done: stop,
                order: order.clone(),
                best: best.as_ref().map(|(b, _)| *b),
                log: log.clone(),
                model: weights_with_ids(&model).map_err(io)?,
                optimizer: optimizer.into_bytes().map_err(|e| io(format!("{e:?}")))?.to_vec(),
                best_model: best.as_ref().map(|(_, m)| weights_bytes(m)).transpose().map_err(io)?.unwrap_or_default(),
            };
            checkpoint.save(&checkpointing.path, &checkpointing.run)?;
        }
        if stop {
            break;
        }
    }
    let (model, best_epoch) = match best {
        Some((b, m)) => (m, b.epoch),
        None => (model.valid(), log.last().map_or(0, |l| l.epoch)),
    };
    // The auxiliary layer served the training only: the model saved and
    // used is the plain network.
    Ok(Trained { model: model.without_auxiliary_head(), log, best_epoch })
}

/// Each epoch's seed in a resumable run: the run's seed and the epoch
/// number through SplitMix64's mixer, so neighbouring seeds and epochs
/// draw far apart.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The validation set's class-weighted loss and balanced accuracy; none for
/// an empty set.
fn validate(model: &Cnn, batcher: &MelBatcher, validation: &MelDataset, classes: &[String], weights: &[f32]) -> Option<(f64, f64)> {
    if validation.is_empty() {
        return None;
    }
    let (truth, probs) = predict_dataset(&model.valid(), batcher, validation);
    let balanced_accuracy = metrics::report(classes, &truth, &probs, false).balanced_accuracy;
    Some((weighted_cross_entropy(&truth, &probs, weights), balanced_accuracy))
}

/// Cross-entropy of probabilities weighted per true class and normalised by
/// the weights, as Burn's weighted loss is (0 for no examples).
fn weighted_cross_entropy(truth: &[usize], probs: &[Vec<f32>], weights: &[f32]) -> f64 {
    let (mut sum, mut total) = (0.0f64, 0.0f64);
    for (&label, p) in truth.iter().zip(probs) {
        let w = f64::from(weights.get(label).copied().unwrap_or(1.0));
        sum += -w * f64::from(p[label]).max(1e-7).ln();
        total += w;
    }
    if total > 0.0 {
        sum / total
    } else {
        0.0
    }
}

/// Labels and probabilities for every example (no augmentation; each the
/// mean over its windows, as at inference).
pub fn predict_dataset(model: &Cnn, batcher: &MelBatcher, dataset: &MelDataset) -> (Vec<usize>, Vec<Vec<f32>>) {
    let device = model.devices().into_iter().next().unwrap_or_else(super::inference::default_device);
    let probs = super::inference::predict_windows(model, batcher, dataset.examples.iter().map(|e| &e.mel), &device);
    (dataset.labels().collect(), probs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::data::MelExample;
    use crate::model::features::LogMel;
    use crate::model::inference::weights_bytes;
    use crate::model::test_support::one_at_a_time;
    use burn::tensor::{Distribution, Tensor, TensorData};

    /// `n` made-up 8-band inputs of `frames` frames, two classes in turn,
    /// cropped to 8 frames.
    fn tiny_set(n: usize, frames: usize) -> (MelDataset, MelBatcher, [String; 2]) {
        let examples = (0..n)
            .map(|i| MelExample {
                mel: LogMel { n_mels: 8, data: (0..8 * frames).map(|j| ((i * 8 * frames + j) % 17) as f32 - 60.0).collect() },
                label: i % 2,
                auxiliary: None,
            })
            .collect();
        let batcher = MelBatcher { n_mels: 8, frames: 8, mean: -52.0, std: 5.0, per_example: false, per_band: false };
        (MelDataset { examples }, batcher, ["a".to_string(), "b".to_string()])
    }

    #[test]
    fn each_crop_per_epoch_is_one_more_pass_over_the_training_set() {
        let _one_at_a_time = one_at_a_time();
        let (set, batcher, classes) = tiny_set(5, 12);
        let steps_in_one_epoch = |crops| {
            let config = TrainConfig { epochs: 1, batch_size: 2, crops_per_epoch: crops, ..TrainConfig::default() };
            let mut steps = 0;
            let data = TrainData { train: &set, validation: &set, classes: &classes, folders: &[] };
            train(&CnnConfig::new(2).with_channels(vec![2]), &config, &batcher, data, &super::super::inference::default_device(), |_| {}, |s, _| steps = s)
                .unwrap();
            // What the progress bar and the schedule plan for is what ran.
            assert_eq!(config.steps_per_epoch(set.len()), steps);
            steps
        };
        assert_eq!(steps_in_one_epoch(1), 3, "5 inputs in batches of 2");
        assert_eq!(steps_in_one_epoch(3), 8, "15 crops in batches of 2");
    }

    #[test]
    fn an_interrupted_resumable_run_continued_trains_what_an_uninterrupted_one_does() {
        use crate::model::checkpoint::{Checkpointing, RunId};
        let _one_at_a_time = one_at_a_time();
        let (set, batcher, classes) = tiny_set(10, 12);
        let device = super::super::inference::default_device();
        // Dropout, augmentation, mixup and a cosine schedule: every source
        // of randomness and state a run carries from epoch to epoch.
        let cnn = CnnConfig::new(2).with_channels(vec![2, 4]).with_dropout(0.5);
        let dir = tempfile::tempdir().unwrap();
        let resumable = |name: &str| TrainConfig {
            epochs: 4,
            batch_size: 3,
            patience: 10,
            mixup: true,
            lr_schedule: LrSchedule::Cosine,
            checkpoint: Some(Checkpointing { path: dir.path().join(name), run: RunId::new("test", 0, set.labels(), set.labels()) }),
            ..TrainConfig::default()
        };
        assert!(resumable("a").augment.is_some(), "the default config augments");
        let data = || TrainData { train: &set, validation: &set, classes: &classes, folders: &[] };
        let run = |config: &TrainConfig, on_step: &mut dyn FnMut(usize)| {
            let mut epochs = Vec::new();
            let trained = train(&cnn, config, &batcher, data(), &device, |e| epochs.push(e.epoch), |s, _| on_step(s)).unwrap();
            (weights_bytes(&trained.model).unwrap(), trained.best_epoch, trained.log, epochs)
        };
        let without_seconds = |log: Vec<EpochLog>| log.into_iter().map(|e| EpochLog { seconds: 0.0, ..e }).collect::<Vec<_>>();

        let (whole, whole_best, whole_log, _) = run(&resumable("whole.bin"), &mut |_| {});
        assert_eq!(whole_log.len(), 4);

        // Cut off in the third epoch's second step, as a lost session would.
        let spe = resumable("cut.bin").steps_per_epoch(set.len());
        let cut = resumable("cut.bin");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(&cut, &mut |s| assert!(s != 2 * spe + 2, "interrupted"));
        }));
        assert!(outcome.is_err());
        let mut steps = Vec::new();
        let (resumed, resumed_best, resumed_log, seen) = run(&cut, &mut |s| steps.push(s));
        assert_eq!(steps.first(), Some(&(2 * spe + 1)), "continues after the second epoch's last step");
        assert_eq!(seen, vec![1, 2, 3, 4], "the saved epochs' logs are told again first");
        assert_eq!(resumed, whole, "the same weights, byte for byte");
        assert_eq!((resumed_best, without_seconds(resumed_log)), (whole_best, without_seconds(whole_log.clone())));

        // A finished run's checkpoint gives its model back without training.
        let mut more = 0;
        let (again, ..) = run(&cut, &mut |_| more += 1);
        assert_eq!((again, more), (whole, 0));

        // A checkpoint is never another run's.
        let other = TrainConfig {
            checkpoint: Some(Checkpointing { path: dir.path().join("cut.bin"), run: RunId::new("other", 0, set.labels(), set.labels()) }),
            ..cut
        };
        let err = train(&cnn, &other, &batcher, data(), &device, |_| {}, |_, _| {}).err().unwrap();
        assert!(err.to_string().contains("cut.bin") && err.to_string().contains("another run"), "{err}");
    }

    #[test]
    fn last_keeps_the_final_epoch_and_needs_no_validation_set() {
        let _one_at_a_time = one_at_a_time();
        let (set, batcher, classes) = tiny_set(6, 8);
        let empty = MelDataset { examples: Vec::new() };
        let device = super::super::inference::default_device();
        let cnn = CnnConfig::new(2).with_channels(vec![2]);
        // Patience 1 would stop a scored run early; `Last` has no score to stop on.
        let config = TrainConfig { epochs: 4, batch_size: 2, patience: 1, select: Selection::Last, augment: None, ..TrainConfig::default() };
        let trained =
            train(&cnn, &config, &batcher, TrainData { train: &set, validation: &empty, classes: &classes, folders: &[] }, &device, |_| {}, |_, _| {}).unwrap();
        assert_eq!((trained.log.len(), trained.best_epoch), (4, 4));
        assert!(trained.log.iter().all(|e| e.validation_loss.is_none() && e.validation_balanced_accuracy.is_none()), "{:?}", trained.log);
        // Kept is the model after the last step: what a 4-epoch run scored by
        // loss on the training set itself ends with, whichever epoch it keeps.
        let scored = TrainConfig { select: Selection::Loss, patience: 10, ..config };
        let reference =
            train(&cnn, &scored, &batcher, TrainData { train: &set, validation: &set, classes: &classes, folders: &[] }, &device, |_| {}, |_, _| {}).unwrap();
        let last_loss = reference.log.last().and_then(|e| e.validation_loss).unwrap();
        let (truth, probs) = predict_dataset(&trained.model, &batcher, &set);
        let weights = set.class_weights(classes.len(), config.weight_power);
        assert!((weighted_cross_entropy(&truth, &probs, &weights) - last_loss).abs() < 1e-9, "not the last epoch's model");
    }

    #[test]
    fn the_cosine_schedule_falls_from_the_rate_to_nearly_nothing_over_the_planned_steps() {
        let rates = |schedule: LrSchedule| {
            let mut s = schedule.scheduler(1e-3, 10);
            (0..10).map(|_| s.step().base()).collect::<Vec<f64>>()
        };
        assert_eq!(rates(LrSchedule::Constant), vec![1e-3; 10]);
        let cosine = rates(LrSchedule::Cosine);
        assert_eq!(cosine[0], 1e-3);
        assert!(cosine.windows(2).all(|w| w[1] < w[0]), "{cosine:?}");
        // Halfway down at the midpoint, and the last step a few percent of the rate.
        assert!((cosine[5] - 0.5e-3).abs() < 1e-12, "{cosine:?}");
        assert!(cosine[9] < 0.03e-3, "{cosine:?}");
    }

    /// The validation losses of a 2-channel network trained with `config`
    /// on a tiny set that is its own validation set (no augmentation, so
    /// only what `config` changes can move two runs apart).
    fn validation_losses(config: TrainConfig) -> Vec<Option<f64>> {
        let _one_at_a_time = one_at_a_time();
        let (set, batcher, classes) = tiny_set(6, 8);
        let config = TrainConfig { batch_size: 2, augment: None, ..config };
        let data = TrainData { train: &set, validation: &set, classes: &classes, folders: &[] };
        let trained =
            train(&CnnConfig::new(2).with_channels(vec![2]), &config, &batcher, data, &super::super::inference::default_device(), |_| {}, |_, _| {}).unwrap();
        trained.log.iter().map(|e| e.validation_loss).collect()
    }

    #[test]
    fn the_schedule_reaches_the_optimiser() {
        let run = |lr_schedule| validation_losses(TrainConfig { epochs: 3, lr_schedule, ..TrainConfig::default() });
        // Same seed, same data: the first step has the same rate either way,
        // so only the later, smaller steps can move the runs apart.
        assert_eq!(run(LrSchedule::Constant), run(LrSchedule::Constant));
        assert_ne!(run(LrSchedule::Constant), run(LrSchedule::Cosine));
    }

    #[test]
    fn balanced_sampling_draws_every_class_about_equally_often() {
        // Nine examples of one class and one of another, as a rare
        // diagnosis is among a fold's training patients.
        let labels = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        let draws = Draws::new(&labels, &[]);
        assert_eq!(draws.by_class, vec![vec![0, 1, 2, 3, 5, 6, 7, 8, 9], vec![4]]);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut order: Vec<usize> = (0..labels.len()).collect();
        let mut rare = 0;
        for _ in 0..1000 {
            Balance::Sampling.epoch_order(&mut order, &draws, &mut rng);
            assert_eq!(order.len(), labels.len());
            rare += order.iter().filter(|&&i| labels[i] == 1).count();
        }
        // Half of the 10 000 draws, where shuffling gives it one in ten.
        assert!((4700..=5300).contains(&rare), "{rare} of 10000 draws were the rare class");
        // Weighting instead keeps every example once an epoch.
        let mut order: Vec<usize> = (0..labels.len()).collect();
        Balance::Weights.epoch_order(&mut order, &draws, &mut rng);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..labels.len()).collect::<Vec<_>>());
    }

    #[test]
    fn folder_sampling_balances_the_classes_within_each_folder_and_keeps_the_folders_shares() {
        // Two sites, as PhysioNet's: the first 30 recordings, 24 of them
        // abnormal (1); the second 70, 7 abnormal. Shuffled, the site says
        // the class; drawn per folder, it does not.
        let labels: Vec<usize> = (0..100).map(|i| usize::from(if i < 30 { i < 24 } else { i < 37 })).collect();
        let folders: Vec<usize> = (0..100).map(|i| usize::from(i >= 30)).collect();
        let draws = Draws::new(&labels, &folders);
        let mut rng = SmallRng::seed_from_u64(3);
        let mut order: Vec<usize> = (0..labels.len()).collect();
        let mut counts = [[0usize; 2]; 2];
        for _ in 0..200 {
            Balance::FolderSampling.epoch_order(&mut order, &draws, &mut rng);
            order.iter().for_each(|&i| counts[folders[i]][labels[i]] += 1);
        }
        let total = 200.0 * labels.len() as f64;
        for (folder, share) in [(0, 0.3), (1, 0.7)] {
            let [normal, abnormal] = counts[folder].map(|c| c as f64);
            assert!(((normal + abnormal) / total - share).abs() < 0.01, "folder {folder}: {counts:?}");
            assert!((abnormal / (normal + abnormal) - 0.5).abs() < 0.01, "folder {folder}: {counts:?}");
        }
        // A folder of one class gives that class only: nothing to balance.
        let one = Draws::new(&[0, 0, 1, 1], &[0, 0, 1, 1]);
        Balance::FolderSampling.epoch_order(&mut order, &one, &mut rng);
        assert!(order.iter().all(|&i| i < 4));
    }

    #[test]
    fn balanced_sampling_reaches_the_trainer() {
        let run = |balance| validation_losses(TrainConfig { epochs: 2, balance, ..TrainConfig::default() });
        assert_eq!(run(Balance::Weights), run(Balance::Weights));
        assert_ne!(run(Balance::Weights), run(Balance::Sampling));
        // One folder: folder sampling is class-balanced sampling.
        assert_eq!(run(Balance::FolderSampling), run(Balance::Sampling));
    }

    #[test]
    fn weight_decay_reaches_the_optimiser() {
        let run = |weight_decay| validation_losses(TrainConfig { epochs: 2, weight_decay, ..TrainConfig::default() });
        // Same seed, same data: only the penalty can move the weights apart.
        assert_eq!(run(0.0), run(0.0));
        assert_ne!(run(0.0), run(0.5));
    }

    #[test]
    fn a_warm_start_takes_the_conv_blocks_and_the_head_only_when_asked() {
        let _one_at_a_time = one_at_a_time();
        let device = default_device();
        let config = CnnConfig::new(2).with_channels(vec![2, 4]);
        device.seed(1);
        let source = config.init(&device);
        let bytes = weights_bytes(&source).unwrap();
        let x = Tensor::<4>::random([3, 1, 16, 24], Distribution::Default, &device);
        let same = |a: Tensor<2>, b: Tensor<2>| a.into_data().try_to_vec::<f32>().unwrap() == b.into_data().try_to_vec::<f32>().unwrap();
        let fresh = config.init(&device);
        assert!(!same(fresh.embed(x.clone()), source.embed(x.clone())), "two seeds, two networks");

        let whole = warm_start(fresh.clone(), &bytes, true).unwrap();
        assert!(same(whole.forward(x.clone()), source.forward(x.clone())));
        let blocks = warm_start(fresh.clone(), &bytes, false).unwrap();
        assert!(same(blocks.embed(x.clone()), source.embed(x.clone())));
        assert!(!same(blocks.forward(x.clone()), source.forward(x.clone())), "the head stays fresh");

        // Other classes: the blocks still fit, a head would not.
        let three = CnnConfig::new(3).with_channels(vec![2, 4]).init(&device);
        assert!(same(warm_start(three.clone(), &bytes, false).unwrap().embed(x.clone()), source.embed(x.clone())));
        let err = warm_start(three, &bytes, true).unwrap_err();
        assert!(err.contains("head"), "{err}");
        // Other widths: nothing fits, and the error says where.
        let err = warm_start(CnnConfig::new(2).with_channels(vec![2, 8]).init(&device), &bytes, false).unwrap_err();
        assert!(err.contains("blocks.1"), "{err}");
    }

    #[test]
    fn the_auxiliary_loss_counts_only_the_examples_that_have_a_target() {
        let device = default_device();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0, 0.0, 5.0], [2, 2]), &device);
        let loss = |targets: Vec<f32>| auxiliary_loss(logits.clone(), Tensor::<2>::from_data(TensorData::new(targets, [2, 2]), &device)).into_scalar::<f32>();
        // The first row's target is class 0: -ln(e² / (e² + 1)).
        let first = (1.0f32 + (-2.0f32).exp()).ln();
        assert!((loss(vec![1.0, 0.0, 0.0, 0.0]) - first).abs() < 1e-6);
        // Both rows: the mean of the two, not the sum.
        let second = (1.0f32 + (-5.0f32).exp()).ln();
        assert!((loss(vec![1.0, 0.0, 0.0, 1.0]) - (first + second) / 2.0).abs() < 1e-6);
        // The wrong class costs more; no target at all costs nothing.
        assert!(loss(vec![0.0, 1.0, 0.0, 0.0]) > 2.0);
        assert_eq!(loss(vec![0.0; 4]), 0.0);
    }

    #[test]
    fn an_auxiliary_target_reaches_the_trainer_and_leaves_a_plain_network() {
        // Every run has the layer: Burn draws a layer's weights when it is
        // first used, so the auxiliary layer (used first in
        // `forward_with_auxiliary`) moves the classifier layer's draw, and
        // only runs that both have it can be told apart by their targets.
        let run = |labels: fn(usize) -> Option<usize>| {
            let _one_at_a_time = one_at_a_time();
            let (mut set, batcher, classes) = tiny_set(6, 8);
            for (i, e) in set.examples.iter_mut().enumerate() {
                e.auxiliary = labels(i);
            }
            let cnn = CnnConfig::new(2).with_channels(vec![2]);
            let auxiliary = Some(Auxiliary { classes: 3, weight: 1.0, adversarial: false });
            let config = TrainConfig { epochs: 2, batch_size: 2, augment: None, auxiliary, ..TrainConfig::default() };
            let data = TrainData { train: &set, validation: &set, classes: &classes, folders: &[] };
            let trained = train(&cnn, &config, &batcher, data, &default_device(), |_| {}, |_, _| {}).unwrap();
            let losses: Vec<Option<f64>> = trained.log.iter().map(|e| e.validation_loss).collect();
            (losses, trained.model, cnn)
        };
        let (with_targets, model, cnn) = run(|i| Some(i % 3));
        assert_eq!(run(|i| Some(i % 3)).0, with_targets, "seeded");
        // Without a single target the auxiliary loss is 0 and only the
        // classes train; the targets move the shared weights.
        let (without_targets, ..) = run(|_| None);
        assert_ne!(with_targets, without_targets, "the auxiliary loss moved the shared weights");
        // What is kept has no auxiliary layer: its weights fill a plain
        // network exactly, every tensor used.
        assert_eq!(model.num_params(), cnn.init(&default_device()).num_params());
        let bytes = weights_bytes(&model).unwrap();
        warm_start(cnn.init(&default_device()), &bytes, true).unwrap();
    }

    #[test]
    fn mixup_mixes_each_row_with_its_partner_and_the_losses_in_the_same_share() {
        let device = default_device();
        let mixup = Mixup { partner: vec![1, 0, 2], lambda: 0.25 };
        let x = Tensor::<2>::from_data(TensorData::new(vec![4.0f32, 0.0, 0.0, 8.0, 1.0, 1.0], [3, 2]), &device);
        let mixed = mixup.mix(x).into_data().try_to_vec::<f32>().unwrap();
        // Row 0 is a quarter of itself and three quarters of row 1; row 2 is its own partner.
        assert_eq!(mixed, vec![1.0, 6.0, 3.0, 2.0, 1.0, 1.0]);

        let logits = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0, 0.0, 1.0, 3.0, 0.0], [3, 2]), &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 1], [3]), &device);
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let loss = mixup.loss(&loss_fn, logits.clone(), labels).into_scalar::<f32>();
        // -ln softmax by hand: each row's loss for class 0 and class 1.
        let ce = |row: [f32; 2], class: usize| (row[0].exp() + row[1].exp()).ln() - row[class];
        let rows = [[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]];
        let own = (ce(rows[0], 0) + ce(rows[1], 1) + ce(rows[2], 1)) / 3.0;
        let partners = (ce(rows[0], 1) + ce(rows[1], 0) + ce(rows[2], 1)) / 3.0;
        assert!((loss - (0.25 * own + 0.75 * partners)).abs() < 1e-5, "{loss} against {}", 0.25 * own + 0.75 * partners);

        // A draw pairs every row with one partner, and its share is a fraction.
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..20 {
            let m = Mixup::draw(5, &mut rng);
            let mut rows = m.partner.clone();
            rows.sort_unstable();
            assert_eq!(rows, vec![0, 1, 2, 3, 4]);
            assert!((0.0..1.0).contains(&m.lambda), "{}", m.lambda);
        }
    }

    #[test]
    fn mixup_reaches_the_trainer() {
        let run = |mixup| validation_losses(TrainConfig { epochs: 2, mixup, ..TrainConfig::default() });
        assert_eq!(run(true), run(true), "seeded");
        assert_ne!(run(false), run(true));
    }

    #[test]
    fn a_warm_start_reaches_the_trainer() {
        let cnn = CnnConfig::new(2).with_channels(vec![2]);
        // Checking the weights builds a network, which draws from the
        // backend's generator: under the lock, as training does.
        let (whole, blocks, refusal) = {
            let _one_at_a_time = one_at_a_time();
            let device = default_device();
            device.seed(7);
            let source = weights_bytes(&cnn.init(&device)).unwrap();
            let wider = weights_bytes(&CnnConfig::new(2).with_channels(vec![4]).init(&device)).unwrap();
            (WarmStart::new(source.clone(), true, &cnn).unwrap(), WarmStart::new(source, false, &cnn).unwrap(), WarmStart::new(wider, false, &cnn).unwrap_err())
        };
        assert!(refusal.contains("blocks.0"), "{refusal}");
        let run = |init| validation_losses(TrainConfig { epochs: 2, init, ..TrainConfig::default() });
        assert_eq!(run(Some(whole.clone())), run(Some(whole.clone())));
        assert_ne!(run(None), run(Some(whole.clone())));
        assert_ne!(run(Some(blocks)), run(Some(whole)));
    }
}
