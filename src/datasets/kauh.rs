//! KAUH lung sounds (Fraiwan et al. 2021): `audio/*.wav`, labels in the
//! file name, e.g. `BP1_Asthma,I E W,P L L,70,M.wav`: filter mode and
//! patient, diagnosis, sound type, chest location, age, sex. Diagnoses are
//! spelled inconsistently (`Asthma`/`asthma`, `copd`, `Heart Failure + COPD`);
//! they are normalised to six classes.

use std::path::Path;

use super::{wav_files, Corpus, DatasetError, DatasetLoader, Example};

pub const CLASSES: [&str; 6] = ["normal", "asthma", "heart failure", "copd", "pneumonia", "other"];

pub struct Kauh;

/// The KAUH recordings labelled by the sound heard rather than the
/// diagnosis, in the ICBHI cycle classes (normal, crackle, wheeze, both):
/// more patients for the cycle model to learn crackles and wheezes from.
/// A recording whose only finding is bronchial breathing has no such class
/// and is left out. Labels are per recording, not per cycle.
pub struct KauhSounds;

/// The ICBHI cycle class (index into `icbhi::CYCLE_CLASSES`) of a KAUH
/// sound-type field (`N`, `E W`, `Crep`, `I C E W`, `I C B`, ...), or `None`
/// where it names neither crackles, wheezes nor normal breathing.
pub fn sound_class(field: &str) -> Option<usize> {
    let tokens: Vec<String> = field.split_whitespace().map(str::to_ascii_lowercase).collect();
    let has = |names: &[&str]| tokens.iter().any(|t| names.contains(&t.as_str()));
    let crackles = has(&["c", "crep", "crepitations", "crackles"]);
    let wheezes = has(&["w", "wheeze", "wheezes"]);
    match (crackles, wheezes) {
        (true, true) => Some(3),
        (true, false) => Some(1),
        (false, true) => Some(2),
        (false, false) if has(&["n", "normal"]) => Some(0),
        _ => None,
    }
}

/// The sound type (an ICBHI cycle class, as [`sound_class`]) a KAUH
/// recording's file name gives, with its patient; `None` for a name that
/// is not KAUH's or names no crackle, wheeze or normal breathing.
pub fn sound_type(path: &Path) -> Option<(String, usize)> {
    let stem = path.file_stem()?.to_string_lossy();
    let name = parse_name(&stem)?;
    Some((name.patient, sound_class(stem.split(',').nth(1)?)?))
}

/// What a KAUH file name says.
#[derive(Debug, Clone, PartialEq)]
pub struct KauhName {
    /// B (bell), D (diaphragm) or E (extended).
    pub filter: char,
    /// `P<n>`: the three filter modes of one patient share it.
    pub patient: String,
    pub diagnosis: String,
    pub class: usize,
}

/// Parses a KAUH file stem; `None` if it does not follow the pattern.
pub fn parse_name(stem: &str) -> Option<KauhName> {
    let mut fields = stem.split(',');
    let head = fields.next()?;
    let (id, diagnosis) = head.split_once('_')?;
    let mut chars = id.chars();
    let filter = chars.next()?.to_ascii_uppercase();
    let patient = chars.as_str().to_ascii_uppercase();
    if !matches!(filter, 'B' | 'D' | 'E') || !patient.starts_with('P') || patient.len() < 2 {
        return None;
    }
    let normalized = diagnosis.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let class = match normalized.as_str() {
        "n" | "normal" => 0,
        "asthma" => 1,
        "heart failure" => 2,
        "copd" => 3,
        "pneumonia" => 4,
        "" => return None,
        _ => 5, // lung fibrosis, pleural effusion, BRON, and combinations
    };
    Some(KauhName { filter, patient, diagnosis: normalized, class })
}

impl DatasetLoader for Kauh {
    fn name(&self) -> &'static str {
        "lung-diagnosis"
    }

    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError> {
        let audio = audio_dir(dir);
        let mut corpus =
            Corpus { name: self.name().into(), classes: CLASSES.iter().map(|s| s.to_string()).collect(), examples: Vec::new(), warnings: Vec::new() };
        for path in wav_files(&audio)? {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            match parse_name(&stem) {
                Some(name) => corpus.examples.push(Example { path, patient: name.patient, label: name.class, span: None }),
                None => corpus.warnings.push(format!("{}: not a KAUH file name, skipped", path.display())),
            }
        }
        if corpus.examples.is_empty() {
            return Err(DatasetError::Layout { path: dir.into(), reason: "no KAUH recordings (audio/*.wav named like BP1_Asthma,...)".into() });
        }
        Ok(corpus)
    }
}

/// `DIR/audio` in the published layout, or `DIR` itself.
fn audio_dir(dir: &Path) -> std::path::PathBuf {
    if dir.join("audio").is_dir() {
        dir.join("audio")
    } else {
        dir.to_path_buf()
    }
}

impl DatasetLoader for KauhSounds {
    fn name(&self) -> &'static str {
        "kauh-sounds"
    }

    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError> {
        let mut corpus = Corpus {
            name: self.name().into(),
            classes: super::icbhi::CYCLE_CLASSES.iter().map(|s| s.to_string()).collect(),
            examples: Vec::new(),
            warnings: Vec::new(),
        };
        for path in wav_files(&audio_dir(dir))? {
            match sound_type(&path) {
                // Prefixed: KAUH's P1 is not ICBHI's 101.
                Some((patient, label)) => corpus.examples.push(Example { path, patient: format!("KAUH-{patient}"), label, span: None }),
                None => corpus.warnings.push(format!("{}: no crackle, wheeze or normal sound type in the name, skipped", path.display())),
            }
        }
        if corpus.examples.is_empty() {
            return Err(DatasetError::Layout {
                path: dir.into(),
                reason: "no KAUH recordings with a sound type (audio/*.wav named like BP1_Asthma,I E W,...)".into(),
            });
        }
        Ok(corpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sound_types_map_to_cycle_classes() {
        let cases = [
            ("N", Some(0)),
            ("E W", Some(2)),
            ("I E W", Some(2)),
            ("Crep", Some(1)),
            ("C", Some(1)),
            ("I C", Some(1)),
            ("I C E W", Some(3)),
            ("I C B", Some(1)),
            ("Bronchial", None),
            ("", None),
        ];
        for (field, class) in cases {
            assert_eq!(sound_class(field), class, "{field:?}");
        }
    }

    #[test]
    fn inconsistent_spellings_normalise() {
        let cases = [
            ("BP1_Asthma,I E W,P L L,70,M", 'B', "P1", 1),
            ("EP27_asthma,E W,P R M,53,F", 'E', "P27", 1),
            ("DP24_heart failure,Crep,P R L ,76,F", 'D', "P24", 2),
            ("EP13_Heart Failure,C,P L L,55,M", 'E', "P13", 2),
            ("BP25_copd,E W,P L L,76,M", 'B', "P25", 3),
            ("EP100_N,N,P R M,70,F", 'E', "P100", 0),
            ("EP41_pneumonia,Crep,P R M,51,M", 'E', "P41", 4),
            ("BP2_Heart Failure + COPD,C,P L L,63,M", 'B', "P2", 5),
            ("BP3_Plueral Effusion,C,P L L,63,M", 'B', "P3", 5),
        ];
        for (stem, filter, patient, class) in cases {
            let n = parse_name(stem).unwrap_or_else(|| panic!("{stem}"));
            assert_eq!((n.filter, n.patient.as_str(), n.class), (filter, patient, class), "{stem}");
        }
        assert!(parse_name("recording_1").is_none());
    }
}
