//! Which recordings a corpus-scale command reads: files and directories
//! (searched recursively for audio) on the command line, a list file
//! (`--files-from`, `-` for stdin), and this machine's share of them
//! (`--shard K/N`).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// Audio the decoder reads.
const AUDIO: [&str; 2] = ["wav", "flac"];

/// One share of the inputs: `index` of `count`, counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `K/N`, 0 ≤ K < N (as Slurm's `$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`
    /// and Kubernetes' `$JOB_COMPLETION_INDEX` give them).
    fn from_str(text: &str) -> Result<Shard, String> {
        let (k, n) = text.split_once('/').ok_or_else(|| format!("{text:?} is not K/N"))?;
        let (index, count): (u64, u64) =
            (k.trim().parse().map_err(|_| format!("{k:?} is not a number"))?, n.trim().parse().map_err(|_| format!("{n:?} is not a number"))?);
        if count == 0 || index >= count {
            return Err(format!("{text}: K must be 0 to N - 1"));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether `path` is this shard's: by a hash of the path as given, so
    /// that every machine, given the same list, deals it the same way.
    pub fn owns(&self, path: &Path) -> bool {
        let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first) % self.count == self.index
    }
}

/// The recordings named by `paths` (a directory stands for every WAV and
/// FLAC below it, sorted) and by the lines of `files_from` (a file, or `-`
/// for stdin; blank lines skipped), in that order, each once; then this
/// shard's share of them. A path that does not exist is an error naming it.
pub fn expand(paths: &[PathBuf], files_from: Option<&Path>, shard: Option<Shard>) -> anyhow::Result<Vec<PathBuf>> {
    let mut listed = paths.to_vec();
    if let Some(list) = files_from {
        let lines: Vec<String> = if list == Path::new("-") {
            std::io::stdin().lock().lines().collect::<Result<_, _>>().context("reading the file list from stdin")?
        } else {
            let file = std::fs::File::open(list).with_context(|| format!("--files-from {}", list.display()))?;
            std::io::BufReader::new(file).lines().collect::<Result<_, _>>().with_context(|| format!("reading {}", list.display()))?
        };
        listed.extend(lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).map(PathBuf::from));
    }
    let mut files = Vec::new();
    for path in listed {
        if path.is_dir() {
            audio_below(&path, &mut files).with_context(|| format!("reading the directory {}", path.display()))?;
        } else {
            // The OS's reason, with the path, for one that is not there.
            std::fs::metadata(&path).with_context(|| path.display().to_string())?;
            files.push(path);
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    if let Some(shard) = shard {
        files.retain(|f| shard.owns(f));
    }
    Ok(files)
}

/// Every audio file below `dir`, sorted, subdirectories in order.
fn audio_below(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            audio_below(&path, out)?;
        } else if path.extension().is_some_and(|e| AUDIO.iter().any(|a| e.eq_ignore_ascii_case(a))) {
            out.push(path);
        }
    }
    Ok(())
}

/// Runs `work` over `files` on `jobs` threads, each with its own state
/// from `start` (a model, a preprocessor: built once per thread), and hands
/// each file's index and result to `done` on this thread as files finish.
/// If `start` fails, every file fails with its error. If `done` fails
/// (stdout gone, say), the workers stop after the file in hand and the
/// error is returned.
pub fn run_parallel<S, T>(
    files: &[PathBuf],
    jobs: usize,
    start: impl Fn() -> anyhow::Result<S> + Sync,
    work: impl Fn(&mut S, &Path) -> anyhow::Result<T> + Sync,
    mut done: impl FnMut(usize, anyhow::Result<T>) -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    T: Send,
{
    let next = AtomicUsize::new(0);
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, anyhow::Result<T>)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, files.len().max(1)) {
            let (next, tx, start, work) = (&next, tx.clone(), &start, &work);
            scope.spawn(move || {
                let mut state = start();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files.len() {
                        return;
                    }
                    let result = match state.as_mut() {
                        Ok(state) => work(state, &files[i]),
                        Err(e) => Err(anyhow::anyhow!("{}", super::error_line(e))),
                    };
                    if tx.send((i, result)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for (i, result) in rx.iter() {
            if let Err(e) = done(i, result) {
                next.store(files.len(), Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    })
}

/// `--jobs`, or the machine's cores.
pub fn jobs(requested: Option<u16>) -> usize {
    requested.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_inputs_once_each() {
        let paths: Vec<PathBuf> = (0..300).map(|i| PathBuf::from(format!("corpus/rec_{i:03}.wav"))).collect();
        let shards: Vec<Shard> = (0..3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        let mut counts = [0usize; 3];
        for p in &paths {
            let owners: Vec<usize> = (0..3).filter(|&k| shards[k].owns(p)).collect();
            assert_eq!(owners.len(), 1, "{} belongs to one shard", p.display());
            counts[owners[0]] += 1;
        }
        assert!(counts.iter().all(|&c| c > 70), "{counts:?}");
        assert_eq!("3/3".parse::<Shard>(), Err("3/3: K must be 0 to N - 1".into()));
        assert!("x/3".parse::<Shard>().is_err() && "1-3".parse::<Shard>().is_err());
    }

    #[test]
    fn directories_expand_to_their_audio_and_a_missing_path_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        for f in ["a.wav", "b/c/d.FLAC", "b/notes.txt", "b/e.wav"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let list = dir.path().join("list.txt");
        std::fs::write(&list, format!("{}\n\n{}\n", dir.path().join("a.wav").display(), dir.path().join("b/e.wav").display())).unwrap();
        let got = expand(&[dir.path().join("b")], Some(&list), None).unwrap();
        let names: Vec<String> = got.iter().map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string()).collect();
        assert_eq!(names, ["b/c/d.FLAC", "b/e.wav", "a.wav"], "directory first, then the list; e.wav once");
        let err = format!("{:#}", expand(&[dir.path().join("nope.wav")], None, None).unwrap_err());
        assert!(err.contains("nope.wav: No such file or directory"), "{err}");
    }
}
