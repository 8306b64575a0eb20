//! A generic "folder per class" tree for users' own data:
//! `DIR/<class>/*.wav`. Patients are read from a `<patient>_` prefix of the
//! file name when every file has one; otherwise each file counts as its own
//! patient (say so in the model card: splits cannot then be patient-disjoint).

use std::path::Path;

use super::{io, wav_files, Corpus, DatasetError, DatasetLoader, Example};

pub struct ClassFolders {
    pub name: &'static str,
    /// Read patients from a `<patient>_` file-name prefix when every file has one.
    pub patient_prefix: bool,
}

impl DatasetLoader for ClassFolders {
    fn name(&self) -> &'static str {
        self.name
    }

    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError> {
        let mut classes: Vec<String> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| !n.starts_with('.'))
            .collect();
        classes.sort();
        let mut corpus = Corpus { name: self.name.into(), classes: Vec::new(), examples: Vec::new(), warnings: Vec::new() };
        for class in classes {
            let files = wav_files(&dir.join(&class))?;
            if files.is_empty() {
                corpus.warnings.push(format!("{}: no audio files, not a class", dir.join(&class).display()));
                continue;
            }
            let label = corpus.classes.len();
            corpus.classes.push(class);
            for path in files {
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                corpus.examples.push(Example { patient: stem, path, label, span: None });
            }
        }
        if corpus.classes.len() < 2 {
            return Err(DatasetError::Layout { path: dir.into(), reason: "need at least two class folders with audio".into() });
        }
        // Patient prefixes, only if every file has one.
        let prefixes: Option<Vec<String>> =
            corpus.examples.iter().map(|e| e.patient.split_once('_').map(|(p, _)| p.to_string()).filter(|p| !p.is_empty())).collect();
        if let Some(prefixes) = prefixes.filter(|_| self.patient_prefix) {
            for (e, p) in corpus.examples.iter_mut().zip(prefixes) {
                e.patient = p;
            }
        }
        Ok(corpus)
    }
}
