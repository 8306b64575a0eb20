//! Heart sounds in class folders, the layout of Yaseen, Son and Kwon (2018):
//! `N/`, `MR/`, `MS/`, `MVP/` (and `AS/` where present). The set records no
//! patient identifiers, so each recording counts as its own patient; model
//! cards say so.

use std::path::Path;

use super::folder::ClassFolders;
use super::{Corpus, DatasetError, DatasetLoader};

pub struct HeartFolders;

/// Class folders in their canonical order (normal first).
const ORDER: [&str; 5] = ["N", "AS", "MR", "MS", "MVP"];

impl DatasetLoader for HeartFolders {
    fn name(&self) -> &'static str {
        "heart"
    }

    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError> {
        let mut corpus = ClassFolders { name: "heart", patient_prefix: false }.load(dir)?;
        if !corpus.classes.iter().any(|c| c == "N") {
            return Err(DatasetError::Layout { path: dir.into(), reason: "no N/ (normal) folder: not the heart-sound layout".into() });
        }
        // Normal first, then the murmur classes in a fixed order.
        let rank = |c: &str| ORDER.iter().position(|o| *o == c).unwrap_or(ORDER.len());
        let mut order: Vec<usize> = (0..corpus.classes.len()).collect();
        order.sort_by_key(|&i| (rank(&corpus.classes[i]), corpus.classes[i].clone()));
        let remap: Vec<usize> = (0..order.len()).map(|old| order.iter().position(|&o| o == old).unwrap_or(old)).collect();
        corpus.classes = order.iter().map(|&i| corpus.classes[i].clone()).collect();
        for e in &mut corpus.examples {
            e.label = remap[e.label];
        }
        corpus.examples.sort_by_key(|e| e.label);
        Ok(corpus)
    }
}
