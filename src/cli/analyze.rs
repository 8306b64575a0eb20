//! `auscult analyze`: the chain and a model run headless over files, a
//! prediction per breath cycle (cycle models) or per recording.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use unicode_width::UnicodeWidthStr;

use auscult::metrics;
use auscult::model::card;
use auscult::model::inference::Classifier;
use auscult::model::pipeline::plugin_search;

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// Recordings (WAV or FLAC).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// A model name in models/ (e.g. heart) or a card file.
    #[arg(long)]
    model: String,
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv"])]
    format: String,
}

pub fn run(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let card_path = card::find(&args.model)?;
    let classifier = Classifier::load(&card_path)?;
    let classes = classifier.card.classes.clone();
    let mut pre = classifier.preprocessor(&plugin_search())?;
    let fps = pre.config.frames_per_s();
    let mut rows: Vec<(String, f64, f64, Vec<f32>)> = Vec::new();
    for file in &args.files {
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
        for ((s, e), p) in spans.into_iter().zip(classifier.predict(&inputs)) {
            rows.push((file.display().to_string(), s, e, p));
        }
    }
    let mut out = std::io::stdout().lock();
    match args.format.as_str() {
        "json" => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|(f, s, e, p)| {
                    let probs: serde_json::Map<String, serde_json::Value> = classes.iter().zip(p).map(|(c, v)| (c.clone(), serde_json::json!(v))).collect();
                    serde_json::json!({"file": f, "start_s": s, "end_s": e, "prediction": classes[metrics::argmax(p)], "probabilities": probs})
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        }
        "csv" => {
            // File names hold commas (KAUH's do): the writer quotes them.
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(["file", "start_s", "end_s", "prediction"].into_iter().chain(classes.iter().map(String::as_str)))?;
            for (f, s, e, p) in &rows {
                let mut record = vec![f.clone(), format!("{s:.3}"), format!("{e:.3}"), classes[metrics::argmax(p)].clone()];
                record.extend(p.iter().map(|v| format!("{v:.4}")));
                csv.write_record(&record)?;
            }
            csv.flush()?;
        }
        _ => write!(out, "{}", table(&rows, &classes))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Rows as aligned columns under a header: file, span, prediction, then
/// every class's probability, so that a close second shows as well as the
/// winner. Widths are display widths (file names may hold any script).
fn table(rows: &[(String, f64, f64, Vec<f32>)], classes: &[String]) -> String {
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
    let mut chain = config.build(&plugin_search(), r, 4096)?;
    let mut out = vec![0.0f32; samples.len()];
    let mut events = Vec::with_capacity(4096);
    for (i, o) in samples.chunks(4096).zip(out.chunks_mut(4096)) {
        events.reserve(auscult::host::chain::EVENTS_PER_BLOCK);
        chain.process(i, o, &mut events);
    }
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
