//! CirCor DigiScope 2022 (Oliveira J. et al. 2022, IEEE JBHI; the
//! PhysioNet/CinC Challenge 2022): heart sounds of 942 children and
//! pregnant women from Brazil, in the publisher's layout:
//!
//! ```text
//! training_data.csv                 one row per patient: Patient ID, Locations,
//!                                   Murmur (Present/Absent/Unknown), Murmur locations, ...
//! training_data/PID_LOC[_N].wav     4 kHz, one per auscultation location (AV, PV,
//!                                   TV, MV, Phc; `_1`, `_2` where one was repeated)
//! training_data/PID_LOC[_N].tsv     segmentation: start s, end s, state (0 none,
//!                                   1 S1, 2 systole, 3 S2, 4 diastole)
//! ```
//!
//! The murmur label is the patient's. A recording is labelled `present`
//! where its patient has a murmur and the annotators heard it at that
//! location, `absent` where they did not (at that location, or at all), and
//! `unknown` where they could not tell. Scored per patient, as the challenge
//! does, a patient is present if any recording is, else unknown if any is,
//! else absent.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{files_with, io, Corpus, DatasetError, DatasetLoader, Example};

/// Murmur classes, normal first.
pub const MURMUR_CLASSES: [&str; 3] = ["absent", "present", "unknown"];

/// The patient table's name beside `training_data/`.
const TABLE: &str = "training_data.csv";
const AUDIO: &str = "training_data";

/// One row of `training_data.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub id: String,
    /// Index into [`MURMUR_CLASSES`].
    pub murmur: usize,
    /// Where the murmur is audible (`AV`, `MV`, ...); empty unless present.
    pub murmur_locations: Vec<String>,
    /// Its line in the table (1 is the header).
    pub line: usize,
}

/// One recording and what is known about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub wav: PathBuf,
    /// Its segmentation, where the publisher has one.
    pub tsv: Option<PathBuf>,
    pub patient: String,
    /// `AV`, `PV`, `TV`, `MV` or `Phc` (without the `_N` of a repeat).
    pub location: String,
    /// Index into [`MURMUR_CLASSES`], for this recording (see the module).
    pub murmur: usize,
}

/// The folder holding `training_data.csv`: `dir` itself.
fn table(dir: &Path) -> Result<PathBuf, DatasetError> {
    let path = dir.join(TABLE);
    if path.is_file() && dir.join(AUDIO).is_dir() {
        Ok(path)
    } else {
        Err(DatasetError::Layout { path: dir.into(), reason: format!("no {TABLE} beside a {AUDIO}/ folder (the CirCor DigiScope layout)") })
    }
}

/// The patient table, every row checked: a row that cannot be read is an
/// error naming its line.
pub fn patients(dir: &Path) -> Result<Vec<Patient>, DatasetError> {
    let path = table(dir)?;
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).from_path(&path).map_err(|e| DatasetError::Layout { path: path.clone(), reason: e.to_string() })?;
    let headers = reader.headers().map_err(|e| DatasetError::Line { path: path.clone(), line: 1, reason: e.to_string() })?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h.trim() == name).ok_or_else(|| DatasetError::Line { path: path.clone(), line: 1, reason: format!("no {name:?} column") })
    };
    let (id_col, murmur_col, where_col) = (column("Patient ID")?, column("Murmur")?, column("Murmur locations")?);
    let mut patients = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            DatasetError::Line { path: path.clone(), line, reason: e.to_string() }
        })?;
        let line = row.position().map_or(0, |p| p.line() as usize);
        let at = |reason: String| DatasetError::Line { path: path.clone(), line, reason };
        if row.len() != headers.len() {
            return Err(at(format!("{} fields where the header has {}", row.len(), headers.len())));
        }
        let id = row[id_col].trim();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(at(format!("Patient ID {id:?} is not a number")));
        }
        let murmur = MURMUR_CLASSES
            .iter()
            .position(|c| c.eq_ignore_ascii_case(row[murmur_col].trim()))
            .ok_or_else(|| at(format!("Murmur {:?} is not Present, Absent or Unknown", &row[murmur_col])))?;
        let murmur_locations = match row[where_col].trim() {
            "" | "nan" => Vec::new(),
            list => list.split('+').map(|l| l.trim().to_string()).collect(),
        };
        patients.push(Patient { id: id.to_string(), murmur, murmur_locations, line });
    }
    if patients.is_empty() {
        return Err(DatasetError::Layout { path, reason: "no patients".into() });
    }
    Ok(patients)
}

