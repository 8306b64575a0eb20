//! Recording sessions that survive `kill -9` and power loss.
//!
//! A session is a directory (mode 0700: it may hold patient data) with
//! files (0600):
//! - `audio.wav`: the raw input, 32-bit float mono, written as it arrives.
//!   Its header is rewritten and the file synced to disk at least twice a
//!   second, so a crash loses at most the last half second or so.
//! - `annotations.txt`: cycles in the ICBHI text format
//!   (`start end crackles wheezes`, seconds and 0/1 flags).
//! - `session.toml`: device, rate, chest locations, chain, model, labels,
//!   timestamps and a `state` that reads "recording" until the session is
//!   closed.
//! - `session.lock`: locked for as long as a process writes the session;
//!   a session still "recording" whose lock is free was left by a crash,
//!   and [`recover_unfinished`] repairs it.
//!
//! `annotations.txt` and `session.toml` are replaced atomically (write,
//! sync, rename, sync the directory), so each is always either the old or
//! the new version.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

pub const AUDIO_FILE: &str = "audio.wav";
pub const ANNOTATIONS_FILE: &str = "annotations.txt";
pub const META_FILE: &str = "session.toml";
const LOCK_FILE: &str = "session.lock";

/// How often the WAV header is made valid and the data synced.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {source}", path.display())]
    Wav { path: PathBuf, source: hound::Error },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SessionError + '_ {
    move |source| SessionError::Io { path: path.to_path_buf(), source }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// Being written, or left by a crash if its lock is free.
    Recording,
    /// Closed normally.
    Finished,
    /// Closed because the input failed (device unplugged); what came
    /// before is intact.
    Interrupted,
    /// Left by a crash and repaired on a later start.
    Recovered,
}

/// A chest location marked during the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationMark {
    pub at_s: f64,
    pub location: String,
}

/// A label the technician gave a cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleLabel {
    pub start_s: f64,
    pub end_s: f64,
    pub label: CycleClass,
}

/// What became of a label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LabelOutcome {
    /// The cycle was labelled (its times are seconds into `audio.wav`).
    Labelled(AnnotatedCycle),
    /// The cycle has not ended yet; the label waits for it.
    Pending,
    /// The cycle is not in the session (it began before the recording).
    Lost,
}

/// The chain after a live edit during the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainChange {
    /// Seconds into `audio.wav`.
    pub at_s: f64,
    /// What was changed, e.g. `bandpass: high_hz = 1800 Hz`.
    pub change: String,
    /// The whole chain as it ran from then on, as a chain file.
    pub chain: String,
}

/// The ICBHI cycle classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CycleClass {
    Normal,
    Crackle,
    Wheeze,
    Both,
}

impl CycleClass {
    /// `(crackles, wheezes)` as the annotation file writes them.
    pub fn flags(self) -> (u8, u8) {
        match self {
            CycleClass::Normal => (0, 0),
            CycleClass::Crackle => (1, 0),
            CycleClass::Wheeze => (0, 1),
            CycleClass::Both => (1, 1),
        }
    }

    /// The class the annotation file's flags stand for.
    pub fn from_flags(crackles: u8, wheezes: u8) -> CycleClass {
        match (crackles != 0, wheezes != 0) {
            (false, false) => CycleClass::Normal,
            (true, false) => CycleClass::Crackle,
            (false, true) => CycleClass::Wheeze,
            (true, true) => CycleClass::Both,
        }
    }
}

/// What `session.toml` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub state: SessionState,
    /// RFC 3339, UTC.
    pub started: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// Device id or replayed file.
    pub device: String,
    /// "live" or "replay".
    pub source: String,
    pub sample_rate: u32,
    #[serde(default)]
    pub frames: u64,
    #[serde(default)]
    pub overruns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_file: Option<String>,
    /// The chain file's text, so the session says exactly what ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Why the session ended early, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default)]
    pub locations: Vec<LocationMark>,
    #[serde(default)]
    pub labels: Vec<CycleLabel>,
    /// Live edits of the chain while recording, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain_changes: Vec<ChainChange>,
}

impl SessionMeta {
    /// A new session's metadata, stamped now.
    pub fn new(device: &str, source: &str, sample_rate: u32) -> Self {
        Self {
            state: SessionState::Recording,
            started: now_rfc3339(),
            ended: None,
            device: device.to_string(),
            source: source.to_string(),
            sample_rate,
            frames: 0,
            overruns: 0,
            chain_file: None,
            chain: None,
            model: None,
            note: None,
            locations: Vec::new(),
            labels: Vec::new(),
            chain_changes: Vec::new(),
        }
    }

