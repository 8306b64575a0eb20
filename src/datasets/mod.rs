//! Labelled recordings for training and evaluation.
//!
//! One trait, [`DatasetLoader`], and a loader per layout: the ICBHI 2017
//! database as distributed, SPRSound's `Classification/` tree, the KAUH
//! lung sounds (labels in file names), CirCor DigiScope 2022 and
//! PhysioNet/CinC 2016 heart sounds,
//! the heart-sound class folders (Yaseen 2018), and any "folder per class"
//! tree. Each yields a [`Corpus`]: labelled [`Example`]s that know their
//! patient, so that splits can keep a patient on one side only.

pub mod circor;
pub mod folder;
pub mod heart;
pub mod icbhi;
pub mod kauh;
pub mod lung_cycles;
pub mod physionet2016;
pub mod split;
pub mod sprsound;

use std::path::{Path, PathBuf};

/// A labelled stretch of a recording: a whole file, or one breath cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub path: PathBuf,
    /// Who was recorded; splits never put one patient on both sides.
    pub patient: String,
    /// Index into [`Corpus::classes`].
    pub label: usize,
    /// Seconds into the file; `None` for the whole file.
    pub span: Option<(f64, f64)>,
}

/// What a loader returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    pub name: String,
    pub classes: Vec<String>,
    pub examples: Vec<Example>,
    /// Problems that did not stop the load (e.g. a recording without audio).
    pub warnings: Vec<String>,
}

impl Corpus {
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for e in &self.examples {
            counts[e.label] += 1;
        }
        counts
    }

    /// Distinct patients, in first-seen order.
    pub fn patients(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        self.examples.iter().filter(|e| seen.insert(e.patient.clone())).map(|e| e.patient.clone()).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: {reason}", path.display())]
    Line { path: PathBuf, line: usize, reason: String },
    #[error("{}: {reason}", path.display())]
    Layout { path: PathBuf, reason: String },
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io { path: path.to_path_buf(), source }
}

/// Loads one dataset layout from a directory.
pub trait DatasetLoader {
    /// Short name, as `--task` and model cards use it.
    fn name(&self) -> &'static str;
    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError>;
}

/// The name of the folder holding `path` (a class folder, a site), or ""
/// for a path without one.
pub fn folder_of(path: &Path) -> String {
    path.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The audio files (`.wav`, `.flac`) directly in `dir`, sorted.
pub(crate) fn wav_files(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    files_with(dir, &["wav", "flac"])
}

/// The files directly in `dir` whose extension is one of `extensions`
/// (any case), sorted.
pub(crate) fn files_with(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, DatasetError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x))))
        .collect();
    files.sort();
    Ok(files)
}
