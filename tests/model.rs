//! The datasets, splits and the Burn CNN on real recordings: loaders on
//! ../shared/data, patient-disjoint splits, a few training steps lowering
//! the loss, bit-exact save/load, reproducible evaluation, and cards that
//! refuse weights that are not theirs.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use auscult::datasets::heart::HeartFolders;
use auscult::datasets::icbhi::{Icbhi, IcbhiTask};
use auscult::datasets::kauh::{Kauh, KauhSounds};
use auscult::datasets::{split, Corpus, DatasetLoader};
use auscult::host::SearchPath;
use auscult::model::cache::MelCache;
use auscult::model::card::{self, Architecture, ModelCard, Normalization, Training};
use auscult::model::data::{MelBatcher, MelDataset};
use auscult::model::features::{FeatureConfig, LogMel, Preprocessor};
use auscult::model::inference::{default_device, probabilities, weights_bytes, Classifier};
use auscult::model::model::{CnnConfig, Pooling};
use auscult::model::pipeline::mel_dataset;
use auscult::model::tasks;
use auscult::model::training::{self, TrainConfig, TrainData};
use burn::module::Module;

/// `auscult train OPTIONS --data DATA --out OUT`, finding the workspace's plugins.
fn train_cli(options: impl IntoIterator<Item = impl AsRef<OsStr>>, data: &Path, out: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
        .arg("train")
        .args(options)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
        .output()
        .unwrap()
}

#[test]
fn loaders_read_the_real_datasets_and_folds_keep_patients_apart() {
    let Some(data) = common::shared_data() else { return };
    let heart = HeartFolders.load(&data.join("heart-yaseen2018")).unwrap();
    assert_eq!(heart.classes, ["N", "MR", "MS", "MVP"]);
    assert_eq!(heart.class_counts(), [160, 160, 160, 160]);
    let kauh = Kauh.load(&data.join("kauh")).unwrap();
    assert_eq!(kauh.examples.len(), 270);
    assert_eq!(kauh.patients().len(), 90, "three filter modes per patient share one id");
    assert!(kauh.class_counts().iter().all(|&c| c > 0), "{:?}", kauh.class_counts());
    // The same recordings by sound type, in the cycle classes: all but the
    // one patient whose only finding is bronchial breathing.
    let sounds = KauhSounds.load(&data.join("kauh")).unwrap();
    assert_eq!(sounds.classes, auscult::datasets::icbhi::CYCLE_CLASSES);
    assert_eq!((sounds.examples.len(), sounds.patients().len(), sounds.warnings.len()), (267, 89, 3));
    assert!(sounds.warnings.iter().all(|w| w.contains("Bronchial")), "{:?}", sounds.warnings);
    assert!(sounds.class_counts().iter().all(|&c| c > 0), "{:?}", sounds.class_counts());
    let cycles = Icbhi { task: IcbhiTask::Cycles }.load(&data.join("icbhi")).unwrap();
    assert_eq!(cycles.patients().len(), 11);
    assert!(sounds.patients().iter().all(|p| !cycles.patients().contains(p)), "KAUH and ICBHI patient ids collide");
    assert!(cycles.examples.len() > 400 && cycles.class_counts()[0] > cycles.class_counts()[3]);
    for corpus in [&heart, &kauh, &cycles] {
        for fold in 0..5 {
            let s = split::patient_kfold(corpus, 5, fold, 1);
            assert!(s.shared_patients(corpus).is_empty(), "{} fold {fold}", corpus.name);
            let v = split::validation_from_train(corpus, &s.train, 0.15, 1);
            assert!(v.shared_patients(corpus).is_empty());
        }
    }
    // The data here is all in the official train split; the official test
    // side is empty rather than wrong.
    let official = auscult::datasets::icbhi::official_split(&data.join("icbhi")).unwrap();
    let (s, unknown) = split::icbhi_official(&cycles, &official);
    assert!(unknown.is_empty() && s.test.is_empty() && s.train.len() == cycles.examples.len());
}

/// Burn's generator is global to the process: a test that needs a seeded
/// run to repeat itself (a resumed run against an uncut one) holds this,
/// and so does every test here that draws weights or trains in-process
/// (the CLI tests run in processes of their own).
fn generator() -> std::sync::MutexGuard<'static, ()> {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// 6 recordings per class of the heart set, as log-mel examples.
fn tiny_heart(data: &Path) -> (Corpus, MelDataset, MelBatcher) {
    let mut corpus = HeartFolders.load(&data.join("heart-yaseen2018")).unwrap();
    let mut per_class = [0usize; 4];
    corpus.examples.retain(|e| {
        per_class[e.label] += 1;
        per_class[e.label] <= 6
    });
    let task = tasks::task("heart").unwrap();
    let search = SearchPath { dirs: vec![common::plugin_dir().to_path_buf()] };
    let mut pre = Preprocessor::new(task.features.clone(), task.chain, &search).unwrap();
    let all: Vec<usize> = (0..corpus.examples.len()).collect();
    let set = mel_dataset(&corpus, &all, &mut pre, &mut MelCache::in_memory(), |_| {}).unwrap();
    let (mean, std) = set.stats();
    let batcher = MelBatcher { n_mels: task.features.n_mels, frames: task.features.frames(), mean, std, per_example: false, per_band: false };
    (corpus, set, batcher)
}

#[test]
fn a_few_training_steps_on_real_recordings_lower_the_loss() {
    let _generator = generator();
    let Some(data) = common::shared_data() else { return };
    let (corpus, set, batcher) = tiny_heart(&data);
    // Early stopping off: this test is about what 12 steps do, and on 24
    // examples the validation loss can stall for `patience` epochs by chance.
    let config = TrainConfig { epochs: 100, batch_size: set.len(), augment: None, max_steps: Some(12), patience: usize::MAX, ..TrainConfig::default() };
    let mut losses = Vec::new();
    training::train(
        &CnnConfig::new(4),
        &config,
        &batcher,
        TrainData { train: &set, validation: &set, classes: &corpus.classes, folders: &[] },
        &default_device(),
        |_| {},
        |_, l| losses.push(l),
    )
    .unwrap();
    assert_eq!(losses.len(), 12);
    let first = (losses[0] + losses[1]) / 2.0;
    let last = (losses[10] + losses[11]) / 2.0;
    println!("loss {first:.4} -> {last:.4}: {losses:?}");
    assert!(last < 0.8 * first, "loss did not fall: {losses:?}");
}

