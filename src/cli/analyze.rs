//! `auscult analyze`: the chain and a model run headless over files, a
//! prediction per breath cycle (cycle models) or per recording: files and
//! directories in parallel (`--jobs`), one machine's share of them
//! (`--shard`), results streamed as each file finishes. A file that cannot
//! be read is reported and skipped; the run goes on and exits 1.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use unicode_width::UnicodeWidthStr;

use auscult::metrics;
use auscult::model::card;
use auscult::model::features::Preprocessor;
use auscult::model::inference::Classifier;
use auscult::model::pipeline::plugin_search;

use super::inputs::{self, Shard};

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// Recordings (WAV or FLAC), or directories: every recording below them.
    #[arg(required_unless_present = "files_from")]
    files: Vec<PathBuf>,
    /// Also the recordings listed in this file, one path a line (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    files_from: Option<PathBuf>,
    /// A model name in models/ (e.g. heart) or a card file.
    #[arg(long)]
    model: String,
    /// table and json are written at the end, in the inputs' order; csv and
    /// jsonl (one JSON object a line) as each file is done.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "jsonl", "csv"])]
    format: String,
    /// Files analysed at once (default: the machine's cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Only this machine's share of the inputs, `K/N` (0 ≤ K < N), dealt by
    /// a hash of each path: N machines given the same inputs and K = 0..N-1
    /// analyse each once between them (see docs/cluster.md).
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// csv and jsonl in the inputs' order rather than as files finish (the
    /// same bytes whatever `--jobs`).
    #[arg(long)]
    sorted: bool,
}

/// One prediction: file, span (s), every class's probability.
type Row = (String, f64, f64, Vec<f32>);

pub fn run(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let files = inputs::expand(&args.files, args.files_from.as_deref(), args.shard)?;
    if files.is_empty() {
        eprintln!("auscult: no recordings to analyse{}", if args.shard.is_some() { " in this shard" } else { "" });
        return Ok(ExitCode::SUCCESS);
    }
    let card_path = card::find(&args.model)?;
    // Loaded here first, so that a bad model is one error before any work.
    let classes = Classifier::load(&card_path)?.card.classes.clone();
    let progress = ProgressBar::new(files.len() as u64);
    progress.set_style(ProgressStyle::with_template("{pos}/{len} files [{bar:30}] {msg} {per_sec} eta {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let mut writer = Writer::new(&args.format, &classes, args.sorted || matches!(args.format.as_str(), "table" | "json"))?;
    let mut failed: Vec<(PathBuf, String)> = Vec::new();
    let mut audio_s = 0.0;
    inputs::run_parallel(
        &files,
        inputs::jobs(args.jobs),
        || {
            let classifier = Classifier::load(&card_path)?;
            let pre = classifier.preprocessor(&plugin_search())?;
            Ok((classifier, pre))
        },
        |(classifier, pre), file| analyze_file(classifier, pre, file),
        |i, result| {
            progress.inc(1);
            let rows = match result {
                Ok((seconds, rows)) => {
                    audio_s += seconds;
                    progress.set_message(format!("{:.2} h of audio", audio_s / 3600.0));
                    rows
                }
                Err(e) => {
                    let why = super::error_line(&e);
                    progress.suspend(|| eprintln!("auscult: {}: {why}; skipped", files[i].display()));
                    failed.push((files[i].clone(), why));
                    Vec::new()
                }
            };
            progress.suspend(|| writer.add(i, rows))
        },
    )?;
    progress.finish_and_clear();
    writer.finish()?;
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("auscult: {} of {} files could not be analysed:", failed.len(), files.len());
    for (path, why) in &failed {
        eprintln!("  {}: {why}", path.display());
    }
    Ok(ExitCode::from(1))
}

/// The predictions for one file, and its length in seconds.
fn analyze_file(classifier: &Classifier, pre: &mut Preprocessor, file: &Path) -> anyhow::Result<(f64, Vec<Row>)> {
    let fps = pre.config.frames_per_s();
    let samples = pre.audio(file)?;
    let mel = pre.log_mel(&samples);
    // Cycle-level models run on each breath cycle the segmenter finds;
    // the others on the whole recording.
    let spans: Vec<(f64, f64)> = if classifier.card.task == "lung-cycles" {
        cycles(&samples, pre.config.sample_rate).unwrap_or_else(|e| {
            eprintln!("auscult: warning: {}: no cycle segmentation ({e}); classifying the whole file", file.display());
            vec![]
        })
    } else {
        vec![]
    };
    let duration = samples.len() as f64 / f64::from(pre.config.sample_rate);
    let spans = if spans.is_empty() { vec![(0.0, duration)] } else { spans };
    let inputs: Vec<_> = spans.iter().map(|&(s, e)| mel.slice((s * fps) as usize, (e * fps).ceil() as usize)).collect();
    let name = file.display().to_string();
    Ok((duration, spans.into_iter().zip(classifier.predict(&inputs)).map(|((s, e), p)| (name.clone(), s, e, p)).collect()))
}

/// Writes rows as files finish, or holds them back to keep the inputs'
/// order (`sorted`: the next file's rows go out as soon as every earlier
/// file's have).
struct Writer<'a> {
    format: &'a str,
    classes: &'a [String],
    sorted: bool,
    /// Rows waiting for an earlier file (sorted), and the next file due.
    waiting: BTreeMap<usize, Vec<Row>>,
    next_due: usize,
    /// Everything, for the formats written at the end.
    all: Vec<Row>,
    csv: Option<csv::Writer<std::io::Stdout>>,
}

impl<'a> Writer<'a> {
    fn new(format: &'a str, classes: &'a [String], sorted: bool) -> anyhow::Result<Self> {
        let csv = if format == "csv" {
            // File names hold commas (KAUH's do): the writer quotes them.
            let mut csv = csv::Writer::from_writer(std::io::stdout());
            csv.write_record(["file", "start_s", "end_s", "prediction"].into_iter().chain(classes.iter().map(String::as_str)))?;
            csv.flush()?;
            Some(csv)
        } else {
            None
        };
        Ok(Writer { format, classes, sorted, waiting: BTreeMap::new(), next_due: 0, all: Vec::new(), csv })
    }

    /// File `index`'s rows (none for a file that failed).
    fn add(&mut self, index: usize, rows: Vec<Row>) -> anyhow::Result<()> {
        if !self.sorted {
            return self.emit(rows);
        }
        self.waiting.insert(index, rows);
        while let Some(rows) = self.waiting.remove(&self.next_due) {
            self.next_due += 1;
            self.emit(rows)?;
        }
        Ok(())
    }

    fn emit(&mut self, rows: Vec<Row>) -> anyhow::Result<()> {
        match self.format {
            "csv" => {
                if let Some(csv) = self.csv.as_mut() {
                    for (f, s, e, p) in &rows {
                        let mut record = vec![f.clone(), format!("{s:.3}"), format!("{e:.3}"), self.classes[metrics::argmax(p)].clone()];
                        record.extend(p.iter().map(|v| format!("{v:.4}")));
                        csv.write_record(&record)?;
                    }
                    csv.flush()?;
                }
            }
            "jsonl" => {
                let mut out = std::io::stdout().lock();
                for row in &rows {
                    writeln!(out, "{}", json_row(row, self.classes))?;
                }
                out.flush()?;
            }
            _ => self.all.extend(rows),
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        match self.format {
            "json" => {
                let items: Vec<serde_json::Value> = self.all.iter().map(|r| json_row(r, self.classes)).collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
            }
            "table" => write!(out, "{}", table(&self.all, self.classes))?,
            _ => {}
        }
        Ok(())
    }
}

fn json_row((f, s, e, p): &Row, classes: &[String]) -> serde_json::Value {
    let probs: serde_json::Map<String, serde_json::Value> = classes.iter().zip(p).map(|(c, v)| (c.clone(), serde_json::json!(v))).collect();
    serde_json::json!({"file": f, "start_s": s, "end_s": e, "prediction": classes[metrics::argmax(p)], "probabilities": probs})
}

/// Rows as aligned columns under a header: file, span, prediction, then
/// every class's probability, so that a close second shows as well as the
/// winner. Widths are display widths (file names may hold any script).
fn table(rows: &[Row], classes: &[String]) -> String {
    let width = |s: &str| UnicodeWidthStr::width(s);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(width(s))));
    let file_w = rows.iter().map(|r| width(&r.0)).chain([width("file")]).max().unwrap_or(0);
    let class_w = classes.iter().map(|c| width(c)).chain([width("prediction")]).max().unwrap_or(0);
    let mut text = format!("{}  {:>8}  {:>8}  {}", pad("file", file_w), "start s", "end s", pad("prediction", class_w));
    for c in classes {
        text += &format!("  {}{c}", " ".repeat(4usize.saturating_sub(width(c))));
    }
    text += "\n";
    for (f, s, e, p) in rows {
        let best = metrics::argmax(p);
        text += &format!("{}  {s:>8.2}  {e:>8.2}  {}", pad(f, file_w), pad(&classes[best], class_w));
        for (c, v) in classes.iter().zip(p) {
            text += &format!("  {v:>w$.2}", w = width(c).max(4));
        }
        text += "\n";
    }
    text
}

