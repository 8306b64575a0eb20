//! A training run's state after an epoch, on disk (`train --resumable`),
//! so that a run cut off by a lost session or a power cut continues where
//! it stopped when the same command runs again.
//!
//! One file holds everything: a JSON header (which run it belongs to, the
//! epoch, the step count, the epoch order, the best epoch so far and the
//! log) and three burnpacks (the network with its parameter ids, Adam's
//! moments keyed by those ids, and the best epoch's network), each named in
//! the header with its length and sha256. It is written beside its place,
//! synced and renamed over the last one, so a cut write leaves the previous
//! epoch's checkpoint whole. A file that does not read back whole is an
//! error naming it, never a silent fresh start: the epochs it holds took
//! hours.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::training::EpochLog;

const MAGIC: &[u8] = b"auscult checkpoint 1\n";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a whole checkpoint ({reason}); it was cut or changed, so remove it to train from the start")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} is the checkpoint of another run ({theirs}), not of this one ({ours}); remove it or train into another --out")]
    OtherRun { path: PathBuf, theirs: String, ours: String },
}

/// Which run a checkpoint belongs to: the card's command, the ensemble
/// member, and the sizes and labels of the sets it trains and stops on.
/// Another run's checkpoint is refused rather than continued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunId(pub String);

impl RunId {
    pub fn new(command: &str, member: usize, train_labels: impl Iterator<Item = usize>, validation_labels: impl Iterator<Item = usize>) -> RunId {
        let digest = |labels: &mut dyn Iterator<Item = usize>| {
            let mut hash = Sha256::new();
            let mut n = 0usize;
            for label in labels {
                hash.update((label as u64).to_le_bytes());
                n += 1;
            }
            let hex: String = hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
            format!("{n} examples, labels {hex}")
        };
        let (mut train, mut validation) = (train_labels, validation_labels);
        RunId(format!("{command} | member {member} | train {} | validation {}", digest(&mut train), digest(&mut validation)))
    }
}

/// Where a run's checkpoint lives, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpointing {
    pub path: PathBuf,
    pub run: RunId,
}

/// The best epoch so far: its validation score and number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Best {
    pub score: f64,
    pub epoch: usize,
}

/// Everything an epoch's end leaves behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The last epoch finished.
    pub epoch: usize,
    /// Optimiser steps taken (the learning-rate schedule's position).
    pub steps: usize,
    /// Whether the run has stopped (patience, the last epoch, or its step
    /// budget): a finished run is not trained further.
    pub done: bool,
    /// The epoch order as the epoch left it (each epoch's shuffle starts
    /// from the last one's).
    pub order: Vec<usize>,
    pub best: Option<Best>,
    pub log: Vec<EpochLog>,
    /// Burnpack of the network with its parameter ids.
    pub model: Vec<u8>,
    /// Burnpack of Adam's state, keyed by those ids.
    pub optimizer: Vec<u8>,
    /// Burnpack of the best epoch's network (empty without one).
    pub best_model: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    run: String,
    epoch: usize,
    steps: usize,
    done: bool,
    order: Vec<usize>,
    best: Option<Best>,
    log: Vec<EpochLog>,
    /// Name, length and sha256 of each blob, in file order.
    blobs: Vec<(String, usize, String)>,
}

