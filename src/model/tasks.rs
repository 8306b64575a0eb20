//! The tasks a model can be trained for: which loader, which chain, how
//! long an input is.

use std::path::Path;

use crate::datasets::circor::CirCor;
use crate::datasets::folder::ClassFolders;
use crate::datasets::heart::HeartFolders;
use crate::datasets::icbhi::{Icbhi, IcbhiTask, CYCLE_CLASSES};
use crate::datasets::kauh::{self, Kauh};
use crate::datasets::lung_cycles::LungCycles;
use crate::datasets::physionet2016::PhysioNet2016;
use crate::datasets::sprsound::{Sprsound, SprsoundTask};
use crate::datasets::DatasetLoader;

use super::features::FeatureConfig;

/// A task: its data layout, preprocessing and input length.
pub struct Task {
    pub name: &'static str,
    pub loader: Box<dyn DatasetLoader>,
    pub features: FeatureConfig,
    /// The chain run before the mel, as chain-file TOML.
    pub chain: Option<&'static str>,
    /// Report the ICBHI challenge score too.
    pub icbhi: bool,
    /// What a split of this data cannot promise.
    pub caveat: Option<&'static str>,
    /// Normalise each input by its own mean (recordings from many devices).
    pub per_example_norm: bool,
    /// Class-weight exponent: 1 inverse frequency, 0.5 tempered.
    pub weight_power: f32,
    /// The label is the patient's diagnosis: `eval` scores each recording
    /// with the mean over that patient's recordings (unless `--per-recording`).
    pub per_patient: bool,
    /// Reads another set in this task's classes, for `train --extra-train`:
    /// training examples only, never validation or test.
    pub extra: Option<Box<dyn DatasetLoader>>,
    /// A second target read from each training recording, for `train
    /// --auxiliary-sounds`.
    pub auxiliary: Option<AuxiliaryTarget>,
    /// The SPRSound challenge tasks scored on SPRSound data: each a name and
    /// the group of each class (group 0 is normal).
    pub sprsound: &'static [(&'static str, &'static [usize])],
    /// Score each patient once as the CirCor murmur challenge does (present
    /// if any recording is, else unknown if any is, else absent), its
    /// weighted accuracy weighing each class as given.
    pub murmur_weights: Option<&'static [f64]>,
}

/// Normal against any adventitious sound, in the four cycle classes.
const TASK_1_1_CYCLES: (&str, &[usize]) = ("Task 1-1 (normal / adventitious)", &[0, 1, 1, 1]);

/// A second label a task's recordings carry beside their class.
pub struct AuxiliaryTarget {
    /// What it is, as the card names it.
    pub name: &'static str,
    pub classes: &'static [&'static str],
    /// A recording's auxiliary class, if it has one.
    pub label: fn(&Path) -> Option<usize>,
}

/// The sound type a KAUH file name gives (normal, crackle, wheeze, both).
fn kauh_sound_type(path: &Path) -> Option<usize> {
    kauh::sound_type(path).map(|(_, class)| class)
}

const LUNG_CHAIN: &str =
    "# Lung sounds: 100-1800 Hz band-pass (works from 4 kHz up).\n[[chain]]\nplugin = \"bandpass\"\nparams = { low_hz = 100.0, high_hz = 1800.0, order = 4 }\n";
const WIDE_LUNG_CHAIN: &str = "# Whole-recording diagnosis: 25-1800 Hz, keeping the heart sounds and the\n# bell mode's low band.\n[[chain]]\nplugin = \"bandpass\"\nparams = { low_hz = 25.0, high_hz = 1800.0, order = 4 }\n";
const HEART_CHAIN: &str =
    "# Heart sounds and murmurs: 25-900 Hz band-pass.\n[[chain]]\nplugin = \"bandpass\"\nparams = { low_hz = 25.0, high_hz = 900.0, order = 4 }\n";

pub const NAMES: [&str; 9] =
    ["lung-cycles", "lung-diagnosis", "heart", "heart-murmur", "heart-abnormal", "icbhi-diagnosis", "sprsound-events", "sprsound-records", "folder"];