/// Breath cycles found by the segment plugin (lung mode), in seconds.
fn cycles(samples: &[f32], rate: u32) -> anyhow::Result<Vec<(f64, f64)>> {
    let text = "[[chain]]\nplugin = \"segment\"\nparams = { mode = 0 }\n";
    let config = auscult::host::ChainConfig::parse(Path::new("segmenter"), text.into())?;
    let r = f64::from(rate);
    let (_, events) = config.build(&plugin_search(), r, 4096)?.process_offline(samples);
    let mut cycles = auscult::host::CycleTracker::default();
    Ok(events.iter().filter_map(|e| cycles.push(e)).map(|(s, e)| (s as f64 / r, e as f64 / r)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_every_column_under_its_header() {
        let classes: Vec<String> = ["normal", "heart failure", "copd"].map(String::from).to_vec();
        let rows =
            vec![("a.wav".to_string(), 0.0, 13.55, vec![0.1, 0.7, 0.2]), ("samples/längerer-name-心音.wav".to_string(), 2.5, 4.0, vec![0.05, 0.15, 0.8])];
        let text = table(&rows, &classes);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        // Every line ends at the same display column, and each value ends
        // where its header does.
        let header = lines[0];
        assert!(lines.iter().all(|l| UnicodeWidthStr::width(*l) == UnicodeWidthStr::width(header)), "{text}");
        let end_of = |line: &str, needle: &str| UnicodeWidthStr::width(&line[..line.find(needle).unwrap() + needle.len()]);
        assert_eq!(end_of(lines[1], "0.70"), end_of(header, "heart failure"), "{text}");
        assert_eq!(end_of(lines[2], "0.80"), end_of(header, "copd"), "{text}");
        assert_eq!(end_of(lines[2], "4.00"), end_of(header, "end s"), "{text}");
        // The prediction is the most probable class, in its column.
        let column = |line: &str, needle: &str| UnicodeWidthStr::width(&line[..line.find(needle).unwrap()]);
        assert_eq!(column(lines[1], "heart failure"), column(header, "prediction"), "{text}");
        assert_eq!(column(lines[2], "copd"), column(header, "prediction"), "{text}");
    }
}