    pub fn load(dir: &Path) -> Result<Self, SessionError> {
        let path = dir.join(META_FILE);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        toml::from_str(&text).map_err(|e| SessionError::Invalid { path, reason: e.to_string() })
    }
}

/// A cycle in the annotation file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnnotatedCycle {
    pub start_s: f64,
    pub end_s: f64,
    pub crackles: u8,
    pub wheezes: u8,
}

/// Writes one session. Call [`SessionWriter::finish`] to close it; dropping
/// it without that leaves a session that the next start recovers.
pub struct SessionWriter {
    dir: PathBuf,
    meta: SessionMeta,
    wav: hound::WavWriter<BufWriter<File>>,
    /// The same file as `wav` writes, for `sync_data`.
    wav_file: File,
    cycles: Vec<AnnotatedCycle>,
    /// A label waiting for the cycle at this time to end.
    pending: Option<(f64, CycleClass)>,
    last_sync: Instant,
    _lock: File,
}

impl SessionWriter {
    /// Creates a new session directory under `parent` (created if needed)
    /// and starts its files.
    pub fn create(parent: &Path, meta: SessionMeta) -> Result<Self, SessionError> {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(io(parent))?;
        let dir = unique_dir(parent, &meta.started)?;
        let lock = create_private(&dir.join(LOCK_FILE))?;
        lock.try_lock().map_err(|e| SessionError::Invalid { path: dir.join(LOCK_FILE), reason: format!("cannot lock: {e}") })?;
        let audio_path = dir.join(AUDIO_FILE);
        let wav_file = create_private(&audio_path)?;
        let spec = hound::WavSpec { channels: 1, sample_rate: meta.sample_rate, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
        let writer_file = wav_file.try_clone().map_err(io(&audio_path))?;
        let wav = hound::WavWriter::new(BufWriter::with_capacity(1 << 16, writer_file), spec)
            .map_err(|source| SessionError::Wav { path: audio_path.clone(), source })?;
        let mut writer = Self { dir, meta, wav, wav_file, cycles: Vec::new(), pending: None, last_sync: Instant::now(), _lock: lock };
        writer.write_annotations()?;
        writer.write_meta()?;
        writer.sync_audio()?;
        sync_dir(parent)?;
        Ok(writer)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> &SessionMeta {
        &self.meta
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.meta.frames
    }

    /// Seconds recorded so far.
    pub fn seconds(&self) -> f64 {
        self.meta.frames as f64 / f64::from(self.meta.sample_rate)
    }

    /// Appends samples; every [`SYNC_INTERVAL`] makes the header valid and
    /// syncs the data to disk.
    pub fn write(&mut self, samples: &[f32]) -> Result<(), SessionError> {
        for &s in samples {
            self.wav.write_sample(s).map_err(|source| self.wav_error(source))?;
        }
        self.meta.frames += samples.len() as u64;
        if self.last_sync.elapsed() >= SYNC_INTERVAL {
            self.sync_audio()?;
        }
        Ok(())
    }

    /// Records a cycle found by the segmenter (unlabelled: 0 0), in seconds
    /// into `audio.wav`. Returns what became of a pending label (see
    /// [`SessionWriter::label_at`]) that this cycle settles.
    pub fn add_cycle(&mut self, start_s: f64, end_s: f64) -> Result<Option<LabelOutcome>, SessionError> {
        self.cycles.push(AnnotatedCycle { start_s, end_s, crackles: 0, wheezes: 0 });
        let settled = match self.pending {
            Some((at_s, label)) if at_s < end_s => {
                self.pending = None;
                if at_s >= start_s {
                    return self.apply_label(self.cycles.len() - 1, label).map(|c| Some(LabelOutcome::Labelled(c)));
                }
                Some(LabelOutcome::Lost)
            }
            _ => None,
        };
        self.write_annotations()?;
        Ok(settled)
    }

    /// Labels the cycle heard at `at_s` (seconds into `audio.wav`). A cycle
    /// is written only once the segmenter has found its end, so the one
    /// being heard is usually still open: the label then waits for it and
    /// [`SessionWriter::add_cycle`] applies it. A cycle not in the session
    /// (it began before the recording did) cannot take a label: `Lost`.
    pub fn label_at(&mut self, at_s: f64, label: CycleClass) -> Result<LabelOutcome, SessionError> {
        if let Some(i) = self.cycles.iter().rposition(|c| c.start_s <= at_s && at_s < c.end_s) {
            return self.apply_label(i, label).map(LabelOutcome::Labelled);
        }
        if self.cycles.last().is_some_and(|c| at_s < c.start_s) {
            return Ok(LabelOutcome::Lost);
        }
        self.pending = Some((at_s, label));
        Ok(LabelOutcome::Pending)
    }

    /// A cycle that ends at `end_s` was found but left out (it began before
    /// the recording): a label waiting for it is lost.
    pub fn cycle_left_out(&mut self, end_s: f64) -> Option<LabelOutcome> {
        let (at_s, _) = self.pending?;
        (at_s < end_s).then(|| {
            self.pending = None;
            LabelOutcome::Lost
        })
    }

    /// A label still waiting for its cycle to end.
    pub fn pending_label(&self) -> Option<(f64, CycleClass)> {
        self.pending
    }

    fn apply_label(&mut self, index: usize, label: CycleClass) -> Result<AnnotatedCycle, SessionError> {
        let cycle = &mut self.cycles[index];
        (cycle.crackles, cycle.wheezes) = label.flags();
        let labelled = *cycle;
        self.meta.labels.retain(|l| l.start_s != labelled.start_s);
        self.meta.labels.push(CycleLabel { start_s: labelled.start_s, end_s: labelled.end_s, label });
        self.write_annotations()?;
        self.write_meta()?;
        Ok(labelled)
    }

    /// Records the chain as it is after a live edit, at `at_s` seconds into
    /// `audio.wav`.
    pub fn chain_changed(&mut self, at_s: f64, change: &str, chain: &str) -> Result<(), SessionError> {
        self.meta.chain_changes.push(ChainChange { at_s, change: change.to_string(), chain: chain.to_string() });
        self.write_meta()
    }

    /// Marks the chest location from now on.
    pub fn mark_location(&mut self, location: &str) -> Result<(), SessionError> {
        self.meta.locations.push(LocationMark { at_s: self.seconds(), location: location.to_string() });
        self.write_meta()
    }

    pub fn set_overruns(&mut self, overruns: u64) {
        self.meta.overruns = overruns;
    }

    /// Closes the session: final header, `state = finished` (or
    /// `interrupted` with a note), everything synced.
    ///
    /// When the disk refuses the last of the audio (full, or gone), the
    /// header is made to cover exactly the frames that did reach it, the
    /// session is marked interrupted with the reason, and the error is
    /// returned: what was written stays readable.
    pub fn finish(self, interrupted: Option<String>) -> Result<PathBuf, SessionError> {
        let SessionWriter { dir, mut meta, mut wav, wav_file, _lock: lock, .. } = self;
        let audio = dir.join(AUDIO_FILE);
        let flushed = wav.flush().map_err(|source| SessionError::Wav { path: audio.clone(), source }).and_then(|()| wav_file.sync_data().map_err(io(&audio)));
        // hound's drop writes its own header, which counts samples still
        // in the buffer: after a failed flush it must be corrected below.
        drop(wav);
        let mut note = interrupted;
        if let Err(e) = &flushed {
            if let Ok((_, frames)) = repair_wav(&audio) {
                meta.frames = frames;
            }
            note.get_or_insert_with(|| e.to_string());
        }
        meta.state = if note.is_some() { SessionState::Interrupted } else { SessionState::Finished };
        meta.note = note;
        meta.ended = Some(now_rfc3339());
        write_meta(&dir, &meta)?;
        drop(lock);
        flushed.map(|()| dir)
    }

    fn sync_audio(&mut self) -> Result<(), SessionError> {
        self.wav.flush().map_err(|source| self.wav_error(source))?;
        let path = self.dir.join(AUDIO_FILE);
        self.wav_file.sync_data().map_err(io(&path))?;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn wav_error(&self, source: hound::Error) -> SessionError {
        SessionError::Wav { path: self.dir.join(AUDIO_FILE), source }
    }

    fn write_annotations(&self) -> Result<(), SessionError> {
        let mut text = String::new();
        for c in &self.cycles {
            text.push_str(&format!("{:.3}\t{:.3}\t{}\t{}\n", c.start_s, c.end_s, c.crackles, c.wheezes));
        }
        replace_atomically(&self.dir, ANNOTATIONS_FILE, text.as_bytes())
    }

    fn write_meta(&self) -> Result<(), SessionError> {
        write_meta(&self.dir, &self.meta)
    }
}

fn write_meta(dir: &Path, meta: &SessionMeta) -> Result<(), SessionError> {
    let text = toml::to_string(meta).map_err(|e| SessionError::Invalid { path: dir.join(META_FILE), reason: e.to_string() })?;
    replace_atomically(dir, META_FILE, text.as_bytes())
}

/// A session found unfinished and repaired.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub dir: PathBuf,
    /// Frames the WAV header claimed before the repair.
    pub frames_in_header: u64,
    /// Frames in the file after the repair (all complete frames written).
    pub frames: u64,
    pub sample_rate: u32,
}

/// Finds sessions under `parent` left "recording" by a process that is
/// gone (their lock is free), makes their WAV header cover every complete
/// frame on disk, and marks them recovered. A session another process is
/// still writing is left alone.
pub fn recover_unfinished(parent: &Path) -> Result<Vec<Recovered>, SessionError> {
    let mut recovered = Vec::new();
    let entries = match fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(recovered),
        Err(e) => return Err(SessionError::Io { path: parent.to_path_buf(), source: e }),
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        let Ok(mut meta) = SessionMeta::load(&dir) else { continue };
        if meta.state != SessionState::Recording {
            continue;
        }
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new().read(true).write(true).open(&lock_path).map_err(io(&lock_path))?;
        if lock.try_lock().is_err() {
            continue; // still being written
        }
        let audio = dir.join(AUDIO_FILE);
        let (frames_in_header, frames) = repair_wav(&audio)?;
        meta.state = SessionState::Recovered;
        meta.frames = frames;
        meta.note =
            Some(format!("recovered after the recording process stopped unexpectedly; {} of {} frames were already in the header", frames_in_header, frames));
        meta.ended = Some(now_rfc3339());
        let text = toml::to_string(&meta).map_err(|e| SessionError::Invalid { path: dir.join(META_FILE), reason: e.to_string() })?;
        replace_atomically(&dir, META_FILE, text.as_bytes())?;
        recovered.push(Recovered { dir, frames_in_header, frames, sample_rate: meta.sample_rate });
    }
    Ok(recovered)
}

/// Rewrites the RIFF and data chunk sizes of a WAV whose writer died, so
/// they cover every complete frame in the file. Returns the frame counts
/// (before, after).
pub fn repair_wav(path: &Path) -> Result<(u64, u64), SessionError> {
    let invalid = |reason: &str| SessionError::Invalid { path: path.to_path_buf(), reason: reason.to_string() };
    let mut file = OpenOptions::new().read(true).write(true).open(path).map_err(io(path))?;
    let len = file.metadata().map_err(io(path))?.len();
    let mut head = vec![0u8; len.min(4096) as usize];
    file.read_exact(&mut head).map_err(io(path))?;
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(invalid("not a RIFF/WAVE file"));
    }
    let u32_at = |at: usize| -> Option<u32> { head.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])) };
    let mut at = 12usize;
    let mut block_align: Option<u64> = None;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32_at(at + 4).ok_or_else(|| invalid("truncated chunk header"))?;
        if id == b"fmt " {
            let align = head.get(at + 20..at + 22).ok_or_else(|| invalid("truncated fmt chunk"))?;
            block_align = Some(u64::from(u16::from_le_bytes([align[0], align[1]])));
        }
        if id == b"data" {
            let align = block_align.filter(|&a| a > 0).ok_or_else(|| invalid("data chunk before a valid fmt chunk"))?;
            let data_start = (at + 8) as u64;
            let declared = u64::from(size) / align;
            let frames = (len - data_start) / align;
            let data_bytes = frames * align;
            let riff_size = u32::try_from(data_start + data_bytes - 8).map_err(|_| invalid("over 4 GiB"))?;
            let data_size = u32::try_from(data_bytes).map_err(|_| invalid("over 4 GiB"))?;
            file.seek(SeekFrom::Start(4)).map_err(io(path))?;
            file.write_all(&riff_size.to_le_bytes()).map_err(io(path))?;
            file.seek(SeekFrom::Start(at as u64 + 4)).map_err(io(path))?;
            file.write_all(&data_size.to_le_bytes()).map_err(io(path))?;
            // A partly written last frame is cut off.
            file.set_len(data_start + data_bytes).map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
            return Ok((declared, frames));
        }
        at += 8 + size as usize + (size as usize & 1);
    }
    Err(invalid("no data chunk in the first 4 KiB"))
}

