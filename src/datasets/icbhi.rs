//! The ICBHI 2017 Respiratory Sound Database, in its original layout:
//! `audio_and_txt_files/NNN_RRR_LL_MM_DEVICE.{wav,txt}`,
//! `patient_diagnosis.csv` and `ICBHI_challenge_train_test.txt`.
//!
//! Two tasks: `lung-cycles` (each annotated breath cycle, 4 classes:
//! normal, crackle, wheeze, both) and `icbhi-diagnosis` (each recording,
//! healthy / chronic / non-chronic); and the recordings in KAUH's six
//! diagnoses, as extra training patients for `lung-diagnosis`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{io, Corpus, DatasetError, DatasetLoader, Example};
use crate::audio::session::parse_annotations;

pub const CYCLE_CLASSES: [&str; 4] = ["normal", "crackle", "wheeze", "both"];
pub const DIAGNOSIS_CLASSES: [&str; 3] = ["healthy", "chronic", "non-chronic"];

/// The Kaggle copy names one recording differently from the split file.
const ALIASES: [(&str, &str); 1] = [("226_1b1_Pl_sc_LittC2SE", "226_1b1_Pl_sc_Meditron")];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcbhiTask {
    Cycles,
    Diagnosis,
    /// Each recording, its patient's diagnosis in KAUH's classes
    /// (`kauh::CLASSES`).
    KauhDiagnosis,
}

pub struct Icbhi {
    pub task: IcbhiTask,
}

/// The official split: recording name -> true for train.
pub fn official_split(dir: &Path) -> Result<HashMap<String, bool>, DatasetError> {
    let path = dir.join("ICBHI_challenge_train_test.txt");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let mut split = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            [] => continue,
            [name, "train"] => split.insert(name.to_string(), true),
            [name, "test"] => split.insert(name.to_string(), false),
            _ => return Err(DatasetError::Line { path, line: i + 1, reason: format!("expected `NAME train|test`, got {line:?}") }),
        };
    }
    Ok(split)
}

/// The split file's name for a recording (resolving the naming alias).
pub fn split_name(stem: &str) -> &str {
    ALIASES.iter().find(|(kaggle, _)| *kaggle == stem).map_or(stem, |(_, official)| official)
}

fn diagnoses(dir: &Path) -> Result<HashMap<String, String>, DatasetError> {
    let path = dir.join("patient_diagnosis.csv");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let mut map = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let Some((id, class)) = line.split_once(',') else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(DatasetError::Line { path, line: i + 1, reason: "expected `ID,CLASS`".into() });
        };
        if id.trim() == "ID" {
            continue;
        }
        map.insert(id.trim().to_string(), class.trim().to_string());
    }
    Ok(map)
}

fn diagnosis_class(diagnosis: &str) -> Option<usize> {
    match diagnosis.to_ascii_lowercase().as_str() {
        "healthy" => Some(0),
        "copd" | "bronchiectasis" | "asthma" => Some(1),
        "urti" | "lrti" | "pneumonia" | "bronchiolitis" => Some(2),
        _ => None,
    }
}

/// An ICBHI diagnosis in KAUH's classes, where KAUH has it: healthy,
/// asthma, COPD and pneumonia by name (heart failure too, which the
/// database's own file never names), bronchiectasis as "other" (KAUH's
/// `BRON` is there). ICBHI's infections (URTI, LRTI, bronchiolitis) are in
/// none of KAUH's classes, and are left out rather than guessed into one.
fn kauh_class(diagnosis: &str) -> Option<usize> {
    match diagnosis.to_ascii_lowercase().as_str() {
        "healthy" => Some(0),
        "asthma" => Some(1),
        "heart failure" => Some(2),
        "copd" => Some(3),
        "pneumonia" => Some(4),
        "bronchiectasis" => Some(5),
        _ => None,
    }
}