fn train_tiny(data: &Path, dir: &Path, pooling: Pooling) -> std::path::PathBuf {
    let (corpus, set, batcher) = tiny_heart(data);
    let cnn = CnnConfig::new(4).with_channels(vec![8, 16]).with_pooling(pooling);
    let config = TrainConfig { epochs: 1, batch_size: 8, max_steps: Some(3), ..TrainConfig::default() };
    let trained = training::train(
        &cnn,
        &config,
        &batcher,
        TrainData { train: &set, validation: &set, classes: &corpus.classes, folders: &[] },
        &default_device(),
        |_| {},
        |_, _| {},
    )
    .unwrap();
    let bytes = weights_bytes(&trained.model).unwrap();
    std::fs::write(dir.join("model.bpk"), &bytes).unwrap();
    let task = tasks::task("heart").unwrap();
    let card = ModelCard {
        name: "tiny".into(),
        task: "heart".into(),
        classes: corpus.classes.clone(),
        weights: "model.bpk".into(),
        sha256: card::sha256_hex(&bytes),
        parameters: 0,
        architecture: Architecture { channels: cnn.channels.clone(), dropout: cnn.dropout, pooling: cnn.pooling },
        features: task.features.clone(),
        normalization: Normalization { mean: batcher.mean, std: batcher.std, per_example: false, per_band: false },
        chain: task.chain.map(String::from),
        training: Training {
            data: "heart-yaseen2018".into(),
            split: "patient-disjoint 5-fold, fold 0 held out, seed 1".into(),
            train_examples: set.len(),
            validation_examples: 0,
            test_examples: 0,
            epochs_run: 1,
            best_epoch: 1,
            seed: 1,
            command: "test".into(),
            caveat: None,
            init: None,
            auxiliary: None,
        },
        evaluation: None,
        members: Vec::new(),
        decision: None,
    };
    let path = dir.join("card.toml");
    card.save(&path).unwrap();
    // Round trip: the loaded model gives bit-identical outputs and saves
    // to identical bytes.
    let loaded = Classifier::load(&path).unwrap();
    let inputs: Vec<_> = set.examples.iter().take(5).map(|e| e.mel.clone()).collect();
    let (x, _) = batcher.batch(&set, &[0, 1, 2, 3, 4], None, &default_device());
    assert_eq!(probabilities(&trained.model, x), loaded.predict(&inputs), "save/load changed the outputs");
    path
}

#[test]
fn save_and_load_round_trip_bit_exactly_and_cards_refuse_foreign_weights() {
    let _generator = generator();
    let Some(data) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let card_path = train_tiny(&data, dir.path(), Pooling::MeanStd);

    // A weights file that is not the card's: refused by hash.
    let weights = dir.path().join("model.bpk");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, &bytes).unwrap();
    let err = Classifier::load(&card_path).err().expect("tampered weights load").to_string();
    assert!(err.contains("sha256") && err.contains("model.bpk"), "{err}");
    bytes[last] ^= 1;
    std::fs::write(&weights, &bytes).unwrap();

    // A card whose architecture does not fit the weights: refused by shape.
    let mut card = ModelCard::load(&card_path).unwrap();
    card.classes.push("AS".into());
    let wrong = dir.path().join("wrong.toml");
    card.save(&wrong).unwrap();
    let err = Classifier::load(&wrong).err().expect("wrong shape loads").to_string();
    assert!(err.contains("model.bpk") && err.contains("5 classes"), "{err}");

    // Weights trained with statistics pooling under a card that says mean
    // pooling: the head is twice as wide as the card implies.
    let mut card = ModelCard::load(&card_path).unwrap();
    assert_eq!(card.architecture.pooling, Pooling::MeanStd, "the card keeps the pooling");
    card.architecture.pooling = Pooling::Mean;
    card.save(&wrong).unwrap();
    let err = Classifier::load(&wrong).err().expect("wrong pooling loads").to_string();
    assert!(err.contains("model.bpk") && err.contains("pooling Mean"), "{err}");
    // ... or band statistics, whose head is twice as wide as the weights'.
    card.architecture.pooling = Pooling::BandMeanStd;
    card.save(&wrong).unwrap();
    let err = Classifier::load(&wrong).err().expect("wrong pooling loads").to_string();
    assert!(err.contains("model.bpk") && err.contains("pooling BandMeanStd"), "{err}");

    // Weights with a block more than the card's (widths 8-16-16 under a card
    // that says 8-16), hashed into the card: every tensor the card's network
    // has fits, so only the tensors left over tell it is another network.
    let deeper = CnnConfig::new(4).with_channels(vec![8, 16, 16]).with_pooling(Pooling::MeanStd).init(&default_device());
    let bytes = weights_bytes(&deeper).unwrap();
    std::fs::write(dir.path().join("deeper.bpk"), &bytes).unwrap();
    let mut card = ModelCard::load(&card_path).unwrap();
    card.weights = "deeper.bpk".into();
    card.sha256 = card::sha256_hex(&bytes);
    card.save(&wrong).unwrap();
    let err = Classifier::load(&wrong).err().expect("a deeper network loads").to_string();
    assert!(err.contains("deeper.bpk") && err.contains("not in the card's network") && err.contains("blocks.2"), "{err}");
}