const BLOBS: [&str; 3] = ["model", "optimizer", "best_model"];

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl Checkpoint {
    /// Writes the checkpoint to `path` whole or not at all.
    pub fn save(&self, path: &Path, run: &RunId) -> Result<(), CheckpointError> {
        let io = |source| CheckpointError::Io { path: path.to_path_buf(), source };
        let blobs = [&self.model, &self.optimizer, &self.best_model];
        let header = Header {
            run: run.0.clone(),
            epoch: self.epoch,
            steps: self.steps,
            done: self.done,
            order: self.order.clone(),
            best: self.best,
            log: self.log.clone(),
            blobs: BLOBS.iter().zip(blobs).map(|(name, b)| ((*name).to_string(), b.len(), hex(b))).collect(),
        };
        let json = serde_json::to_vec(&header).map_err(|e| io(std::io::Error::other(e)))?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(MAGIC)?;
            file.write_all(&(json.len() as u64).to_le_bytes())?;
            file.write_all(&json)?;
            for blob in blobs {
                file.write_all(blob)?;
            }
            // On disk before it replaces the last epoch's.
            file.sync_all()?;
            std::fs::rename(&tmp, path)?;
            // The rename itself, for a power cut right after it.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// The checkpoint at `path` if there is one (none: the run starts
    /// afresh); an error for a cut or changed file or another run's.
    pub fn load(path: &Path, run: &RunId) -> Result<Option<Checkpoint>, CheckpointError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CheckpointError::Io { path: path.to_path_buf(), source }),
        };
        let corrupt = |reason: String| CheckpointError::Corrupt { path: path.to_path_buf(), reason };
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| corrupt("it does not start as a checkpoint does".into()))?;
        let (len, rest) = rest.split_first_chunk::<8>().ok_or_else(|| corrupt("it ends inside its header".into()))?;
        let len = usize::try_from(u64::from_le_bytes(*len)).unwrap_or(usize::MAX);
        let (json, mut rest) = (rest.get(..len), rest.get(len..).unwrap_or_default());
        let json = json.ok_or_else(|| corrupt("it ends inside its header".into()))?;
        let header: Header = serde_json::from_slice(json).map_err(|e| corrupt(format!("header: {e}")))?;
        if header.run != run.0 {
            return Err(CheckpointError::OtherRun { path: path.to_path_buf(), theirs: header.run, ours: run.0.clone() });
        }
        let names: Vec<&str> = header.blobs.iter().map(|(n, ..)| n.as_str()).collect();
        if names != BLOBS {
            return Err(corrupt(format!("it holds {names:?}, not {BLOBS:?}")));
        }
        let mut blobs = Vec::new();
        for (name, len, sha) in &header.blobs {
            let blob = rest.get(..*len).ok_or_else(|| corrupt(format!("it ends inside {name}")))?;
            if hex(blob) != *sha {
                return Err(corrupt(format!("{name} does not match its sha256")));
            }
            blobs.push(blob.to_vec());
            rest = &rest[*len..];
        }
        if !rest.is_empty() {
            return Err(corrupt(format!("{} bytes follow its last part", rest.len())));
        }
        let [model, optimizer, best_model] = <[Vec<u8>; 3]>::try_from(blobs).map_err(|_| corrupt("three parts expected".into()))?;
        if header.epoch != header.log.len() {
            return Err(corrupt(format!("epoch {} with {} logged", header.epoch, header.log.len())));
        }
        Ok(Some(Checkpoint {
            epoch: header.epoch,
            steps: header.steps,
            done: header.done,
            order: header.order,
            best: header.best,
            log: header.log,
            model,
            optimizer,
            best_model,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            epoch: 2,
            steps: 14,
            done: false,
            order: vec![3, 1, 0, 2],
            best: Some(Best { score: 0.5, epoch: 1 }),
            log: (1..=2)
                .map(|epoch| EpochLog { epoch, train_loss: 0.7, validation_loss: Some(0.6), validation_balanced_accuracy: None, seconds: 1.5 })
                .collect(),
            model: vec![1, 2, 3],
            optimizer: vec![4; 10],
            best_model: Vec::new(),
        }
    }

    #[test]
    fn a_checkpoint_reads_back_as_written_and_only_for_its_own_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.bin");
        let run = RunId::new("auscult train --task t", 0, [0, 1, 1].into_iter(), [1].into_iter());
        assert_eq!(Checkpoint::load(&path, &run).unwrap(), None, "no file: a fresh start");
        sample().save(&path, &run).unwrap();
        assert_eq!(Checkpoint::load(&path, &run).unwrap(), Some(sample()));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("checkpoint.bin")], "no temporary file left");

        // Another member, other labels or another command: refused, naming the file.
        for other in [
            RunId::new("auscult train --task t", 1, [0, 1, 1].into_iter(), [1].into_iter()),
            RunId::new("auscult train --task t", 0, [0, 1, 0].into_iter(), [1].into_iter()),
            RunId::new("auscult train --task u", 0, [0, 1, 1].into_iter(), [1].into_iter()),
        ] {
            let err = Checkpoint::load(&path, &other).unwrap_err();
            assert!(matches!(err, CheckpointError::OtherRun { .. }), "{err}");
            assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        }
    }

    #[test]
    fn a_cut_or_changed_checkpoint_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.bin");
        let run = RunId::new("c", 0, [0].into_iter(), [].into_iter());
        sample().save(&path, &run).unwrap();
        let whole = std::fs::read(&path).unwrap();
        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let mut longer = whole.clone();
        longer.push(0);
        for (what, bytes) in [
            ("cut", whole[..whole.len() - 3].to_vec()),
            ("cut in its header", whole[..30].to_vec()),
            ("a changed byte", flipped),
            ("a byte more", longer),
            ("not a checkpoint", b"hello".to_vec()),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            let err = Checkpoint::load(&path, &run).expect_err(what);
            assert!(matches!(err, CheckpointError::Corrupt { .. }), "{what}: {err}");
            assert!(err.to_string().contains("checkpoint.bin"), "{what}: {err}");
        }
    }
}
