//! `auscult eval-beats`: a chain's S1 and S2 events scored against CirCor's
//! annotated segmentations, and the heart rate it would show against the
//! annotated rate.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use auscult::audio::decode_file;
use auscult::beat_eval::{self, Counts, Detection, Reference};
use auscult::datasets::circor;
use auscult::host::{ChainConfig, SearchPath};
use auscult_plugin_api::EventKind;

const HEART_CHAIN: &str = include_str!("../../plugins/chains/heart.toml");

#[derive(clap::Args, Debug)]
pub struct EvalBeatsArgs {
    /// A CirCor DigiScope copy: the folder holding training_data.csv and
    /// training_data/ (each recording's .tsv is the reference).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The chain to score (default: heart mode's, plugins/chains/heart.toml).
    #[arg(long, value_name = "CHAIN.toml")]
    chain: Option<PathBuf>,
    /// How far a detected onset may be from the annotated one.
    #[arg(long, default_value_t = 100.0, value_name = "MS")]
    tolerance_ms: f64,
    /// Write one row per recording: its counts and rates.
    #[arg(long, value_name = "OUT.csv")]
    csv: Option<PathBuf>,
}

pub fn run(args: &EvalBeatsArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.tolerance_ms > 0.0 && args.tolerance_ms.is_finite(), "--tolerance-ms must be above 0, not {}", args.tolerance_ms);
    let config = match &args.chain {
        Some(path) => ChainConfig::load(path)?,
        None => ChainConfig::parse(std::path::Path::new("plugins/chains/heart.toml"), HEART_CHAIN.to_string())?,
    };
    let search = SearchPath::standard(&config.plugin_dirs());
    let (recordings, skipped) = circor::recordings(&args.data)?;
    for s in &skipped {
        eprintln!("auscult: warning: {s}");
    }
    let tolerance = args.tolerance_ms / 1000.0;
    let mut csv = match &args.csv {
        Some(path) => {
            let mut f = std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
            writeln!(f, "path,s1_matched,s1_detected,s1_reference,s2_matched,s2_detected,s2_reference,annotated_bpm,shown_bpm")?;
            Some(f)
        }
        None => None,
    };
    let (mut s1, mut s2) = (Counts::default(), Counts::default());
    let mut rate_errors = Vec::new();
    let (mut scored, mut annotated_s, mut faulted) = (0, 0.0, 0);
    for r in &recordings {
        let Some(tsv) = &r.tsv else { continue };
        let reference = Reference::from_segments(&circor::segmentation(tsv)?);
        let audio = decode_file(&r.wav)?;
        let rate = f64::from(audio.sample_rate);
        let mut chain = config.build(&search, rate, 1024)?;
        let (_, events) = chain.process_offline(&audio.samples);
        if let Some(fault) = chain.slots().iter().find_map(|s| s.fault()) {
            eprintln!("auscult: {}: the chain faulted, left out: {fault}", r.wav.display());
            faulted += 1;
            continue;
        }
        let detections: Vec<Detection> = events
            .iter()
            .filter_map(|e| {
                let s1 = match e.kind {
                    EventKind::S1 => true,
                    EventKind::S2 => false,
                    _ => return None,
                };
                Some(Detection { time_s: e.sample as f64 / rate, s1, bpm: f64::from(e.value) })
            })
            .collect();
        let score = beat_eval::score(&reference, &detections, tolerance);
        s1.add(score.s1);
        s2.add(score.s2);
        if let Some((annotated, shown)) = score.rates_bpm {
            rate_errors.push((shown - annotated).abs());
        }
        scored += 1;
        annotated_s += reference.annotated_s();
        if let Some(f) = csv.as_mut() {
            let (a, s) = score.rates_bpm.map_or((String::new(), String::new()), |(a, s)| (format!("{a:.1}"), format!("{s:.1}")));
            let (c1, c2) = (score.s1, score.s2);
            writeln!(f, "{},{},{},{},{},{},{},{a},{s}", r.wav.display(), c1.matched, c1.detected, c1.reference, c2.matched, c2.detected, c2.reference)?;
        }
    }
    if let Some(mut f) = csv {
        f.flush()?;
    }
    anyhow::ensure!(scored > 0, "{}: no recording with a segmentation could be scored", args.data.display());
    outln!("{scored} recordings, {:.1} annotated minutes; onsets within ±{} ms", annotated_s / 60.0, args.tolerance_ms);
    outln!("{:<4}  {:>9}  {:>6}  {:>6}  {:>9}  {:>9}", "", "precision", "recall", "F1", "detected", "annotated");
    for (name, c) in [("S1", s1), ("S2", s2)] {
        outln!("{name:<4}  {:>9.3}  {:>6.3}  {:>6.3}  {:>9}  {:>9}", c.precision(), c.recall(), c.f1(), c.detected, c.reference);
    }
    if rate_errors.is_empty() {
        outln!("rate: no recording with both an annotated and a shown rate");
    } else {
        rate_errors.sort_by(f64::total_cmp);
        let n = rate_errors.len();
        let within = rate_errors.iter().filter(|&&e| e <= 5.0).count();
        outln!(
            "rate shown against annotated, {n} recordings: mean absolute error {:.1} bpm, median {:.1} bpm, within 5 bpm on {:.1}%",
            rate_errors.iter().sum::<f64>() / n as f64,
            rate_errors[n / 2],
            100.0 * within as f64 / n as f64
        );
    }
    Ok(if faulted > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
