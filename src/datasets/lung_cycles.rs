//! `lung-cycles` from whichever corpus a directory holds, in ICBHI's four
//! classes (normal, crackle, wheeze, both): ICBHI's annotated breath
//! cycles, SPRSound's events (mapped as [`super::sprsound`] says), or KAUH's
//! recordings by the sound type in their names. One task, so that a model
//! trained on one corpus's training side is scored on another's test set
//! with the same command.

use std::path::Path;

use super::icbhi::{Icbhi, IcbhiTask};
use super::kauh::KauhSounds;
use super::sprsound::{self, Sprsound, SprsoundTask};
use super::{Corpus, DatasetError, DatasetLoader};

pub struct LungCycles;

/// Which corpus a directory holds, by its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Icbhi,
    Sprsound,
    Kauh,
}

pub fn layout(dir: &Path) -> Layout {
    if dir.join("audio_and_txt_files").is_dir() {
        Layout::Icbhi
    } else if sprsound::root(dir).is_some() {
        Layout::Sprsound
    } else {
        Layout::Kauh
    }
}

impl DatasetLoader for LungCycles {
    fn name(&self) -> &'static str {
        "lung-cycles"
    }

    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError> {
        match layout(dir) {
            Layout::Icbhi => Icbhi { task: IcbhiTask::Cycles }.load(dir),
            Layout::Sprsound => Sprsound { task: SprsoundTask::Cycles }.load(dir),
            Layout::Kauh => KauhSounds.load(dir).map_err(|e| match e {
                DatasetError::Layout { path, reason } => {
                    DatasetError::Layout { path, reason: format!("not ICBHI (audio_and_txt_files/), SPRSound (Classification/) or KAUH: {reason}") }
                }
                other => other,
            }),
        }
    }
}