impl DatasetLoader for Icbhi {
    fn name(&self) -> &'static str {
        match self.task {
            IcbhiTask::Cycles => "lung-cycles",
            IcbhiTask::Diagnosis => "icbhi-diagnosis",
            IcbhiTask::KauhDiagnosis => "icbhi-in-kauh-classes",
        }
    }

    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError> {
        let audio_dir = dir.join("audio_and_txt_files");
        if !audio_dir.is_dir() {
            return Err(DatasetError::Layout { path: dir.into(), reason: "no audio_and_txt_files/ (the ICBHI layout)".into() });
        }
        let diagnoses = if self.task == IcbhiTask::Cycles { HashMap::new() } else { diagnoses(dir)? };
        let mut texts: Vec<PathBuf> = std::fs::read_dir(&audio_dir)
            .map_err(io(&audio_dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        texts.sort();
        let mut corpus = Corpus {
            name: self.name().into(),
            classes: match self.task {
                IcbhiTask::Cycles => CYCLE_CLASSES.iter().map(|s| s.to_string()).collect(),
                IcbhiTask::Diagnosis => DIAGNOSIS_CLASSES.iter().map(|s| s.to_string()).collect(),
                IcbhiTask::KauhDiagnosis => super::kauh::CLASSES.iter().map(|s| s.to_string()).collect(),
            },
            examples: Vec::new(),
            warnings: Vec::new(),
        };
        // The database's annotations cover all 920 recordings; a copy with
        // part of the audio is normal, and said once.
        let mut no_audio = Vec::new();
        for txt in texts {
            let wav = txt.with_extension("wav");
            let stem = txt.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let patient = stem.split('_').next().unwrap_or_default().to_string();
            if !wav.is_file() {
                no_audio.push(wav);
                continue;
            }
            match self.task {
                IcbhiTask::Cycles => {
                    let text = std::fs::read_to_string(&txt).map_err(io(&txt))?;
                    let cycles = parse_annotations(&text, &txt).map_err(|e| DatasetError::Layout { path: txt.clone(), reason: e.to_string() })?;
                    for c in cycles {
                        let label = usize::from(c.crackles) + 2 * usize::from(c.wheezes);
                        corpus.examples.push(Example { path: wav.clone(), patient: patient.clone(), label, span: Some((c.start_s, c.end_s)) });
                    }
                }
                IcbhiTask::Diagnosis | IcbhiTask::KauhDiagnosis => {
                    let class = if self.task == IcbhiTask::Diagnosis { diagnosis_class } else { kauh_class };
                    let diagnosis = diagnoses.get(&patient).map(String::as_str);
                    match diagnosis.and_then(class) {
                        Some(label) => corpus.examples.push(Example { path: wav, patient, label, span: None }),
                        None => corpus.warnings.push(format!(
                            "{}: patient {patient}'s diagnosis ({}) is not one of the task's classes, skipped",
                            wav.display(),
                            diagnosis.unwrap_or("none given")
                        )),
                    }
                }
            }
        }
        if let Some(first) = no_audio.first() {
            corpus.warnings.push(format!("{} annotation files have no audio beside them, skipped (first: {})", no_audio.len(), first.display()));
        }
        if corpus.examples.is_empty() {
            return Err(DatasetError::Layout { path: dir.into(), reason: "no annotated recordings with audio".into() });
        }
        Ok(corpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kaggle_name_maps_to_the_split_files_name() {
        assert_eq!(split_name("226_1b1_Pl_sc_LittC2SE"), "226_1b1_Pl_sc_Meditron");
        assert_eq!(split_name("101_1b1_Al_sc_Meditron"), "101_1b1_Al_sc_Meditron");
    }

    #[test]
    fn a_missing_recording_is_skipped_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("audio_and_txt_files");
        std::fs::create_dir(&audio).unwrap();
        std::fs::write(audio.join("101_1b1_Al_sc_Meditron.txt"), "0.1\t1.2\t1\t0\n1.2\t2.5\t0\t1\n").unwrap();
        std::fs::write(audio.join("102_1b1_Ar_sc_Meditron.txt"), "0.1\t1.2\t0\t0\n").unwrap();
        crate::audio::wav::write_f32_mono(&audio.join("101_1b1_Al_sc_Meditron.wav"), &[0.0; 4000], 4000).unwrap();
        let corpus = Icbhi { task: IcbhiTask::Cycles }.load(dir.path()).unwrap();
        assert_eq!(corpus.examples.len(), 2);
        assert_eq!(corpus.examples[0].label, 1);
        assert_eq!(corpus.examples[1].label, 2);
        assert_eq!(corpus.examples[0].patient, "101");
        assert_eq!(corpus.warnings.len(), 1);
        assert!(
            corpus.warnings[0].starts_with("1 annotation files have no audio") && corpus.warnings[0].contains("102_1b1_Ar_sc_Meditron.wav"),
            "{:?}",
            corpus.warnings
        );
    }

    #[test]
    fn diagnoses_map_into_kauhs_classes_and_infections_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("audio_and_txt_files");
        std::fs::create_dir(&audio).unwrap();
        std::fs::write(dir.path().join("patient_diagnosis.csv"), "ID,CLASS\n101,COPD\n102,URTI\n103,Bronchiectasis\n104,Healthy\n").unwrap();
        for stem in ["101_1b1_Al_sc_Meditron", "102_1b1_Ar_sc_Meditron", "103_1b1_Ar_sc_Meditron", "104_1b1_Ar_sc_Meditron"] {
            std::fs::write(audio.join(format!("{stem}.txt")), "0.1\t1.2\t0\t0\n").unwrap();
            crate::audio::wav::write_f32_mono(&audio.join(format!("{stem}.wav")), &[0.0; 4000], 4000).unwrap();
        }
        let corpus = Icbhi { task: IcbhiTask::KauhDiagnosis }.load(dir.path()).unwrap();
        assert_eq!(corpus.classes, super::super::kauh::CLASSES);
        let labels: Vec<(&str, &str)> = corpus.examples.iter().map(|e| (e.patient.as_str(), corpus.classes[e.label].as_str())).collect();
        assert_eq!(labels, [("101", "copd"), ("103", "other"), ("104", "normal")]);
        assert_eq!(corpus.warnings.len(), 1);
        assert!(corpus.warnings[0].contains("102_1b1_Ar_sc_Meditron.wav") && corpus.warnings[0].contains("URTI"), "{:?}", corpus.warnings);
    }
}
