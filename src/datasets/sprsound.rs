//! SPRSound (Zhang Q. et al. 2022, IEEE TBioCAS; the BioCAS 2022 and 2023
//! challenges): paediatric lung sounds from Shanghai, in the publisher's
//! `Classification/` layout:
//!
//! ```text
//! Classification/train_classification_{wav,json}/NAME.{wav,json}
//! Classification/test_classification_wav/2022/NAME.wav     (both 2022 test sets)
//! Classification/test_classification_json/2022/{inter,intra}_test_json/NAME.json
//! Classification/test_classification_{wav,json}/2023/NAME.{wav,json}
//! ```
//!
//! Each JSON holds a record annotation (Normal, CAS, DAS, CAS & DAS, Poor
//! Quality) and events (start and end in ms; Normal, Rhonchi, Wheeze,
//! Stridor, Coarse Crackle, Fine Crackle, Wheeze+Crackle). The patient is
//! the first field of the file name. The 2022 test WAVs share one folder:
//! which JSON folder names a recording says which test set it is in.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{files_with, io, Corpus, DatasetError, DatasetLoader, Example};

/// The challenge's event classes (Task 1-2), in its order.
pub const EVENT_CLASSES: [&str; 7] = ["normal", "rhonchi", "wheeze", "stridor", "coarse crackle", "fine crackle", "wheeze+crackle"];
/// The challenge's record classes (Task 2-2).
pub const RECORD_CLASSES: [&str; 5] = ["normal", "cas", "das", "cas & das", "poor quality"];

/// An event's class in ICBHI's four cycle classes (normal, crackle, wheeze,
/// both): crackles fine or coarse are crackles; wheezes, rhonchi and
/// stridor are continuous sounds, wheezes.
const EVENT_AS_CYCLE: [usize; 7] = [0, 2, 2, 2, 1, 1, 3];

/// The official sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Set {
    Train,
    /// 2022 test, patients not in the training set.
    TestInter,
    /// 2022 test, recordings of training patients.
    TestIntra,
    Test2023,
}

impl Set {
    pub const ALL: [Set; 4] = [Set::Train, Set::TestInter, Set::TestIntra, Set::Test2023];

    /// How `--split` names it.
    pub fn name(self) -> &'static str {
        match self {
            Set::Train => "train",
            Set::TestInter => "test-inter",
            Set::TestIntra => "test-intra",
            Set::Test2023 => "test-2023",
        }
    }

    pub fn parse(name: &str) -> Option<Set> {
        Set::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Its JSON folder and WAV folder under `Classification/`.
    fn folders(self) -> (&'static str, &'static str) {
        match self {
            Set::Train => ("train_classification_json", "train_classification_wav"),
            Set::TestInter => ("test_classification_json/2022/inter_test_json", "test_classification_wav/2022"),
            Set::TestIntra => ("test_classification_json/2022/intra_test_json", "test_classification_wav/2022"),
            Set::Test2023 => ("test_classification_json/2023", "test_classification_wav/2023"),
        }
    }
}

/// What is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SprsoundTask {
    /// Each event, in ICBHI's four cycle classes (`lung-cycles`).
    Cycles,
    /// Each event, in the challenge's seven classes (`sprsound-events`).
    Events,
    /// Each recording, in the five record classes (`sprsound-records`).
    Records,
}

pub struct Sprsound {
    pub task: SprsoundTask,
}

/// The `Classification/` folder of a SPRSound copy: `dir` itself, or its
/// child of that name.
pub fn root(dir: &Path) -> Option<PathBuf> {
    [dir.join("Classification"), dir.to_path_buf()]
        .into_iter()
        .find(|d| d.join("train_classification_json").is_dir() || d.join("test_classification_json").is_dir())
}

/// One recording: its audio, annotation and set.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub wav: PathBuf,
    pub json: PathBuf,
    pub set: Set,
}