/// The patient and location a recording's name gives: `50782_AV_1` →
/// (`50782`, `AV`).
fn parse_stem(stem: &str) -> Option<(&str, &str)> {
    let mut fields = stem.split('_');
    let (patient, location) = (fields.next()?, fields.next()?);
    let repeat_ok = fields.next().is_none_or(|n| n.chars().all(|c| c.is_ascii_digit()));
    (!patient.is_empty() && patient.chars().all(|c| c.is_ascii_digit()) && !location.is_empty() && repeat_ok).then_some((patient, location))
}

/// Every recording of every patient in the table, and what was skipped
/// (counted, one line per kind): a patient the table lists with no
/// recording, a WAV of a patient the table does not list, a segmentation
/// with no WAV, a WAV with no segmentation (it still counts for the murmur
/// task; the segmentation scoring leaves it out).
pub fn recordings(dir: &Path) -> Result<(Vec<Recording>, Vec<String>), DatasetError> {
    let patients = patients(dir)?;
    let by_id: HashMap<&str, &Patient> = patients.iter().map(|p| (p.id.as_str(), p)).collect();
    let audio = dir.join(AUDIO);
    let mut recordings = Vec::new();
    let (mut unlisted, mut unnamed) = (Vec::new(), Vec::new());
    for wav in files_with(&audio, &["wav"])? {
        let stem = wav.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let Some((id, location)) = parse_stem(&stem) else {
            unnamed.push(wav);
            continue;
        };
        let Some(patient) = by_id.get(id) else {
            unlisted.push(wav);
            continue;
        };
        let heard_here = patient.murmur_locations.iter().any(|l| l == location);
        let murmur = match MURMUR_CLASSES[patient.murmur] {
            "present" if !heard_here => 0,
            _ => patient.murmur,
        };
        let tsv = Some(wav.with_extension("tsv")).filter(|t| t.is_file());
        recordings.push(Recording { tsv, patient: id.to_string(), location: location.to_string(), murmur, wav });
    }
    let with_audio: HashSet<&str> = recordings.iter().map(|r| r.patient.as_str()).collect();
    let silent: Vec<&Patient> = patients.iter().filter(|p| !with_audio.contains(p.id.as_str())).collect();
    let orphan_tsv: Vec<PathBuf> = files_with(&audio, &["tsv"])?.into_iter().filter(|t| !t.with_extension("wav").is_file()).collect();
    let no_tsv: Vec<&Recording> = recordings.iter().filter(|r| r.tsv.is_none()).collect();
    let mut skipped = Vec::new();
    let mut count = |n: usize, what: &str, first: Option<String>| {
        if let Some(first) = first.filter(|_| n > 0) {
            skipped.push(format!("{n} {what} (first: {first})"));
        }
    };
    count(silent.len(), "patients in the table have no recording, skipped", silent.first().map(|p| format!("{} at {TABLE} line {}", p.id, p.line)));
    count(unlisted.len(), "WAVs are of patients the table does not list, skipped", unlisted.first().map(|p| p.display().to_string()));
    count(unnamed.len(), "WAVs are not named PATIENT_LOCATION[_N].wav, skipped", unnamed.first().map(|p| p.display().to_string()));
    count(orphan_tsv.len(), "segmentation files have no WAV beside them, skipped", orphan_tsv.first().map(|p| p.display().to_string()));
    count(no_tsv.len(), "recordings have no segmentation (.tsv); the beat scoring leaves them out", no_tsv.first().map(|r| r.wav.display().to_string()));
    if recordings.is_empty() {
        return Err(DatasetError::Layout { path: audio, reason: "no recordings of the table's patients".into() });
    }
    Ok((recordings, skipped))
}