#[test]
fn eval_gives_the_same_numbers_twice() {
    let _generator = generator();
    let Some(data) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let card_path = train_tiny(&data, dir.path(), Pooling::Mean);
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
            .args(["eval", "--split", "test", "--model"])
            .arg(&card_path)
            .arg("--data")
            .arg(data.join("heart-yaseen2018"))
            .arg("--json")
            .arg(dir.path().join("eval.json"))
            .arg("--plots")
            .arg(dir.path().join("figures"))
            .arg("--predictions")
            .arg(dir.path().join("predictions.csv"))
            .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(dir.path().join("eval.json")).unwrap()
    };
    let first = run();
    assert_eq!(first, run());
    let report: serde_json::Value = serde_json::from_str(&first).unwrap();
    for key in ["balanced_accuracy", "accuracy", "per_class", "confusion"] {
        assert!(report.get(key).is_some(), "{key} missing in {first}");
    }
    assert_eq!(report["n"], 128, "fold 0 of 5 holds out a fifth of the 640 recordings");

    // The predictions file: one row per recording scored, whose argmaxes
    // rebuild the report's confusion matrix.
    let mut csv = csv::Reader::from_path(dir.path().join("predictions.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let classes: Vec<String> = report["per_class"].as_array().unwrap().iter().map(|c| c["class"].as_str().unwrap().to_string()).collect();
    assert_eq!(header[..5], ["file", "patient", "start_s", "end_s", "truth"]);
    assert_eq!(header[5..], classes[..]);
    let mut confusion = vec![vec![0u64; classes.len()]; classes.len()];
    let mut rows = 0;
    for record in csv.records() {
        let record = record.unwrap();
        assert!(Path::new(&record[0]).is_file(), "{:?}", &record[0]);
        let probs: Vec<f32> = record.iter().skip(5).map(|v| v.parse().unwrap()).collect();
        let truth = classes.iter().position(|c| c == &record[4]).unwrap();
        confusion[truth][auscult::metrics::argmax(&probs)] += 1;
        rows += 1;
    }
    assert_eq!(rows, 128);
    let reported: Vec<Vec<u64>> = serde_json::from_value(report["confusion"].clone()).unwrap();
    assert_eq!(confusion, reported, "the predictions file disagrees with the report");

    // The figures: every count of the confusion matrix is written in its
    // cell, and each class's ROC curve is labelled with the report's AUC.
    let name = card::ModelCard::load(&card_path).unwrap().name;
    let confusion = std::fs::read_to_string(dir.path().join("figures").join(format!("{name}-confusion.svg"))).unwrap();
    assert!(confusion.starts_with("<svg") && confusion.contains("predicted"), "{confusion}");
    for row in report["confusion"].as_array().unwrap() {
        for count in row.as_array().unwrap() {
            assert!(confusion.contains(&format!(">{count}</text>")) || confusion.contains(&format!(">\n{count}\n</text>")), "count {count} not drawn");
        }
    }
    let roc = std::fs::read_to_string(dir.path().join("figures").join(format!("{name}-roc.svg"))).unwrap();
    for class in report["per_class"].as_array().unwrap() {
        let label = format!("{} (AUC {:.3})", class["class"].as_str().unwrap(), class["roc_auc"].as_f64().unwrap());
        assert!(roc.contains(&label), "{label} missing from the ROC figure");
        assert!(roc.matches("<polyline").count() >= 4);
    }
}

#[test]
fn eval_pools_fold_models_each_on_its_own_held_out_patients() {
    let Some(data) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let auscult = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"));
        c.env("AUSCULT_PLUGIN_PATH", common::plugin_dir());
        c
    };
    let heart = data.join("heart-yaseen2018");
    let mut cards = Vec::new();
    // The second fold's model sees other mel settings: each model is scored
    // with the features its own card names.
    for (fold, features) in [("0", &[][..]), ("1", &["--n-fft", "128", "--hop", "32", "--n-mels", "32"][..])] {
        let out_dir = dir.path().join(format!("fold{fold}"));
        let out = auscult()
            .args(["train", "--task", "heart", "--epochs", "1", "--max-steps", "2", "--folds", "5", "--fold", fold, "--channels", "4,8", "--data"])
            .arg(&heart)
            .arg("--out")
            .arg(&out_dir)
            .args(features)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        cards.push(out_dir.join("card.toml"));
    }
    let card = auscult::model::card::ModelCard::load(&cards[1]).unwrap();
    assert_eq!((card.features.n_fft, card.features.hop, card.features.n_mels), (128, 32, 32));
    // The command trains the same model again: a smoke run's step limit too.
    assert!(card.training.command.contains("--max-steps 2") && card.training.command.contains("--n-fft 128 --hop 32 --n-mels 32"), "{}", card.training.command);
    let out = auscult().args(["train", "--task", "heart", "--hop", "0", "--out"]).arg(dir.path().join("bad")).arg("--data").arg(&heart).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--hop 0"), "{stderr}");
    let eval = |models: &[&std::path::PathBuf], json: &str| {
        let mut c = auscult();
        c.args(["eval", "--data"]).arg(&heart).arg("--plots").arg(dir.path().join("figures")).arg("--json").arg(dir.path().join(json));
        for m in models {
            c.arg("--model").arg(m);
        }
        let out = c.output().unwrap();
        let report = std::fs::read_to_string(dir.path().join(json)).ok().map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap());
        (out, report)
    };
    let (_, one) = eval(&[&cards[0]], "0.json");
    let (_, two) = eval(&[&cards[1]], "1.json");
    let (out, pooled) = eval(&[&cards[0], &cards[1]], "pooled.json");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (one, two, pooled) = (one.unwrap(), two.unwrap(), pooled.unwrap());
    assert_eq!(pooled["n"], 256, "two folds of 128 recordings");
    let matrix = |r: &serde_json::Value| serde_json::from_value::<Vec<Vec<u64>>>(r["confusion"].clone()).unwrap();
    let sum: Vec<Vec<u64>> = matrix(&one).iter().zip(matrix(&two)).map(|(a, b)| a.iter().zip(b).map(|(x, y)| x + y).collect()).collect();
    assert_eq!(matrix(&pooled), sum, "the pooled confusion is the folds' summed");
    // Every recording is its own patient in the heart set.
    let interval = &pooled["patient_interval"];
    assert_eq!(interval["patients"], 256, "{pooled}");
    let (low, high) = (interval["balanced_accuracy"]["low"].as_f64().unwrap(), interval["balanced_accuracy"]["high"].as_f64().unwrap());
    let ba = pooled["balanced_accuracy"].as_f64().unwrap();
    assert!(low <= ba && ba <= high, "{low} {ba} {high}");

    // The same patients twice would count them twice.
    let (out, _) = eval(&[&cards[0], &cards[0]], "twice.json");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("overlap") && stderr.contains("card.toml"), "{stderr}");
}

#[test]
fn batching_windows_gives_exactly_the_probabilities_of_one_window_at_a_time() {
    let _generator = generator();
    use auscult::model::inference::{predict_windows, predict_windows_in_batches, WINDOW_BATCH};
    let Some(data) = common::shared_data() else { return };
    let (_, set, batcher) = tiny_heart(&data);
    let device = default_device();
    let cnn = CnnConfig::new(4).with_channels(vec![8, 16]).with_pooling(Pooling::MeanStd).init(&device);
    // Real recordings' log-mels: shorter than a window (repeat-padded),
    // exactly one, and long enough for several overlapping windows.
    let whole: Vec<LogMel> = set.examples.iter().take(4).map(|e| e.mel.clone()).collect();
    let long = LogMel { n_mels: whole[0].n_mels, data: whole.iter().flat_map(|m| m.data.iter().copied()).collect() };
    let inputs = [whole[0].slice(0, batcher.frames / 3), whole[1].slice(0, batcher.frames), long, whole[2].clone(), whole[3].slice(5, batcher.frames + 40)];
    assert!(inputs[2].frames() > 3 * batcher.frames, "{} frames", inputs[2].frames());
    let one_at_a_time = predict_windows_in_batches(&cnn, &batcher, inputs.iter(), &device, 1);
    assert_eq!(one_at_a_time.len(), inputs.len());
    for batch in [2, 3, WINDOW_BATCH] {
        assert_eq!(predict_windows_in_batches(&cnn, &batcher, inputs.iter(), &device, batch), one_at_a_time, "batches of {batch}");
    }
    // Each input alone: the same as beside the others.
    for (input, expected) in inputs.iter().zip(&one_at_a_time) {
        assert_eq!(&predict_windows(&cnn, &batcher, std::iter::once(input), &device)[0], expected);
    }
}