/// The recordings of every set present, and what was skipped (counted, one
/// line per kind). A set whose folders are absent is simply not there.
pub fn recordings(dir: &Path) -> Result<(Vec<Recording>, Vec<String>), DatasetError> {
    let root = root(dir)
        .ok_or_else(|| DatasetError::Layout { path: dir.into(), reason: "no Classification/{train,test}_classification_json/ (the SPRSound layout)".into() })?;
    let mut recordings = Vec::new();
    let mut claimed: HashMap<PathBuf, Set> = HashMap::new();
    let mut no_audio = Vec::new();
    for set in Set::ALL {
        let (json_dir, wav_dir) = set.folders();
        let (json_dir, wav_dir) = (root.join(json_dir), root.join(wav_dir));
        if !json_dir.is_dir() {
            continue;
        }
        for json in files_with(&json_dir, &["json"])? {
            let wav = wav_dir.join(json.with_extension("wav").file_name().unwrap_or_default());
            if !wav.is_file() {
                no_audio.push(json);
                continue;
            }
            if let Some(other) = claimed.insert(wav.clone(), set) {
                return Err(DatasetError::Layout {
                    path: json,
                    reason: format!("{} is annotated in both the {} and the {} set", wav.display(), other.name(), set.name()),
                });
            }
            recordings.push(Recording { wav, json, set });
        }
    }
    // WAVs no JSON names: nothing to learn from them.
    let mut unannotated = Vec::new();
    for set in Set::ALL {
        let wav_dir = root.join(set.folders().1);
        if wav_dir.is_dir() {
            unannotated.extend(files_with(&wav_dir, &["wav"])?.into_iter().filter(|w| !claimed.contains_key(w)));
        }
    }
    unannotated.sort();
    unannotated.dedup();
    let mut skipped = Vec::new();
    if let Some(first) = no_audio.first() {
        skipped.push(format!("{} annotation files have no WAV beside them, skipped (first: {})", no_audio.len(), first.display()));
    }
    if let Some(first) = unannotated.first() {
        skipped.push(format!("{} WAVs have no JSON annotation, skipped (first: {})", unannotated.len(), first.display()));
    }
    if recordings.is_empty() {
        return Err(DatasetError::Layout { path: root, reason: "no annotated recordings with audio".into() });
    }
    Ok((recordings, skipped))
}

#[derive(serde::Deserialize)]
struct Annotation {
    record_annotation: String,
    #[serde(default)]
    event_annotation: Vec<Event>,
}

#[derive(serde::Deserialize)]
struct Event {
    start: Millis,
    end: Millis,
    #[serde(rename = "type")]
    kind: String,
}

/// Milliseconds, written as a string ("2815") in the published files or as
/// a number.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Millis {
    Text(String),
    Number(f64),
}

impl Millis {
    fn seconds(&self) -> Option<f64> {
        let ms = match self {
            Millis::Text(t) => t.trim().parse::<f64>().ok()?,
            Millis::Number(n) => *n,
        };
        (ms.is_finite() && ms >= 0.0).then_some(ms / 1000.0)
    }
}

fn class_of(classes: &[&str], name: &str) -> Option<usize> {
    classes.iter().position(|c| c.eq_ignore_ascii_case(name.trim()))
}

/// Seconds of audio in a recording, as the decoder reads it (the files'
/// headers disagree with themselves: see `audio::decode`).
fn duration(wav: &Path) -> Result<f64, DatasetError> {
    let decoded = crate::audio::decode_file(wav).map_err(|e| DatasetError::Layout { path: wav.into(), reason: e.to_string() })?;
    Ok(decoded.duration_s())
}

/// The official set of each recording, keyed by its WAV.
pub fn official_sets(dir: &Path) -> Result<HashMap<PathBuf, Set>, DatasetError> {
    Ok(recordings(dir)?.0.into_iter().map(|r| (r.wav, r.set)).collect())
}