/// A state of the heart cycle in CirCor's segmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartState {
    /// Not annotated (noise, or where the annotators could not tell).
    Unannotated,
    S1,
    Systole,
    S2,
    Diastole,
}

/// One row of a `.tsv` segmentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    pub state: HeartState,
}

/// A `.tsv` segmentation, every row checked (three fields, times in order,
/// a state of 0 to 4); a bad row is an error naming its line.
pub fn segmentation(tsv: &Path) -> Result<Vec<Segment>, DatasetError> {
    let text = std::fs::read_to_string(tsv).map_err(io(tsv))?;
    let mut segments = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |reason: String| DatasetError::Line { path: tsv.into(), line: i + 1, reason };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [start, end, state] = fields[..] else {
            return Err(at(format!("{} fields, not start, end and state", fields.len())));
        };
        let time = |t: &str| t.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(|| at(format!("{t:?} is not a time in seconds")));
        let (start_s, end_s) = (time(start)?, time(end)?);
        if end_s < start_s {
            return Err(at(format!("ends ({end_s}) before it starts ({start_s})")));
        }
        let state = match state.parse::<f64>().ok().filter(|s| s.fract() == 0.0).map(|s| s as i64) {
            Some(0) => HeartState::Unannotated,
            Some(1) => HeartState::S1,
            Some(2) => HeartState::Systole,
            Some(3) => HeartState::S2,
            Some(4) => HeartState::Diastole,
            _ => return Err(at(format!("state {state:?} is not 0 (none), 1 (S1), 2 (systole), 3 (S2) or 4 (diastole)"))),
        };
        segments.push(Segment { start_s, end_s, state });
    }
    Ok(segments)
}

/// The murmur task: each recording, labelled as the module says.
pub struct CirCor;

impl DatasetLoader for CirCor {
    fn name(&self) -> &'static str {
        "heart-murmur"
    }

    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError> {
        let (recordings, warnings) = recordings(dir)?;
        let examples = recordings.into_iter().map(|r| Example { path: r.wav, patient: r.patient, label: r.murmur, span: None }).collect();
        Ok(Corpus { name: "circor".into(), classes: MURMUR_CLASSES.iter().map(|c| c.to_string()).collect(), examples, warnings })
    }
}

/// A patient's murmur class from their recordings' (the challenge's rule):
/// present if any is, else unknown if any is, else absent.
pub fn patient_murmur(recordings: impl IntoIterator<Item = usize>) -> usize {
    let (present, unknown) = (1, 2);
    recordings.into_iter().fold(0, |acc, r| match (acc, r) {
        (a, _) if a == present => present,
        (_, r) if r == present => present,
        (_, r) if r == unknown => unknown,
        (a, _) => a,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_patient_and_location_without_the_repeat() {
        assert_eq!(parse_stem("50782_AV_1"), Some(("50782", "AV")));
        assert_eq!(parse_stem("49966_MV"), Some(("49966", "MV")));
        assert_eq!(parse_stem("49966_Phc"), Some(("49966", "Phc")));
        assert_eq!(parse_stem("notes"), None);
        assert_eq!(parse_stem("49966_MV_x"), None);
    }

    #[test]
    fn a_patient_is_present_if_any_recording_is_else_unknown_if_any_is() {
        assert_eq!(patient_murmur([0, 0, 2, 0]), 2);
        assert_eq!(patient_murmur([0, 2, 1, 0]), 1);
        assert_eq!(patient_murmur([1, 2]), 1);
        assert_eq!(patient_murmur([0, 0]), 0);
    }
}
