//! Chain files: TOML that lists plugins in order.
//!
//! ```toml
//! plugin_path = ["my-plugins"]        # optional, relative to this file
//!
//! [[chain]]
//! plugin = "bandpass"
//! params = { low_hz = 100.0, high_hz = 2000.0 }
//! bypass = false
//! restart_after_s = 1.0               # optional: restart after a fault
//! ```
//!
//! Every mistake is reported with the file, line and column, and for a
//! parameter with its allowed range.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use auscult_plugin_api::ParamScale;
use serde::Deserialize;
use toml::Spanned;

use super::abi::PluginInfo;
use super::chain::Chain;
use super::discovery::{ResolveError, SearchPath};
use super::instance::PluginInstance;

/// A chain file as written, with the source positions of every value.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ChainFile {
    #[serde(default)]
    pub plugin_path: Vec<PathBuf>,
    #[serde(default)]
    pub chain: Vec<Spanned<ChainEntry>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainEntry {
    pub plugin: Spanned<String>,
    #[serde(default)]
    pub params: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    pub bypass: bool,
    /// Give the plugin a fresh instance this many seconds after a fault
    /// (doubling for faults in a row); absent: stay bypassed until cleared.
    #[serde(default)]
    pub restart_after_s: Option<Spanned<f64>>,
}

/// An error in a chain file, at a position.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {message}", path.display())]
    At { path: PathBuf, line: usize, column: usize, message: String },
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A chain file together with its text, for positions in errors.
#[derive(Debug, Clone)]
pub struct ChainConfig {
    pub path: PathBuf,
    text: String,
    pub file: ChainFile,
}

impl ChainConfig {
    pub fn load(path: &Path) -> Result<ChainConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        ChainConfig::parse(path, text)
    }

    /// Parses `text` as if read from `path`.
    pub fn parse(path: &Path, text: String) -> Result<ChainConfig, ConfigError> {
        match toml::from_str::<ChainFile>(&text) {
            Ok(file) => Ok(ChainConfig { path: path.to_path_buf(), text, file }),
            Err(e) => {
                let offset = e.span().map_or(0, |s| s.start);
                let (line, column) = line_column(&text, offset);
                Err(ConfigError::At { path: path.to_path_buf(), line, column, message: e.message().trim().to_string() })
            }
        }
    }

    /// The file this chain came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The chain file's text, as read.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// An empty chain that belongs to no file.
    pub fn empty() -> ChainConfig {
        ChainConfig { path: PathBuf::from("<empty chain>"), text: String::new(), file: ChainFile::default() }
    }

    fn at(&self, span: std::ops::Range<usize>, message: String) -> ConfigError {
        let (line, column) = line_column(&self.text, span.start);
        ConfigError::At { path: self.path.clone(), line, column, message }
    }

    /// `plugin_path` entries, relative to the chain file's directory.
    pub fn plugin_dirs(&self) -> Vec<PathBuf> {
        let base = self.path.parent().unwrap_or(Path::new("."));
        self.file.plugin_path.iter().map(|p| base.join(p)).collect()
    }

    /// Loads every plugin, checks every parameter, and builds the chain.
    pub fn build(&self, search: &SearchPath, sample_rate: f64, max_block: usize) -> Result<Chain, ConfigError> {
        let mut chain = Chain::new(sample_rate, max_block);
        for entry in &self.file.chain {
            let entry_span = entry.span();
            let entry = entry.get_ref();
            let name = entry.plugin.get_ref();
            // Native plugins by file or id; LADSPA ones as `ladspa:LABEL`.
            let (source, info) = if let Some(label) = name.strip_prefix(super::ladspa::PREFIX) {
                let plugin = super::ladspa::find(label).map_err(|e| self.at(entry.plugin.span(), e))?;
                if let Some(problem) = plugin.mono_problem() {
                    return Err(self.at(entry.plugin.span(), problem));
                }
                let info = plugin.info_at(sample_rate);
                (Source::Ladspa(plugin), info)
            } else {
                let library = search.resolve(name).map_err(|e| match e {
                    ResolveError::NotFound { .. } => self.at(entry.plugin.span(), e.to_string()),
                    ResolveError::Load(load) => self.at(entry.plugin.span(), format!("plugin \"{name}\": {load}")),
                })?;
                let info = library.info().clone();
                (Source::Native(library), info)
            };
            // Check every parameter before creating anything.
            let mut values: Vec<(u32, f64)> = Vec::new();
            for (key, value) in &entry.params {
                let param = info
                    .param(key.get_ref())
                    .ok_or_else(|| self.at(key.span(), format!("unknown parameter \"{}\" for plugin \"{name}\"; {}", key.get_ref(), describe_params(&info))))?;
                let number = match (value.get_ref(), param.scale) {
                    (toml::Value::Float(f), _) => *f,
                    (toml::Value::Integer(i), _) => *i as f64,
                    (toml::Value::Boolean(b), ParamScale::Toggle) => f64::from(u8::from(*b)),
                    (other, _) => {
                        return Err(self.at(
                            value.span(),
                            format!("parameter \"{}\" of \"{name}\" must be a number, not {}; allowed: {}", param.name, other.type_str(), param.range_text()),
                        ))
                    }
                };
                if !param.accepts(number) {
                    return Err(self
                        .at(value.span(), format!("parameter \"{}\" of \"{name}\" = {number} is out of range; allowed: {}", param.name, param.range_text())));
                }
                values.push((param.id, number));
            }
            let mut instance = match source {
                Source::Native(library) => PluginInstance::new(library, sample_rate, max_block)
                    .map_err(|e| self.at(entry_span.clone(), format!("plugin \"{name}\" failed to start at {sample_rate} Hz: {}", e.message)))?,
                Source::Ladspa(plugin) => {
                    PluginInstance::from_ladspa(super::ladspa::LadspaInstance::new(plugin, sample_rate).map_err(|e| self.at(entry_span.clone(), e))?)
                }
            };
            // Apply in descriptor order, so plugins see the same sequence
            // whatever order the file lists them in.
            for p in &info.params {
                if let Some((id, v)) = values.iter().find(|(id, _)| *id == p.id) {
                    instance.set_param(*id, *v).map_err(|e| {
                        let span = entry.params.iter().find(|(k, _)| k.get_ref() == &p.name).map(|(_, v)| v.span()).unwrap_or(entry_span.clone());
                        self.at(span, format!("plugin \"{name}\" refused {} = {v}: {}", p.name, e.message))
                    })?;
                }
            }
            chain.push(name.clone(), instance, entry.bypass);
            if let Some(after) = &entry.restart_after_s {
                let s = *after.get_ref();
                if !(s.is_finite() && s > 0.0 && s <= 3600.0) {
                    return Err(self.at(after.span(), format!("restart_after_s = {s}: needs a number of seconds in (0, 3600]")));
                }
                chain.set_restart(chain.len() - 1, Some(s));
            }
        }
        Ok(chain)
    }
}

