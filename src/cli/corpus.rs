//! What `train` and `eval` share: loading a task's corpus and the
//! progress bar.

use std::path::Path;

use anyhow::Context;
use auscult::datasets::Corpus;
use auscult::model::card::ModelCard;
use auscult::model::pipeline::SplitSpec;
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

/// The corpus a trained model is scored on, as its training saw it: the
/// card's task, files grouped into blocks where its split did, and its
/// classes checked against the data's.
pub(super) fn load_for_card(card: &ModelCard, data: &Path) -> anyhow::Result<(Task, Corpus)> {
    let (task, mut corpus) = load_task(&card.task, data)?;
    // A model whose folds grouped files into blocks is scored, and its
    // interval resampled, over the same blocks.
    if let Some(block) = SplitSpec::parse(&card.training.split).and_then(|s| s.file_blocks()) {
        auscult::datasets::split::group_by_file_number(&mut corpus, block)?;
    }
    if corpus.classes != card.classes {
        anyhow::bail!("{}: the data's classes {:?} are not the model's {:?}", data.display(), corpus.classes, card.classes);
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