#[test]
fn an_ensemble_predicts_the_mean_of_its_members_and_checks_each_ones_weights() {
    let Some(data) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let heart = data.join("heart-yaseen2018");
    let auscult = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"));
        c.env("AUSCULT_PLUGIN_PATH", common::plugin_dir());
        c
    };
    let out_dir = dir.path().join("ensemble");
    let out = auscult()
        .args(["train", "--task", "heart", "--epochs", "1", "--max-steps", "2", "--folds", "10", "--channels", "4,8", "--runs", "2"])
        .args(["--dropout", "0.4", "--weight-decay", "0.001", "--lr-schedule", "cosine", "--learning-rate", "0.0005", "--balance", "sampling", "--mixup"])
        .args(["--resumable", "--data"])
        .arg(&heart)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let card_path = out_dir.join("card.toml");
    let card = ModelCard::load(&card_path).unwrap();
    assert_eq!(card.members.len(), 1, "{card:?}");
    assert_eq!(card.members[0].weights, "model-2.bpk");
    assert!(out_dir.join("training-log-2.csv").is_file());
    assert!(!out_dir.join("checkpoint.bin").exists() && !out_dir.join("checkpoint-2.bin").exists(), "each member's checkpoint removed with the card saved");
    // The command on the card trains the same ensemble again.
    assert!(
        card.training.command.contains("--runs 2 --dropout 0.4 --weight-decay 0.001 --lr-schedule cosine --learning-rate 0.0005 --balance sampling --mixup")
            && card.training.command.ends_with(" --resumable"),
        "{}",
        card.training.command
    );
    assert_eq!(card.architecture.dropout, 0.4);

    // Each member alone, under a card of its own.
    let single = |weights: &str, sha256: &str, name: &str| {
        let mut one = card.clone();
        (one.weights, one.sha256, one.members) = (weights.into(), sha256.into(), Vec::new());
        let path = out_dir.join(name);
        one.save(&path).unwrap();
        path
    };
    let first = single("model.bpk", &card.sha256, "first.toml");
    let second = single("model-2.bpk", &card.members[0].sha256, "second.toml");
    let eval = |model: &Path, name: &str| {
        let predictions = dir.path().join(format!("{name}.csv"));
        let json = dir.path().join(format!("{name}.json"));
        let out = auscult()
            .args(["eval", "--model"])
            .arg(model)
            .arg("--data")
            .arg(&heart)
            .arg("--plots")
            .arg(dir.path().join("figures"))
            .arg("--predictions")
            .arg(&predictions)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        let rows: Vec<Vec<f64>> =
            csv::Reader::from_path(predictions).unwrap().records().map(|r| r.unwrap().iter().skip(5).map(|v| v.parse().unwrap()).collect()).collect();
        (report, rows)
    };
    let (report, both) = eval(&card_path, "both");
    let ((_, a), (_, b)) = (eval(&first, "first"), eval(&second, "second"));
    assert_eq!(both.len(), 64, "fold 0 of 10 holds 64 recordings");
    assert_ne!(a, b, "two random starts gave the same network: the mean would prove nothing");
    for ((m, x), y) in both.iter().zip(&a).zip(&b) {
        for ((m, x), y) in m.iter().zip(x).zip(y) {
            assert!((m - (x + y) / 2.0).abs() < 2e-6, "{m} is not the mean of {x} and {y}");
        }
    }
    // The card's figures are the ensemble's, as eval prints them.
    let evaluation = card.evaluation.as_ref().unwrap();
    assert_eq!(report["balanced_accuracy"].as_f64().unwrap(), evaluation.balanced_accuracy);

    // The second member's weights are checked as the first's are.
    let weights = out_dir.join("model-2.bpk");
    let mut bytes = std::fs::read(&weights).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&weights, &bytes).unwrap();
    let err = Classifier::load(&card_path).err().expect("tampered member loads").to_string();
    assert!(err.contains("sha256") && err.contains("model-2.bpk"), "{err}");
}

#[test]
fn the_same_command_trains_the_same_network() {
    let Some(data) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Each training in a process of its own, as a user runs it twice: the
    // backend's generator may be global to a process.
    let train = |name: &str| {
        let out_dir = dir.path().join(name);
        let options = ["--task", "heart", "--epochs", "1", "--max-steps", "4", "--folds", "10", "--channels", "4,8", "--seed", "7"];
        let out = train_cli(options, &data.join("heart-yaseen2018"), &out_dir);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // The log without its timings.
        let log: Vec<Vec<String>> = csv::Reader::from_path(out_dir.join("training-log.csv"))
            .unwrap()
            .records()
            .map(|r| {
                let row: Vec<String> = r.unwrap().iter().map(String::from).collect();
                row[..row.len() - 1].to_vec()
            })
            .collect();
        (log, Classifier::load(&out_dir.join("card.toml")).unwrap())
    };
    let ((log_a, a), (log_b, b)) = (train("a"), train("b"));
    assert!(!log_a.is_empty());
    assert_eq!(log_a, log_b, "the same seed, another training loss or validation score");
    // A made-up input, scored by both networks: every probability the same.
    let features = &a.card.features;
    let frames = features.frames();
    let input = LogMel { n_mels: features.n_mels, data: (0..features.n_mels * frames).map(|i| -80.0 + (i * 37 % 101) as f32 * 0.7).collect() };
    let (pa, pb) = (a.predict(std::slice::from_ref(&input)), b.predict(&[input]));
    assert_eq!(pa, pb, "the same seed trained two different networks");
    assert_eq!(a.card.evaluation.as_ref().map(|e| e.balanced_accuracy), b.card.evaluation.as_ref().map(|e| e.balanced_accuracy));
    // And the same file: a card's command rebuilds its weights byte for
    // byte, so the sha256 on the card checks a retrained model too.
    assert_eq!(a.card.sha256, b.card.sha256, "the same network saved as two different files");
}

#[test]
fn analyze_prints_a_prediction_with_probabilities_per_file() {
    let Some(data) = common::shared_data() else { return };
    let files = [data.join("heart-yaseen2018/MS/New_MS_001.wav"), data.join("heart-yaseen2018/N/New_N_001.wav")];
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
        .args(["analyze", "--model", "heart-yaseen", "--format", "json"])
        .args(&files)
        .current_dir(common::workspace_root())
        .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let probs = row["probabilities"].as_object().unwrap();
        assert_eq!(probs.len(), 4);
        let sum: f64 = probs.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{row}");
        assert!(probs.contains_key(row["prediction"].as_str().unwrap()));
    }
}

