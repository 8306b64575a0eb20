//! Where plugins are found, and how a chain's `plugin = "name"` becomes a
//! file.
//!
//! Search order (first match wins):
//! 1. the directories a chain file names in `plugin_path`;
//! 2. `AUSCULT_PLUGIN_PATH` (colon-separated);
//! 3. the directory of the running executable (where `cargo build` puts the
//!    workspace's plugins);
//! 4. `$XDG_DATA_HOME/auscult/plugins` (default `~/.local/share/auscult/plugins`).
//!
//! A plugin is named by its file (`libbandpass.so` is `bandpass`) or by its
//! descriptor id (`org.auscult.bandpass`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::library::{LoadError, PluginLibrary};

/// The environment variable that adds plugin directories.
pub const PLUGIN_PATH_ENV: &str = "AUSCULT_PLUGIN_PATH";

/// Plugin search directories, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPath {
    pub dirs: Vec<PathBuf>,
}

impl SearchPath {
    /// The standard path, after `extra` directories (from a chain file or the
    /// command line).
    pub fn standard(extra: &[PathBuf]) -> SearchPath {
        let mut dirs: Vec<PathBuf> = extra.to_vec();
        if let Some(env) = std::env::var_os(PLUGIN_PATH_ENV) {
            dirs.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
        }
        if let Some(dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
            dirs.push(dir);
        }
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
        if let Some(data) = data_home {
            dirs.push(data.join("auscult/plugins"));
        }
        let mut seen = Vec::new();
        dirs.retain(|d| {
            let key = d.canonicalize().unwrap_or_else(|_| d.clone());
            let new = !seen.contains(&key);
            seen.push(key);
            new
        });
        SearchPath { dirs }
    }

    /// Every plugin-looking file (`lib*.so`) in the search directories, in
    /// search order; a name found twice keeps its first file.
    pub fn candidates(&self) -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for path in files {
                if let Some(name) = short_name(&path) {
                    if !out.iter().any(|(n, _)| *n == name) {
                        out.push((name, path));
                    }
                }
            }
        }
        out
    }

    /// Finds and loads the plugin called `name` (file name or id).
    pub fn resolve(&self, name: &str) -> Result<Arc<PluginLibrary>, ResolveError> {
        let candidates = self.candidates();
        if let Some((_, path)) = candidates.iter().find(|(n, _)| n == name) {
            return PluginLibrary::load(path).map_err(ResolveError::Load);
        }
        // Not a file name: try ids, loading each candidate (skipping those
        // that fail to load: their errors belong to `plugins list`).
        for (_, path) in &candidates {
            if let Ok(lib) = PluginLibrary::load(path) {
                if lib.info().id == name {
                    return Ok(lib);
                }
            }
        }
        Err(ResolveError::NotFound { name: name.to_string(), known: candidates.into_iter().map(|(n, _)| n).collect(), searched: self.dirs.clone() })
    }
}

/// `libbandpass.so` -> `bandpass`.
pub fn short_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = file.strip_suffix(".so")?;
    Some(stem.strip_prefix("lib").unwrap_or(stem).to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no plugin named \"{name}\" (found: {}; searched: {})", list(known), searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound { name: String, known: Vec<String>, searched: Vec<PathBuf> },
    #[error(transparent)]
    Load(LoadError),
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_name(Path::new("/x/libbandpass.so")).as_deref(), Some("bandpass"));
        assert_eq!(short_name(Path::new("denoise.so")).as_deref(), Some("denoise"));
        assert_eq!(short_name(Path::new("/x/libfoo.rlib")), None);
    }
}