/// Writes `name` in `dir` atomically: a temporary file, synced, renamed
/// over the old one, then the directory synced.
fn replace_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SessionError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let target = dir.join(name);
    {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io(&tmp))?;
        file.write_all(bytes).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, &target).map_err(io(&target))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), SessionError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn create_private(path: &Path) -> Result<File, SessionError> {
    let file = OpenOptions::new().write(true).read(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
    // The mode above is filtered by the umask; make sure of 0600 anyway.
    file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    Ok(file)
}

/// `parent/20261123T150405Z`, or with `-2`, `-3`... if taken.
fn unique_dir(parent: &Path, started: &str) -> Result<PathBuf, SessionError> {
    let stem: String = started.chars().filter(|c| *c != '-' && *c != ':').collect();
    for n in 1..1000 {
        let dir = if n == 1 { parent.join(&stem) } else { parent.join(format!("{stem}-{n}")) };
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SessionError::Io { path: dir, source: e }),
        }
    }
    Err(SessionError::Invalid { path: parent.to_path_buf(), reason: "too many sessions started this second".into() })
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Parses an ICBHI annotation file: one cycle per line,
/// `start end crackles wheezes`, whitespace separated.
pub fn parse_annotations(text: &str, path: &Path) -> Result<Vec<AnnotatedCycle>, SessionError> {
    let mut cycles = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| SessionError::Invalid { path: path.to_path_buf(), reason: format!("line {}: {what}: {line:?}", i + 1) };
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 4 {
            return Err(bad("expected 4 fields (start end crackles wheezes)"));
        }
        let start_s: f64 = fields[0].parse().map_err(|_| bad("start is not a number"))?;
        let end_s: f64 = fields[1].parse().map_err(|_| bad("end is not a number"))?;
        let flag = |s: &str| match s {
            "0" => Ok(0u8),
            "1" => Ok(1u8),
            _ => Err(bad("crackles and wheezes must be 0 or 1")),
        };
        let crackles = flag(fields[2])?;
        let wheezes = flag(fields[3])?;
        if !(start_s.is_finite() && end_s.is_finite() && start_s >= 0.0 && end_s >= start_s) {
            return Err(bad("need 0 <= start <= end"));
        }
        cycles.push(AnnotatedCycle { start_s, end_s, crackles, wheezes });
    }
    Ok(cycles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_finished_session_is_private_and_complete() {
        let root = tempfile::tempdir().unwrap();
        let parent = root.path().join("sessions");
        let mut meta = SessionMeta::new("test-device", "live", 4000);
        meta.chain = Some("[[chain]]\nplugin = \"bandpass\"\n".into());
        let mut writer = SessionWriter::create(&parent, meta).unwrap();
        writer.mark_location("P L L").unwrap();
        let samples: Vec<f32> = (0..10_000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        writer.write(&samples).unwrap();
        writer.add_cycle(0.25, 1.5).unwrap();
        writer.add_cycle(1.5, 2.25).unwrap();
        let LabelOutcome::Labelled(labelled) = writer.label_at(1.0, CycleClass::Wheeze).unwrap() else { panic!("not labelled") };
        assert_eq!((labelled.start_s, labelled.wheezes), (0.25, 1));
        let dir = writer.finish(None).unwrap();

        assert_eq!(mode(&parent), 0o700);
        assert_eq!(mode(&dir), 0o700);
        for name in [AUDIO_FILE, ANNOTATIONS_FILE, META_FILE, LOCK_FILE] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        let decoded = crate::audio::decode_file(&dir.join(AUDIO_FILE)).unwrap();
        assert_eq!(decoded.samples, samples);
        let text = fs::read_to_string(dir.join(ANNOTATIONS_FILE)).unwrap();
        assert_eq!(text, "0.250\t1.500\t0\t1\n1.500\t2.250\t0\t0\n");
        let cycles = parse_annotations(&text, Path::new("a.txt")).unwrap();
        assert_eq!(cycles.len(), 2);
        let meta = SessionMeta::load(&dir).unwrap();
        assert_eq!(meta.state, SessionState::Finished);
        assert_eq!(meta.frames, 10_000);
        assert_eq!(meta.locations[0].location, "P L L");
        assert_eq!(meta.labels[0].label, CycleClass::Wheeze);
        assert!(meta.chain.unwrap().contains("bandpass"));
        // A finished session is not "recovered".
        assert!(recover_unfinished(&parent).unwrap().is_empty());
    }

    #[test]
    fn a_label_waits_for_the_cycle_being_heard_and_never_lands_on_another() {
        let root = tempfile::tempdir().unwrap();
        let mut writer = SessionWriter::create(root.path(), SessionMeta::new("d", "live", 4000)).unwrap();
        // Heard at 0.5 s, before any cycle has ended: the label waits.
        assert_eq!(writer.label_at(0.5, CycleClass::Crackle).unwrap(), LabelOutcome::Pending);
        let settled = writer.add_cycle(0.2, 1.8).unwrap();
        let Some(LabelOutcome::Labelled(c)) = settled else { panic!("{settled:?}") };
        assert_eq!((c.start_s, c.end_s, c.crackles, c.wheezes), (0.2, 1.8, 1, 0));
        // Heard at 2.0 s; the next cycle to end is 1.8-3.0: that one.
        assert_eq!(writer.label_at(2.0, CycleClass::Wheeze).unwrap(), LabelOutcome::Pending);
        assert!(matches!(writer.add_cycle(1.8, 3.0).unwrap(), Some(LabelOutcome::Labelled(c)) if c.wheezes == 1));
        // A cycle that ends before the time heard leaves the label waiting.
        writer.label_at(3.6, CycleClass::Both).unwrap();
        assert_eq!(writer.add_cycle(3.0, 3.5).unwrap(), None);
        assert_eq!(writer.pending_label(), Some((3.6, CycleClass::Both)));
        // Heard in a stretch no written cycle covers: lost, not moved.
        assert_eq!(writer.add_cycle(3.7, 5.0).unwrap(), Some(LabelOutcome::Lost));
        assert_eq!(writer.label_at(0.1, CycleClass::Normal).unwrap(), LabelOutcome::Lost);
        let dir = writer.finish(None).unwrap();
        let text = fs::read_to_string(dir.join(ANNOTATIONS_FILE)).unwrap();
        assert_eq!(text, "0.200\t1.800\t1\t0\n1.800\t3.000\t0\t1\n3.000\t3.500\t0\t0\n3.700\t5.000\t0\t0\n");
        let labels = SessionMeta::load(&dir).unwrap().labels;
        assert_eq!(labels.iter().map(|l| (l.start_s, l.label)).collect::<Vec<_>>(), [(0.2, CycleClass::Crackle), (1.8, CycleClass::Wheeze)]);
    }

    #[test]
    fn an_abandoned_session_is_repaired_and_a_live_one_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let samples: Vec<f32> = (0..8000).map(|i| i as f32 / 8000.0).collect();
        let mut writer = SessionWriter::create(root.path(), SessionMeta::new("d", "live", 8000)).unwrap();
        writer.write(&samples[..4000]).unwrap();
        writer.sync_audio().unwrap(); // the header says 4000 frames
        let dir = writer.dir().to_path_buf();
        // Still held: not touched.
        assert!(recover_unfinished(root.path()).unwrap().is_empty());
        // Simulate the process dying: the lock goes, the header is stale,
        // more frames reached the file after the last sync, and half a
        // frame was being written.
        std::mem::forget(writer.wav);
        drop(writer._lock);
        let mut tail: Vec<u8> = samples[4000..].iter().flat_map(|s| s.to_le_bytes()).collect();
        tail.extend_from_slice(&[1, 2]);
        OpenOptions::new().append(true).open(dir.join(AUDIO_FILE)).unwrap().write_all(&tail).unwrap();
        assert_eq!(crate::audio::decode_file(&dir.join(AUDIO_FILE)).unwrap().samples.len(), 4000);

        let recovered = recover_unfinished(root.path()).unwrap();
        assert_eq!(recovered.len(), 1);
        assert_eq!((recovered[0].frames_in_header, recovered[0].frames), (4000, 8000));
        assert_eq!(crate::audio::decode_file(&dir.join(AUDIO_FILE)).unwrap().samples, samples);
        assert_eq!(SessionMeta::load(&dir).unwrap().state, SessionState::Recovered);
        assert!(recover_unfinished(root.path()).unwrap().is_empty(), "repaired once only");
    }

    #[test]
    fn annotation_errors_name_the_line() {
        let err = parse_annotations("0.1 0.5 0 0\n0.5 x 0 1\n", Path::new("r.txt")).unwrap_err().to_string();
        assert!(err.contains("r.txt") && err.contains("line 2"), "{err}");
        assert!(parse_annotations("0.1 0.5 2 0\n", Path::new("r.txt")).is_err());
        assert!(parse_annotations("0.9 0.5 0 0\n", Path::new("r.txt")).is_err());
    }
}
