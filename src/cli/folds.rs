//! `auscult folds`: which patients each patient-disjoint fold holds out.
//!
//! With a dozen held-out patients, which ones they are moves a balanced
//! accuracy by ±0.1 or more, so a baseline compared with the CNN must be
//! scored on the same folds. This prints them as CSV, one row per example,
//! in the corpus's order, exactly as `train --folds K --seed S` deals them
//! (`scripts/baseline_mfcc_svm.py --auscult BIN` reads it).

use std::path::PathBuf;

use auscult::datasets::split::patient_kfold;
use clap::Args;

use super::corpus::load_task;

#[derive(Args, Debug)]
pub struct FoldsArgs {
    /// lung-cycles (ICBHI, SPRSound, KAUH), lung-diagnosis (KAUH), heart (class folders), heart-murmur (CirCor), heart-abnormal (PhysioNet 2016), icbhi-diagnosis, sprsound-events, sprsound-records, folder.
    #[arg(long)]
    task: String,
    /// The dataset's directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Number of patient-disjoint folds, as given to `train`.
    #[arg(long, default_value_t = 5, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..))]
    folds: usize,
    /// Blocks of numbered files as patients, as given to `train --file-blocks`.
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    file_blocks: Option<usize>,
    /// The seed given to `train`.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Writes `fold,patient,class,start_s,end_s,path` to stdout.
pub fn run(args: &FoldsArgs) -> anyhow::Result<()> {
    let (_task, mut corpus) = load_task(&args.task, &args.data)?;
    if let Some(block) = args.file_blocks {
        auscult::datasets::split::group_by_file_number(&mut corpus, block)?;
    }
    anyhow::ensure!(!corpus.examples.is_empty(), "{}: no examples found for task {}", args.data.display(), args.task);
    let mut fold_of = vec![usize::MAX; corpus.examples.len()];
    for fold in 0..args.folds {
        for i in patient_kfold(&corpus, args.folds, fold, args.seed).test {
            fold_of[i] = fold;
        }
    }
    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
    out.write_record(["fold", "patient", "class", "start_s", "end_s", "path"])?;
    for (e, fold) in corpus.examples.iter().zip(&fold_of) {
        let (start, end) = e.span.map_or((String::new(), String::new()), |(s, t)| (s.to_string(), t.to_string()));
        out.write_record([&fold.to_string(), &e.patient, &corpus.classes[e.label], &start, &end, &e.path.display().to_string()])?;
    }
    out.flush()?;
    Ok(())
}