pub fn task(name: &str) -> Option<Task> {
    Some(match name {
        "lung-cycles" => Task {
            name: "lung-cycles",
            loader: Box::new(LungCycles),
            features: FeatureConfig::stethoscope(5.0),
            chain: Some(LUNG_CHAIN),
            icbhi: true,
            caveat: None,
            per_example_norm: true,
            weight_power: 0.5,
            per_patient: false,
            extra: Some(Box::new(LungCycles)),
            auxiliary: None,
            sprsound: &[TASK_1_1_CYCLES],
            murmur_weights: None,
        },
        "sprsound-events" => sprsound_task(
            "sprsound-events",
            SprsoundTask::Events,
            5.0,
            &[("Task 1-1 (normal / adventitious)", &[0, 1, 1, 1, 1, 1, 1]), ("Task 1-2 (seven classes)", &[0, 1, 2, 3, 4, 5, 6])],
        ),
        "sprsound-records" => sprsound_task(
            "sprsound-records",
            SprsoundTask::Records,
            8.0,
            &[("Task 2-1 (normal / adventitious / poor quality)", &[0, 1, 1, 1, 2]), ("Task 2-2 (five classes)", &[0, 1, 2, 3, 4])],
        ),
        "icbhi-diagnosis" => Task {
            name: "icbhi-diagnosis",
            loader: Box::new(Icbhi { task: IcbhiTask::Diagnosis }),
            features: FeatureConfig::stethoscope(8.0),
            chain: Some(LUNG_CHAIN),
            icbhi: false,
            caveat: None,
            per_example_norm: false,
            weight_power: 1.0,
            per_patient: true,
            extra: None,
            auxiliary: None,
            sprsound: &[],
            murmur_weights: None,
        },
        "lung-diagnosis" => Task {
            name: "lung-diagnosis",
            loader: Box::new(Kauh),
            features: FeatureConfig::stethoscope(6.0),
            chain: Some(WIDE_LUNG_CHAIN),
            icbhi: false,
            caveat: None,
            per_example_norm: true,
            weight_power: 0.5,
            per_patient: true,
            extra: Some(Box::new(Icbhi { task: IcbhiTask::KauhDiagnosis })),
            auxiliary: Some(AuxiliaryTarget { name: "sound type", classes: &CYCLE_CLASSES, label: kauh_sound_type }),
            sprsound: &[],
            murmur_weights: None,
        },
        "heart" => Task {
            name: "heart",
            loader: Box::new(HeartFolders),
            features: FeatureConfig::stethoscope(2.5),
            chain: Some(HEART_CHAIN),
            icbhi: false,
            caveat: Some("the heart set records no patient ids: each recording counts as its own patient, so recordings of one person may fall on both sides"),
            per_example_norm: false,
            weight_power: 1.0,
            per_patient: false,
            extra: None,
            auxiliary: None,
            sprsound: &[],
            murmur_weights: None,
        },
        // CirCor: each recording labelled with its patient's murmur where it
        // was heard, and scored alone; each patient is then scored once.
        "heart-murmur" => heart_corpus_task("heart-murmur", Box::new(CirCor), None, Some(&[1.0, 5.0, 3.0])),
        "heart-abnormal" => heart_corpus_task(
            "heart-abnormal",
            Box::new(PhysioNet2016),
            Some("PhysioNet 2016 records no patient ids: each recording counts as its own patient, so one person's recordings may fall on both sides; its six sites differ so much that hold-one-site-out is the honest figure"),
            None,
        ),
        "folder" => Task {
            name: "folder",
            loader: Box::new(ClassFolders { name: "folder", patient_prefix: true }),
            features: FeatureConfig::stethoscope(4.0),
            chain: None,
            icbhi: false,
            caveat: None,
            per_example_norm: false,
            weight_power: 1.0,
            per_patient: false,
            extra: None,
            auxiliary: None,
            sprsound: &[],
            murmur_weights: None,
        },
        _ => return None,
    })
}

/// A SPRSound challenge task: lung-band chain, inputs of `seconds`, each
/// normalised by its own mean, class weights tempered.
fn sprsound_task(name: &'static str, task: SprsoundTask, seconds: f64, scores: &'static [(&'static str, &'static [usize])]) -> Task {
    Task {
        name,
        loader: Box::new(Sprsound { task }),
        features: FeatureConfig::stethoscope(seconds),
        chain: Some(LUNG_CHAIN),
        icbhi: false,
        caveat: None,
        per_example_norm: true,
        weight_power: 0.5,
        per_patient: false,
        extra: None,
        auxiliary: None,
        sprsound: scores,
        murmur_weights: None,
    }
}

/// A clinical heart corpus (CirCor, PhysioNet 2016): heart-band chain,
/// inputs of 4 s each normalised by its own mean (many stethoscopes and
/// sites), class weights at inverse frequency.
fn heart_corpus_task(name: &'static str, loader: Box<dyn DatasetLoader>, caveat: Option<&'static str>, murmur_weights: Option<&'static [f64]>) -> Task {
    Task {
        name,
        loader,
        features: FeatureConfig::stethoscope(4.0),
        chain: Some(HEART_CHAIN),
        icbhi: false,
        caveat,
        per_example_norm: true,
        weight_power: 1.0,
        per_patient: false,
        extra: None,
        auxiliary: None,
        sprsound: &[],
        murmur_weights,
    }
}
