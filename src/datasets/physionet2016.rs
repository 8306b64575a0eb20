//! PhysioNet/CinC Challenge 2016 (Liu C. et al. 2016, Physiol. Meas. 37
//! 2181): heart sounds from six sites, normal or abnormal, in the
//! publisher's layout:
//!
//! ```text
//! training-a/REFERENCE.csv    NAME,1 (abnormal) or NAME,-1 (normal)
//! training-a/NAME.wav         2 kHz
//! ...
//! training-f/
//! ```
//!
//! The set records no patient ids (a patient may have several recordings),
//! so each recording counts as its own patient, and the site (the folder)
//! is the honest unit to hold out: see [`site`].

use std::path::Path;

use super::{io, Corpus, DatasetError, DatasetLoader, Example};

pub const CLASSES: [&str; 2] = ["normal", "abnormal"];

pub struct PhysioNet2016;

/// The site a recording comes from: its folder's name (`training-a`).
pub fn site(wav: &Path) -> String {
    super::folder_of(wav)
}

/// The site folders under `dir` (`training-*/` holding a `REFERENCE.csv`),
/// sorted, or `dir` itself when it is one.
fn site_dirs(dir: &Path) -> Result<Vec<std::path::PathBuf>, DatasetError> {
    if dir.join("REFERENCE.csv").is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut sites: Vec<_> =
        std::fs::read_dir(dir).map_err(io(dir))?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("REFERENCE.csv").is_file()).collect();
    sites.sort();
    if sites.is_empty() {
        return Err(DatasetError::Layout { path: dir.into(), reason: "no training-*/REFERENCE.csv (the PhysioNet/CinC 2016 layout)".into() });
    }
    Ok(sites)
}

impl DatasetLoader for PhysioNet2016 {
    fn name(&self) -> &'static str {
        "heart-abnormal"
    }

    fn load(&self, dir: &Path) -> Result<Corpus, DatasetError> {
        let mut examples = Vec::new();
        let mut missing = Vec::new();
        for site in site_dirs(dir)? {
            let reference = site.join("REFERENCE.csv");
            let text = std::fs::read_to_string(&reference).map_err(io(&reference))?;
            for (i, line) in text.lines().enumerate() {
                let line_no = i + 1;
                let row = line.trim();
                if row.is_empty() {
                    continue;
                }
                let at = |reason: String| DatasetError::Line { path: reference.clone(), line: line_no, reason };
                let (name, label) = row.split_once(',').ok_or_else(|| at(format!("{row:?} is not NAME,LABEL")))?;
                let label = match label.trim() {
                    "-1" => 0,
                    "1" => 1,
                    other => return Err(at(format!("label {other:?} is not 1 (abnormal) or -1 (normal)"))),
                };
                let name = name.trim();
                if name.is_empty() || name.contains(['/', '\\']) {
                    return Err(at(format!("{name:?} is not a recording name")));
                }
                let wav = site.join(format!("{name}.wav"));
                if !wav.is_file() {
                    missing.push(wav);
                    continue;
                }
                examples.push(Example { patient: format!("{}/{name}", self::site(&wav)), path: wav, label, span: None });
            }
        }
        let mut warnings = Vec::new();
        if let Some(first) = missing.first() {
            warnings.push(format!("{} recordings in REFERENCE.csv have no WAV, skipped (first: {})", missing.len(), first.display()));
        }
        if examples.is_empty() {
            return Err(DatasetError::Layout { path: dir.into(), reason: "no recordings with audio".into() });
        }
        Ok(Corpus { name: "physionet2016".into(), classes: CLASSES.iter().map(|c| c.to_string()).collect(), examples, warnings })
    }
}