#[test]
fn extra_training_data_joins_the_training_side_only() {
    let Some(data) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let train = |task: &str, data_dir: &str, extra: &str, out: &Path| {
        let extra = data.join(extra);
        let options = ["--task", task, "--epochs", "1", "--max-steps", "1", "--folds", "5", "--fold", "0", "--channels", "4,8", "--extra-train"];
        train_cli(options.iter().map(OsStr::new).chain([extra.as_os_str()]), &data.join(data_dir), out)
    };
    let out = train("heart", "heart-yaseen2018", "kauh", &dir.path().join("heart"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--extra-train") && stderr.contains("heart"), "{stderr}");

    let out = train("lung-cycles", "icbhi", "kauh", &dir.path().join("cycles"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let card = ModelCard::load(&dir.path().join("cycles/card.toml")).unwrap();
    // Validation and test are what the ICBHI split alone gives, so `eval
    // --split test` scores the same patients; the 267 KAUH recordings are
    // all on the training side.
    let cycles = Icbhi { task: IcbhiTask::Cycles }.load(&data.join("icbhi")).unwrap();
    let s = split::patient_kfold(&cycles, 5, 0, 1);
    let v = split::validation_from_train(&cycles, &s.train, 0.15, 1);
    let t = &card.training;
    assert_eq!((t.train_examples, t.validation_examples, t.test_examples), (v.train.len() + 267, v.test.len(), s.test.len()));
    assert!(t.data.contains("kauh") && t.command.contains("--extra-train DIR/kauh"), "{t:?}");

    // The other way round: ICBHI's patients in KAUH's diagnoses. The 46
    // recordings of its COPD and asthma patients train; its three URTI
    // patients are in no KAUH class and stay out.
    let out = train("lung-diagnosis", "kauh", "icbhi", &dir.path().join("diagnosis"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("(URTI) is not one of the task's classes").count(), 3, "{stderr}");
    let card = ModelCard::load(&dir.path().join("diagnosis/card.toml")).unwrap();
    let kauh = Kauh.load(&data.join("kauh")).unwrap();
    let s = split::patient_kfold(&kauh, 5, 0, 1);
    let v = split::validation_from_train(&kauh, &s.train, 0.15, 1);
    let t = &card.training;
    assert_eq!((t.train_examples, t.validation_examples, t.test_examples), (v.train.len() + 46, v.test.len(), s.test.len()));
    assert!(t.command.contains("--extra-train DIR/icbhi"), "{t:?}");
}

#[test]
fn auxiliary_sounds_train_on_the_training_side_and_leave_a_plain_model() {
    let _generator = generator();
    let Some(data) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("aux");
    let options = ["--task", "lung-diagnosis", "--epochs", "1", "--max-steps", "2", "--folds", "5", "--fold", "0", "--channels", "4,8"];
    let out = train_cli(options.into_iter().chain(["--auxiliary-sounds", "--auxiliary-weight", "0.5"]), &data.join("kauh"), &out_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The training side's recordings with a sound type in their names,
    // counted here from the names themselves.
    let kauh = Kauh.load(&data.join("kauh")).unwrap();
    let s = split::patient_kfold(&kauh, 5, 0, 1);
    let v = split::validation_from_train(&kauh, &s.train, 0.15, 1);
    let labelled = v.train.iter().filter(|&&i| auscult::datasets::kauh::sound_type(&kauh.examples[i].path).is_some()).count();
    assert!(labelled > v.train.len() / 2 && labelled <= v.train.len(), "{labelled} of {}", v.train.len());
    let card = ModelCard::load(&out_dir.join("card.toml")).unwrap();
    let t = &card.training;
    let what = t.auxiliary.as_deref().unwrap_or_default();
    assert!(what.starts_with("sound type (normal, crackle, wheeze, both), weight 0.5"), "{what}");
    assert!(what.contains(&format!("{labelled} of {} training examples", v.train.len())), "{what}");
    assert!(t.command.ends_with("--auxiliary-sounds --auxiliary-weight 0.5"), "{}", t.command);
    // The saved network is the plain one: a plain network's parameters,
    // and loading (which refuses a tensor left over) takes every tensor.
    let plain = CnnConfig::new(6).with_channels(vec![4, 8]).init(&default_device());
    assert_eq!(card.parameters, plain.num_params());
    Classifier::load(&out_dir.join("card.toml")).unwrap();
}

#[test]
fn init_starts_from_a_shipped_model_and_the_card_says_so() {
    let Some(data) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("warm");
    // The shipped heart model's own settings and held-out fold, one step:
    // too little to learn the task from a random start (4 classes: chance
    // is 0.25), so a high figure is the shipped weights carried over.
    let options = [
        "--task",
        "heart",
        "--epochs",
        "1",
        "--max-steps",
        "1",
        "--channels",
        "8,16,32,64",
        "--pooling",
        "mean-std",
        "--select",
        "loss",
        "--init",
        "heart-yaseen",
    ];
    let out = train_cli(options, &data.join("heart-yaseen2018"), &out_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("starting from") && stderr.contains("every layer"), "{stderr}");
    let shipped = ModelCard::load(&card::find("heart-yaseen").unwrap()).unwrap();
    let card = ModelCard::load(&out_dir.join("card.toml")).unwrap();
    let init = card.training.init.as_deref().unwrap_or_default();
    assert!(init.contains("every layer") && init.contains(&shipped.sha256), "{init}");
    assert!(card.training.command.ends_with(" --init heart-yaseen"), "{}", card.training.command);
    let ba = card.evaluation.as_ref().unwrap().balanced_accuracy;
    assert!(ba > 0.8, "one step from the shipped weights scored {ba}");
}

#[test]
fn select_last_trains_every_training_patient_and_keeps_the_last_epoch() {
    let Some(data) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("last");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
        .args(["train", "--task", "heart", "--epochs", "2", "--patience", "1", "--folds", "10", "--channels", "4,8", "--select", "last", "--data"])
        .arg(data.join("heart-yaseen2018"))
        .arg("--out")
        .arg(&out_dir)
        .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let card = ModelCard::load(&out_dir.join("card.toml")).unwrap();
    // No validation carve: the held-out fold is the usual one, and every
    // other recording trains.
    let heart = HeartFolders.load(&data.join("heart-yaseen2018")).unwrap();
    let s = split::patient_kfold(&heart, 10, 0, 1);
    let t = &card.training;
    assert_eq!((t.train_examples, t.validation_examples, t.test_examples), (s.train.len(), 0, s.test.len()));
    assert_eq!((t.epochs_run, t.best_epoch), (2, 2), "{t:?}");
    assert!(t.command.contains("--select last"), "{}", t.command);
    // The log leaves the validation columns empty rather than inventing a figure.
    let log = std::fs::read_to_string(out_dir.join("training-log.csv")).unwrap();
    let rows: Vec<Vec<&str>> = log.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{log}");
    assert!(rows.iter().all(|r| r.len() == 5 && r[2].is_empty() && r[3].is_empty() && r[1].parse::<f64>().is_ok()), "{log}");
}

#[test]
fn analyze_csv_keeps_file_names_with_commas_whole() {
    // KAUH's names hold commas (`BP1_Asthma,I E W,P L L,70,M.wav`).
    let Some(data) = common::shared_data() else { return };
    let file = std::fs::read_dir(data.join("kauh/audio")).unwrap().map(|e| e.unwrap().path()).find(|p| p.to_string_lossy().contains(',')).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
        .args(["analyze", "--model", "heart-yaseen", "--format", "csv"])
        .arg(&file)
        .current_dir(common::workspace_root())
        .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut csv = csv::Reader::from_reader(&out.stdout[..]);
    assert_eq!(csv.headers().unwrap().len(), 4 + 4);
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(&rows[0][0], file.display().to_string());
    let sum: f64 = rows[0].iter().skip(4).map(|v| v.parse::<f64>().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-3, "{:?}", rows[0]);
}

#[test]
fn a_model_others_could_have_replaced_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/heart-yaseen");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        std::fs::set_permissions(dir.path().join(path.file_name().unwrap()), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let card_path = dir.path().join("card.toml");
    let weights = dir.path().join(ModelCard::load(&card_path).unwrap().weights);
    assert!(Classifier::load(&card_path).is_ok(), "the shipped model loads from a private copy");
    for (file, mode) in [(&weights, 0o664), (&card_path, 0o646)] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = Classifier::load(&card_path).err().expect("a writable model file loads").to_string();
        assert!(err.contains(&file.display().to_string()) && err.contains("group- or world-writable") && err.contains("chmod go-w"), "{err}");
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

#[test]
fn sprsound_loads_its_official_sets_trains_beside_icbhi_and_is_scored_as_the_challenge_does() {
    use auscult::datasets::sprsound::{official_sets, Set, Sprsound, SprsoundTask};
    let Some(data) = common::shared_data() else { return };
    let dir_data = data.join("sprsound");
    let sets = official_sets(&dir_data).unwrap();
    let count = |set: Set| sets.values().filter(|&&s| s == set).count();
    assert_eq!((count(Set::Train), count(Set::TestInter), count(Set::TestIntra), count(Set::Test2023)), (24, 8, 0, 8));
    let records = Sprsound { task: SprsoundTask::Records }.load(&dir_data).unwrap();
    assert_eq!(records.examples.len(), 40);
    assert!(records.warnings.is_empty(), "{:?}", records.warnings);
    assert_eq!(records.class_counts()[4], sets.iter().filter(|(w, _)| records.examples.iter().any(|e| &e.path == *w && e.label == 4)).count());
    let events = Sprsound { task: SprsoundTask::Cycles }.load(&dir_data).unwrap();
    assert!(events.examples.iter().all(|e| e.span.is_some_and(|(a, b)| 0.0 <= a && a < b)));
    let training_events = events.examples.iter().filter(|e| sets[&e.path] == Set::Train).count();
    assert!(training_events > 24, "{training_events}");

    // Joined to ICBHI's training side: its training set only.
    let dir = tempfile::tempdir().unwrap();
    let options = ["--task", "lung-cycles", "--epochs", "1", "--max-steps", "1", "--folds", "5", "--fold", "0", "--channels", "4,8", "--extra-train"];
    let out = train_cli(options.iter().map(OsStr::new).chain([dir_data.as_os_str()]), &data.join("icbhi"), &dir.path().join("cycles"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("its training side only (official SPRSound split"), "{stderr}");
    let card = ModelCard::load(&dir.path().join("cycles/card.toml")).unwrap();
    let cycles = Icbhi { task: IcbhiTask::Cycles }.load(&data.join("icbhi")).unwrap();
    let v = split::validation_from_train(&cycles, &split::patient_kfold(&cycles, 5, 0, 1).train, 0.15, 1);
    assert_eq!(card.training.train_examples, v.train.len() + training_events);
    // Scored on SPRSound's test events: SPRSound's figures, and ICBHI's
    // only on ICBHI's data.
    let scored = |data: &Path, split: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
            .args(["eval", "--model"])
            .arg(dir.path().join("cycles/card.toml"))
            .arg("--data")
            .arg(data)
            .args(["--split", split, "--plots"])
            .arg(dir.path().join("plots"))
            .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = scored(&dir_data, "test-2023");
    assert!(text.contains("SPRSound Task 1-1") && !text.contains("ICBHI:"), "{text}");
    let text = scored(&data.join("icbhi"), "test");
    assert!(text.contains("ICBHI: specificity") && !text.contains("SPRSound"), "{text}");

    // A records model on the official split; each test set scored by name,
    // with the challenge's figures.
    let out = train_cli(
        ["--task", "sprsound-records", "--epochs", "1", "--max-steps", "1", "--official-split", "--channels", "4,8"],
        &dir_data,
        &dir.path().join("records"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let card_path = dir.path().join("records/card.toml");
    assert_eq!(ModelCard::load(&card_path).unwrap().training.split, "official SPRSound split, test set test-inter");
    let eval = |split: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
            .args(["eval", "--model"])
            .arg(&card_path)
            .arg("--data")
            .arg(&dir_data)
            .args(["--split", split, "--plots"])
            .arg(dir.path().join("plots"))
            .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
            .output()
            .unwrap()
    };
    let out = eval("test-2023");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("n = 8 ") && text.contains("SPRSound Task 2-1") && text.contains("SPRSound Task 2-2"), "{text}");
    // Each task's Score with its interval over the test patients.
    let interval = text.lines().find(|l| l.starts_with("95% interval over patients")).unwrap_or_else(|| panic!("{text}"));
    assert!(interval.contains(", SPRSound Task 2-1") && interval.contains(", SPRSound Task 2-2"), "{interval}");
    let out = eval("official");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("test-inter, test-intra or test-2023"), "{err}");
}

/// A small network on the PhysioNet subset with site training-d held out,
/// written to `out`: the plan the `TrainPlan` tests vary.
fn site_d_held_out(data: &Path, out: std::path::PathBuf) -> auscult::model::plan::TrainPlan {
    auscult::model::plan::TrainPlan {
        task: "heart-abnormal".into(),
        data: data.join("physionet2016"),
        extra_train: None,
        split: auscult::model::plan::SplitChoice::HoldOutSite("training-d".into()),
        n_fft: None,
        hop: None,
        n_mels: None,
        channels: vec![4, 8],
        pooling: auscult::model::model::Pooling::Mean,
        dropout: 0.3,
        train: TrainConfig::default(),
        runs: 1,
        band_norm: false,
        auxiliary_weight: None,
        site_adversary: None,
        init: None,
        tune_bias: None,
        feature_cache: None,
        resumable: false,
        out,
        command: "test".into(),
    }
}

/// `TrainPlan`, the library's whole training run, driven without the CLI:
/// an observer hears the epochs, and the card it writes says what was done.
#[test]
fn a_train_plan_runs_without_the_cli_and_tells_its_observer() {
    let _generator = generator();
    use auscult::model::plan::{Observer, TrainPlan};
    let Some(data) = common::shared_data() else { return };
    std::env::set_var("AUSCULT_PLUGIN_PATH", common::plugin_dir());
    #[derive(Default)]
    struct Heard {
        epochs: usize,
        features: usize,
        messages: Vec<String>,
    }
    impl Observer for Heard {
        fn message(&mut self, text: &str) {
            self.messages.push(text.to_string());
        }
        fn features(&mut self, done: usize, _: usize) {
            self.features = self.features.max(done);
        }
        fn epoch(&mut self, _: &auscult::model::training::EpochLog) {
            self.epochs += 1;
        }
    }
    let out = tempfile::tempdir().unwrap();
    let plan = TrainPlan { train: TrainConfig { epochs: 2, max_steps: Some(3), ..TrainConfig::default() }, ..site_d_held_out(&data, out.path().join("m")) };
    let mut heard = Heard::default();
    let outcome = plan.run(&mut heard).unwrap();
    assert!(heard.epochs >= 1 && heard.features == 36, "epochs {}, features {}", heard.epochs, heard.features);
    assert!(heard.messages.iter().any(|m| m.contains("site training-d held out")), "{:?}", heard.messages);
    assert_eq!(outcome.card.training.split, "site training-d held out");
    assert_eq!(outcome.card.training.test_examples, 6);
    assert_eq!(outcome.report.as_ref().map(|r| r.n), Some(6));
    assert!(outcome.card_path.is_file() && out.path().join("m/model.bpk").is_file() && out.path().join("m/training-log.csv").is_file());
    let plain_parameters = outcome.card.parameters;
    // Drawn per folder: the five training sites are the folders.
    let mut heard = Heard::default();
    let folders = TrainPlan {
        train: TrainConfig { balance: auscult::model::training::Balance::FolderSampling, ..plan.train.clone() },
        out: out.path().join("folders"),
        ..plan.clone()
    };
    folders.run(&mut heard).unwrap();
    assert!(heard.messages.iter().any(|m| m.contains("folder sampling: 5 recording folders")), "{:?}", heard.messages);
    // Learnt against the five training sites; the card says so, and the
    // saved network is the plain one, its adversary layer dropped.
    let mut heard = Heard::default();
    let adversary = TrainPlan { site_adversary: Some(0.5), out: out.path().join("adversary"), ..plan.clone() };
    let outcome = adversary.run(&mut heard).unwrap();
    assert!(heard.messages.iter().any(|m| m.contains("site adversary: 5 recording folders")), "{:?}", heard.messages);
    let what = outcome.card.training.auxiliary.clone().unwrap_or_default();
    assert!(what.contains("5 folders") && what.contains("gradient reversal") && what.contains("weight 0.5"), "{what}");
    assert_eq!(outcome.card.parameters, plain_parameters);
    // One folder to train on (CirCor's training_data/): nothing to learn against.
    let one_site = TrainPlan {
        task: "heart-murmur".into(),
        data: data.join("circor"),
        split: auscult::model::plan::SplitChoice::Folds { k: 5, fold: 0, file_blocks: None },
        ..adversary.clone()
    };
    let err = one_site.run(&mut auscult::model::plan::Quiet).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("--site-adversary") && err.contains("one recording folder"), "{err}");
    // A setting that cannot work is refused naming it, before any audio is read.
    let bad = TrainPlan { n_mels: Some(8), ..plan };
    let err = bad.run(&mut auscult::model::plan::Quiet).err().unwrap().to_string();
    assert!(err.contains("--n-mels 8"), "{err}");
}

/// `train --resumable` as the library runs it: a run cut off mid-epoch
/// (here by its observer, as a lost session would) and run again continues
/// from its last checkpoint to the card an uncut run writes, and leaves no
/// checkpoint behind.
#[test]
fn a_resumable_train_plan_cut_off_and_run_again_writes_the_uncut_runs_card() {
    let _generator = generator();
    use auscult::model::plan::{Observer, TrainPlan};
    let Some(data) = common::shared_data() else { return };
    std::env::set_var("AUSCULT_PLUGIN_PATH", common::plugin_dir());
    struct CutAt(Option<usize>, Vec<String>);
    impl Observer for CutAt {
        fn message(&mut self, text: &str) {
            self.1.push(text.to_string());
        }
        fn step(&mut self, step: usize) {
            assert!(Some(step) != self.0, "cut off at step {step}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let plan = |out: &str| TrainPlan {
        train: TrainConfig { epochs: 3, batch_size: 8, select: auscult::model::training::Selection::Last, ..TrainConfig::default() },
        resumable: true,
        ..site_d_held_out(&data, dir.path().join(out))
    };
    let uncut = plan("uncut").run(&mut CutAt(None, Vec::new())).unwrap();

    let cut = plan("cut");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cut.run(&mut CutAt(Some(6), Vec::new()))));
    assert!(outcome.is_err(), "the observer cuts the run off in its second epoch");
    assert!(dir.path().join("cut/checkpoint.bin").is_file(), "the first epoch's checkpoint is on disk");
    assert!(!dir.path().join("cut/card.toml").exists());
    let mut heard = CutAt(None, Vec::new());
    let resumed = cut.run(&mut heard).unwrap();
    assert!(heard.1.iter().any(|m| m.starts_with("continuing from") && m.contains("checkpoint.bin")), "{:?}", heard.1);
    assert_eq!(resumed.card.sha256, uncut.card.sha256, "the same weights as the uncut run");
    assert_eq!(resumed.card.training.epochs_run, 3);
    let log = std::fs::read_to_string(dir.path().join("cut/training-log.csv")).unwrap();
    assert_eq!(log.lines().count(), 4, "a header and every epoch, the saved ones too: {log}");
    for out in ["uncut", "cut"] {
        assert!(!dir.path().join(out).join("checkpoint.bin").exists(), "{out}: the checkpoint has served");
    }
}

#[test]
fn tune_bias_is_chosen_on_validation_patients_kept_in_the_card_and_applied_by_eval() {
    let Some(data) = common::shared_data() else { return };
    let heart = data.join("heart-yaseen2018");
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("biased");
    let options = ["--task", "heart", "--epochs", "1", "--max-steps", "3", "--channels", "4,8", "--seed", "3", "--tune-bias", "MVP"];
    let out = train_cli(options, &heart, &out_dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let card = ModelCard::load(&out_dir.join("card.toml")).unwrap();
    let decision = card.decision.as_ref().expect("--tune-bias writes the decision into the card");
    let mvp = card.classes.iter().position(|c| c == "MVP").unwrap();
    assert!(decision.bias.iter().enumerate().all(|(i, &b)| i == mvp || b == 0.0), "{decision:?}");
    assert!((-3.0..=3.0).contains(&decision.bias[mvp]));
    let validation = card.training.validation_examples;
    assert!(validation > 0 && decision.chosen_on.starts_with(&format!("{validation} validation examples")), "{decision:?}");
    assert!(card.training.command.ends_with("--tune-bias MVP"), "{}", card.training.command);

    // eval goes through the card's decision: its figure is the card's.
    let eval_balanced_accuracy = || {
        let json = dir.path().join("eval.json");
        let eval = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
            .args(["eval", "--split", "test", "--model"])
            .arg(out_dir.join("card.toml"))
            .arg("--data")
            .arg(&heart)
            .arg("--json")
            .arg(&json)
            .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
            .output()
            .unwrap();
        assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        report["balanced_accuracy"].as_f64()
    };
    assert_eq!(eval_balanced_accuracy(), Some(card.evaluation.as_ref().unwrap().balanced_accuracy));

    // tune-bias moves a trained card's decision after the fact: the same
    // validation patients, the old decision replaced, the card's held-out
    // figure what eval prints with the new one.
    let tune = |data: &Path, classes: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
            .args(["tune-bias", "--classes", classes, "--model"])
            .arg(out_dir.join("card.toml"))
            .arg("--data")
            .arg(data)
            .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
            .output()
            .unwrap()
    };
    let out = tune(&heart, "N,MVP");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let retuned = ModelCard::load(&out_dir.join("card.toml")).unwrap();
    let decision = retuned.decision.as_ref().unwrap();
    let n = retuned.classes.iter().position(|c| c == "N").unwrap();
    assert!(decision.bias.iter().enumerate().all(|(i, &b)| i == mvp || i == n || b == 0.0), "{decision:?}");
    assert!(decision.chosen_on.starts_with(&format!("{validation} validation examples")) && decision.chosen_on.contains("tune-bias"), "{decision:?}");
    assert_eq!(retuned.sha256, card.sha256, "the weights are untouched");
    assert_eq!(eval_balanced_accuracy(), Some(retuned.evaluation.as_ref().unwrap().balanced_accuracy));
    // Other data (here, one class's recordings fewer) would carve other
    // patients: refused, the card left as it was.
    let fewer = dir.path().join("fewer");
    for class in ["N", "MR", "MS", "MVP", "AS"] {
        let from = heart.join(class);
        if !from.is_dir() {
            continue;
        }
        std::fs::create_dir_all(fewer.join(class)).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(&from).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let keep = if class == "MVP" { files.len() - 10 } else { files.len() };
        for f in &files[..keep] {
            std::fs::copy(f, fewer.join(class).join(f.file_name().unwrap())).unwrap();
        }
    }
    let out = tune(&fewer, "MVP");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not the data it was trained on"), "{err}");
    assert_eq!(ModelCard::load(&out_dir.join("card.toml")).unwrap(), retuned);

    // A card whose offsets do not match its classes is refused by name.
    let text = std::fs::read_to_string(out_dir.join("card.toml")).unwrap();
    let bias_line = text.lines().find(|l| l.starts_with("bias = ")).unwrap();
    let broken = text.replace(bias_line, "bias = [0.5]");
    let err = ModelCard::parse(Path::new("broken.toml"), &broken).unwrap_err().to_string();
    assert!(err.contains("broken.toml") && err.contains("decision.bias"), "{err}");

    // What cannot work is refused before any audio is read.
    for (extra, expected) in
        [(["--tune-bias", "nope"].as_slice(), "not one of the task's classes"), (&["--tune-bias", "N", "--select", "last"], "--select last")]
    {
        let out = train_cli([["--task", "heart", "--epochs", "1"].as_slice(), extra].concat(), &heart, &dir.path().join("refused"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("--tune-bias") && err.contains(expected), "{err}");
    }
}

#[test]
fn the_feature_cache_reads_back_what_it_computed_and_recomputes_what_changed() {
    let Some(data) = common::shared_data() else { return };
    let (corpus, fresh, _) = tiny_heart(&data);
    let all: Vec<usize> = (0..corpus.examples.len()).collect();
    let task = tasks::task("heart").unwrap();
    let search = SearchPath { dirs: vec![common::plugin_dir().to_path_buf()] };
    let preprocessor = |n_mels: usize| Preprocessor::new(FeatureConfig { n_mels, ..task.features.clone() }, task.chain, &search).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");

    // First run: everything computed, and the same as without a cache.
    let mut pre = preprocessor(task.features.n_mels);
    let mut cache = MelCache::on_disk(&cache_dir, &pre).unwrap();
    let first = mel_dataset(&corpus, &all, &mut pre, &mut cache, |_| {}).unwrap();
    assert_eq!((cache.read_back, cache.computed), (0, corpus.examples.len()));
    assert_eq!(first.examples, fresh.examples);
    // A later run with the same settings reads every one back, bit for bit.
    let mut cache = MelCache::on_disk(&cache_dir, &pre).unwrap();
    let again = mel_dataset(&corpus, &all, &mut pre, &mut cache, |_| {}).unwrap();
    assert_eq!((cache.read_back, cache.computed), (corpus.examples.len(), 0));
    assert_eq!(again.examples, first.examples);
    // Other mel settings are another key: computed again.
    let mut other = preprocessor(32);
    let mut cache = MelCache::on_disk(&cache_dir, &other).unwrap();
    let narrower = mel_dataset(&corpus, &all[..3], &mut other, &mut cache, |_| {}).unwrap();
    assert_eq!((cache.read_back, cache.computed), (0, 3));
    assert_eq!(narrower.examples[0].mel.n_mels, 32);

    // A recording replaced in place (other audio, a later time) is computed
    // again, not served from the old entry.
    let recording = dir.path().join("clip.wav");
    std::fs::copy(&corpus.examples[0].path, &recording).unwrap();
    let mut cache = MelCache::on_disk(&cache_dir, &pre).unwrap();
    let before = cache.get(&recording, &mut pre).unwrap().clone();
    std::fs::copy(&corpus.examples[1].path, &recording).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options().write(true).open(&recording).unwrap().set_modified(later).unwrap();
    let mut cache = MelCache::on_disk(&cache_dir, &pre).unwrap();
    let after = cache.get(&recording, &mut pre).unwrap().clone();
    assert_eq!(cache.computed, 1);
    assert_ne!(after, before);
    assert_eq!(after, pre.file(&corpus.examples[1].path).unwrap());

    // Entries cut short (a full disk, a killed run's leftovers) are
    // computed again and rewritten, never read as they are.
    for entry in walk(&cache_dir) {
        let bytes = std::fs::read(&entry).unwrap();
        std::fs::write(&entry, &bytes[..bytes.len() / 2]).unwrap();
    }
    let mut cache = MelCache::on_disk(&cache_dir, &pre).unwrap();
    let repaired = mel_dataset(&corpus, &all, &mut pre, &mut cache, |_| {}).unwrap();
    assert_eq!((cache.read_back, cache.computed), (0, corpus.examples.len()));
    assert_eq!(repaired.examples, first.examples);
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Every model in `models/` loads (card, weights and their sha256, the
/// architecture) and classifies real recordings of its own task, with a
/// probability for each of its classes: a model shipped without a recording
/// it can be run on, or with a card that no longer fits its weights, fails.
#[test]
fn every_shipped_model_loads_and_classifies_recordings_of_its_task() {
    let Some(data) = common::shared_data() else { return };
    let root = common::workspace_root();
    let mut names: Vec<String> = std::fs::read_dir(root.join("models"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("card.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    for name in &names {
        let card = ModelCard::load(&root.join("models").join(name).join("card.toml")).unwrap();
        let files = match card.task.as_str() {
            "heart" => vec![data.join("heart-yaseen2018/MS/New_MS_001.wav")],
            "heart-murmur" => vec![data.join("circor/training_data/49966_MV.wav")],
            "heart-abnormal" => vec![data.join("physionet2016/training-a/a0038.wav"), data.join("physionet2016/training-e/e01135.wav")],
            other => panic!("{name}: no recording of task {other} to run it on; add one here"),
        };
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auscult"))
            .args(["analyze", "--model", name, "--format", "json"])
            .args(&files)
            .current_dir(&root)
            .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.len(), files.len(), "{name}");
        for row in &rows {
            let probs = row["probabilities"].as_object().unwrap();
            assert_eq!(probs.len(), card.classes.len(), "{name}: {row}");
            assert!(card.classes.iter().all(|c| probs.contains_key(c)), "{name}: {row}");
            let sum: f64 = probs.values().map(|v| v.as_f64().unwrap()).sum();
            assert!((sum - 1.0).abs() < 1e-4, "{name}: {row}");
        }
    }
}
