//! What `train` and `eval` share: loading a task's corpus and the
//! progress bar.

use std::path::Path;

use anyhow::Context;
use auscult::datasets::Corpus;
use auscult::model::tasks::{self, Task};
use indicatif::{ProgressBar, ProgressStyle};

/// The task by name and its corpus from `data`; the loader's warnings (a
/// recording skipped, say) go to stderr.
pub(super) fn load_task(name: &str, data: &Path) -> anyhow::Result<(Task, Corpus)> {
    let task = tasks::task(name).with_context(|| format!("unknown task {name:?}; tasks: {}", tasks::NAMES.join(", ")))?;
    let corpus = task.loader.load(data)?;
    for w in &corpus.warnings {
        eprintln!("auscult: warning: {w}");
    }
    Ok((task, corpus))
}

/// A progress bar on stderr for `len` items of `what`.
pub(super) fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed_precise}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.set_message(what.to_string());
    bar
}