/// Where a chain entry's plugin comes from.
enum Source {
    Native(std::sync::Arc<super::library::PluginLibrary>),
    Ladspa(super::ladspa::LadspaPlugin),
}

/// `parameters: low_hz [10, 1000] Hz, ...` or `it has no parameters`.
fn describe_params(info: &PluginInfo) -> String {
    if info.params.is_empty() {
        return "it has no parameters".into();
    }
    let list: Vec<String> = info.params.iter().map(|p| format!("{} {}", p.name, p.range_text())).collect();
    format!("parameters: {}", list.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let text = "a\nbc\ndéf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 2));
        assert_eq!(line_column(text, 8), (3, 3));
    }

    #[test]
    fn syntax_and_unknown_key_errors_have_positions() {
        let bad = "[[chain]]\nplugin = \"gain\"\nbypas = true\n";
        let err = ChainConfig::parse(Path::new("c.toml"), bad.into()).unwrap_err().to_string();
        assert!(err.starts_with("c.toml:3:1:") && err.contains("bypas"), "{err}");
        let bad = "[[chain]]\nplugin = gain\n";
        let err = ChainConfig::parse(Path::new("c.toml"), bad.into()).unwrap_err().to_string();
        assert!(err.starts_with("c.toml:2:"), "{err}");
    }

    #[test]
    fn spans_reach_parameter_names() {
        let text = "[[chain]]\nplugin = \"gain\"\nparams = { gain_db = 3.0 }\n";
        let cfg = ChainConfig::parse(Path::new("c.toml"), text.into()).unwrap();
        let entry = cfg.file.chain[0].get_ref();
        let (key, value) = entry.params.iter().next().unwrap();
        assert_eq!(line_column(text, key.span().start), (3, 12));
        assert_eq!(value.get_ref().as_float(), Some(3.0));
    }
}