impl DatasetLoader for Sprsound {
    fn name(&self) -> &'static str {
        match self.task {
            SprsoundTask::Cycles => "lung-cycles",
            SprsoundTask::Events => "sprsound-events",
            SprsoundTask::Records => "sprsound-records",
        }
    }

    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError> {
        let (recordings, mut warnings) = recordings(dir)?;
        let classes: Vec<String> = match self.task {
            SprsoundTask::Cycles => super::icbhi::CYCLE_CLASSES.iter().map(|s| s.to_string()).collect(),
            SprsoundTask::Events => EVENT_CLASSES.iter().map(|s| s.to_string()).collect(),
            SprsoundTask::Records => RECORD_CLASSES.iter().map(|s| s.to_string()).collect(),
        };
        let mut examples = Vec::new();
        let (mut past_end, mut first_past_end) = (0, None);
        for r in &recordings {
            let text = std::fs::read_to_string(&r.json).map_err(io(&r.json))?;
            let annotation: Annotation = serde_json::from_str(&text).map_err(|e| {
                // serde_json ends its message with the place; ours leads with it.
                let message = e.to_string();
                let what = message.split(" at line ").next().unwrap_or(&message).to_string();
                DatasetError::Line { path: r.json.clone(), line: e.line(), reason: format!("column {}: not a SPRSound annotation: {what}", e.column()) }
            })?;
            let patient = r.wav.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default().split('_').next().unwrap_or_default().to_string();
            if self.task == SprsoundTask::Records {
                let label = class_of(&RECORD_CLASSES, &annotation.record_annotation).ok_or_else(|| DatasetError::Layout {
                    path: r.json.clone(),
                    reason: format!("record_annotation {:?} is not one of {RECORD_CLASSES:?}", annotation.record_annotation),
                })?;
                examples.push(Example { path: r.wav.clone(), patient, label, span: None });
                continue;
            }
            let seconds = if annotation.event_annotation.is_empty() { 0.0 } else { duration(&r.wav)? };
            for (k, event) in annotation.event_annotation.iter().enumerate() {
                let at = |what: &str| DatasetError::Layout { path: r.json.clone(), reason: format!("event {}: {what}", k + 1) };
                let kind = class_of(&EVENT_CLASSES, &event.kind).ok_or_else(|| at(&format!("type {:?} is not one of {EVENT_CLASSES:?}", event.kind)))?;
                let (Some(start), Some(end)) = (event.start.seconds(), event.end.seconds()) else {
                    return Err(at("start and end must be milliseconds, 0 or more"));
                };
                if end <= start {
                    return Err(at(&format!("ends ({end:.3} s) before it starts ({start:.3} s)")));
                }
                // Annotators' ends a few ms past the audio are the end of
                // the audio; an event that starts past it has no sound.
                if start >= seconds {
                    past_end += 1;
                    first_past_end.get_or_insert_with(|| format!("{} event {}", r.json.display(), k + 1));
                    continue;
                }
                let label = if self.task == SprsoundTask::Cycles { EVENT_AS_CYCLE[kind] } else { kind };
                examples.push(Example { path: r.wav.clone(), patient: patient.clone(), label, span: Some((start, end.min(seconds))) });
            }
        }
        if let Some(first) = first_past_end {
            warnings.push(format!("{past_end} events start past the end of their audio, skipped (first: {first})"));
        }
        if examples.is_empty() {
            return Err(DatasetError::Layout { path: dir.into(), reason: "no annotated events or records".into() });
        }
        Ok(Corpus { name: self.name().into(), classes, examples, warnings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SPRSound tree with one recording per set, 2 s each.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("Classification");
        for (set, stem, json) in [
            (
                Set::Train,
                "41283662_3.4_0_p4_2357",
                r#"{"record_annotation": "DAS", "event_annotation": [{"start": "100", "end": "900", "type": "Fine Crackle"}, {"start": "900", "end": "1800", "type": "Normal"}]}"#,
            ),
            (
                Set::TestInter,
                "65038439_5.7_1_p3_3462",
                r#"{"record_annotation": "CAS", "event_annotation": [{"start": "200", "end": "2100", "type": "Rhonchi"}]}"#,
            ),
            (Set::TestIntra, "41249093_4.2_1_p3_3861", r#"{"record_annotation": "Poor Quality", "event_annotation": []}"#),
            (
                Set::Test2023,
                "66315749_1.4_1_p4_5378",
                r#"{"record_annotation": "CAS & DAS", "event_annotation": [{"start": 0, "end": 500, "type": "Wheeze+Crackle"}]}"#,
            ),
        ] {
            let (j, w) = set.folders();
            std::fs::create_dir_all(c.join(j)).unwrap();
            std::fs::create_dir_all(c.join(w)).unwrap();
            std::fs::write(c.join(j).join(format!("{stem}.json")), json).unwrap();
            crate::audio::wav::write_f32_mono(&c.join(w).join(format!("{stem}.wav")), &[0.0; 16000], 8000).unwrap();
        }
        dir
    }

    #[test]
    fn sets_come_from_the_json_folders_and_events_map_to_cycle_classes() {
        let dir = tree();
        let sets = official_sets(dir.path()).unwrap();
        let set_of = |stem: &str| sets.iter().find(|(w, _)| w.to_string_lossy().contains(stem)).map(|(_, s)| *s);
        assert_eq!(set_of("65038439"), Some(Set::TestInter));
        assert_eq!(set_of("41249093"), Some(Set::TestIntra));
        assert_eq!(set_of("66315749"), Some(Set::Test2023));
        let corpus = Sprsound { task: SprsoundTask::Cycles }.load(dir.path()).unwrap();
        let got: Vec<(&str, &str, (f64, f64))> =
            corpus.examples.iter().map(|e| (e.patient.as_str(), corpus.classes[e.label].as_str(), e.span.unwrap())).collect();
        // The Rhonchi event ends at 2.1 s in 2 s of audio: cut to the audio.
        assert_eq!(
            got,
            [("41283662", "crackle", (0.1, 0.9)), ("41283662", "normal", (0.9, 1.8)), ("65038439", "wheeze", (0.2, 2.0)), ("66315749", "both", (0.0, 0.5)),]
        );
        let records = Sprsound { task: SprsoundTask::Records }.load(dir.path()).unwrap();
        let labels: Vec<&str> = records.examples.iter().map(|e| records.classes[e.label].as_str()).collect();
        assert_eq!(labels, ["das", "cas", "poor quality", "cas & das"]);
        let events = Sprsound { task: SprsoundTask::Events }.load(dir.path()).unwrap();
        assert_eq!(events.examples.iter().map(|e| e.label).collect::<Vec<_>>(), [5, 0, 1, 6]);
    }

    #[test]
    fn broken_copies_give_errors_naming_the_file_or_counted_skips() {
        let dir = tree();
        let c = dir.path().join("Classification");
        let train_json = c.join("train_classification_json");
        // A WAV without its JSON, a JSON without its WAV: counted, once.
        crate::audio::wav::write_f32_mono(&c.join("train_classification_wav/40000000_1.0_0_p1_1.wav"), &[0.0; 800], 8000).unwrap();
        crate::audio::wav::write_f32_mono(&c.join("train_classification_wav/40000001_1.0_0_p1_2.wav"), &[0.0; 800], 8000).unwrap();
        std::fs::write(train_json.join("40000002_1.0_0_p1_3.json"), r#"{"record_annotation": "Normal"}"#).unwrap();
        // An event that starts past the end of its 2 s of audio.
        std::fs::write(
            c.join("test_classification_json/2023/66315749_1.4_1_p4_5378.json"),
            r#"{"record_annotation": "CAS", "event_annotation": [{"start": "0", "end": "500", "type": "Wheeze"}, {"start": "2500", "end": "3000", "type": "Wheeze"}]}"#,
        )
        .unwrap();
        let corpus = Sprsound { task: SprsoundTask::Events }.load(dir.path()).unwrap();
        let warnings = corpus.warnings.join("\n");
        assert!(warnings.contains("2 WAVs have no JSON annotation") && warnings.contains("40000000_1.0_0_p1_1.wav"), "{warnings}");
        assert!(warnings.contains("1 annotation files have no WAV") && warnings.contains("40000002_1.0_0_p1_3.json"), "{warnings}");
        assert!(warnings.contains("1 events start past the end") && warnings.contains("66315749_1.4_1_p4_5378.json event 2"), "{warnings}");
        assert_eq!(corpus.warnings.len(), 3, "one line per kind: {warnings}");
        assert_eq!(corpus.examples.len(), 4);

        // Malformed JSON: an error naming the file and line.
        let broken = train_json.join("41283662_3.4_0_p4_2357.json");
        std::fs::write(&broken, "{\"record_annotation\": \"DAS\",\n \"event_annotation\": [{\"start\": \"1\"").unwrap();
        let err = Sprsound { task: SprsoundTask::Events }.load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("41283662_3.4_0_p4_2357.json: line 2: column 35: not a SPRSound annotation: EOF while parsing"), "{err}");
        // An unknown event type, and an event that ends before it starts.
        std::fs::write(&broken, r#"{"record_annotation": "DAS", "event_annotation": [{"start": "1", "end": "2", "type": "Squawk"}]}"#).unwrap();
        let err = Sprsound { task: SprsoundTask::Events }.load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("41283662_3.4_0_p4_2357.json: event 1: type \"Squawk\""), "{err}");
        std::fs::write(&broken, r#"{"record_annotation": "DAS", "event_annotation": [{"start": "900", "end": "100", "type": "Wheeze"}]}"#).unwrap();
        let err = Sprsound { task: SprsoundTask::Events }.load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("event 1: ends (0.100 s) before it starts (0.900 s)"), "{err}");
    }

    #[test]
    fn a_folder_that_is_not_sprsound_says_which_layout_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let err = Sprsound { task: SprsoundTask::Records }.load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("the SPRSound layout"), "{err}");
    }
}
