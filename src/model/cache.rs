//! Whole recordings' log-mel spectrograms, computed once: kept in memory
//! for a run and, given a directory (`train --feature-cache`), on disk
//! between runs. Decoding, resampling and the chain are most of what a
//! training run spends before its first step; a second run over the same
//! corpus with the same settings reads them back instead.
//!
//! An entry is keyed by everything that decides its values: the mel
//! settings, the chain's text, each plugin's id and version and its
//! library file (path, size, modification time), and the recording's
//! canonical path, size and modification time. Change any of them and the
//! key changes, so a stale entry is never read; it is simply not found.
//! An entry that cannot be read back whole (a run killed mid-write leaves
//! none: entries are written beside and renamed into place) is computed
//! again and rewritten.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::features::{FeatureError, LogMel, Preprocessor};

/// The first bytes of an entry; the digit is the layout's version.
const MAGIC: &[u8; 8] = b"AUSCMEL1";

/// Log-mels by recording, in memory and optionally on disk.
#[derive(Default)]
pub struct MelCache {
    memory: HashMap<PathBuf, LogMel>,
    disk: Option<DiskCache>,
    /// Recordings read back from disk, and computed, in this run.
    pub read_back: usize,
    pub computed: usize,
}

struct DiskCache {
    dir: PathBuf,
    /// The digest of the settings and the chain (see [`Preprocessor::identity`]).
    settings: Vec<u8>,
}

impl MelCache {
    /// A cache that lives as long as the run.
    pub fn in_memory() -> MelCache {
        MelCache::default()
    }

    /// A cache that also keeps entries in `dir` (created if missing) for
    /// `pre`'s settings and chain.
    pub fn on_disk(dir: &Path, pre: &Preprocessor) -> std::io::Result<MelCache> {
        std::fs::create_dir_all(dir).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        let settings = Sha256::digest(pre.identity().as_bytes()).to_vec();
        Ok(MelCache { disk: Some(DiskCache { dir: dir.to_path_buf(), settings }), ..MelCache::default() })
    }

    /// The whole recording's log-mel: from memory, from disk, or computed
    /// by `pre` (and then kept in both).
    pub fn get(&mut self, path: &Path, pre: &mut Preprocessor) -> Result<&LogMel, FeatureError> {
        if !self.memory.contains_key(path) {
            let entry = self.disk.as_ref().and_then(|d| d.entry(path));
            let mel = match entry.as_deref().and_then(read_entry) {
                Some(mel) => {
                    self.read_back += 1;
                    mel
                }
                None => {
                    let mel = pre.file(path)?;
                    self.computed += 1;
                    // A cache that cannot be written costs speed, never the run.
                    if let Some(entry) = &entry {
                        let _ = write_entry(entry, &mel);
                    }
                    mel
                }
            };
            self.memory.insert(path.to_path_buf(), mel);
        }
        Ok(&self.memory[path])
    }
}

impl DiskCache {
    /// The entry's file for `recording` as it is now; `None` when its
    /// metadata cannot be read (the computation will say why).
    fn entry(&self, recording: &Path) -> Option<PathBuf> {
        let canonical = recording.canonicalize().ok()?;
        let meta = std::fs::metadata(&canonical).ok()?;
        let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        let mut key = Sha256::new();
        key.update(&self.settings);
        key.update(canonical.as_os_str().as_encoded_bytes());
        key.update([0]);
        key.update(meta.len().to_le_bytes());
        key.update(modified.as_nanos().to_le_bytes());
        let hex: String = key.finalize().iter().map(|b| format!("{b:02x}")).collect();
        // Two levels, as git does, so no one directory holds every entry.
        Some(self.dir.join(&hex[..2]).join(format!("{}.mel", &hex[2..])))
    }
}

/// An entry's log-mel, or `None` if it is missing or not whole.
fn read_entry(path: &Path) -> Option<LogMel> {
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    let (n_mels, rest) = rest.split_first_chunk::<4>()?;
    let (count, rest) = rest.split_first_chunk::<8>()?;
    let n_mels = u32::from_le_bytes(*n_mels) as usize;
    let count = usize::try_from(u64::from_le_bytes(*count)).ok()?;
    if n_mels == 0 || count % n_mels != 0 || rest.len() != count.checked_mul(4)? {
        return None;
    }
    let data = rest.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Some(LogMel { n_mels, data })
}

/// Writes an entry beside its place (a name of this process's own, so runs
/// side by side do not write into one file) and renames it there, so that
/// a reader finds the whole entry or none.
fn write_entry(path: &Path, mel: &LogMel) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut bytes = Vec::with_capacity(MAGIC.len() + 12 + 4 * mel.data.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&u32::try_from(mel.n_mels).unwrap_or(0).to_le_bytes());
    bytes.extend_from_slice(&(mel.data.len() as u64).to_le_bytes());
    for v in &mel.data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::File::create(&tmp)?.write_all(&bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back_bit_exactly_and_a_cut_one_does_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ab").join("cdef.mel");
        let mel = LogMel { n_mels: 3, data: vec![-80.0, -12.5, 0.0, f32::MIN_POSITIVE, -0.0, 1e-7] };
        write_entry(&path, &mel).unwrap();
        assert_eq!(read_entry(&path), Some(mel.clone()));
        let bytes = std::fs::read(&path).unwrap();
        for cut in [bytes.len() - 1, bytes.len() - 4, 20, 8, 3, 0] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            assert_eq!(read_entry(&path), None, "cut at {cut}");
        }
        let mut wrong = bytes.clone();
        wrong[7] = b'9';
        std::fs::write(&path, &wrong).unwrap();
        assert_eq!(read_entry(&path), None, "another layout's magic");
    }
}
