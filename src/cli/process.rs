//! `auscult process`: run a chain offline over a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use auscult::audio::{decode_file, wav};
use auscult::host::{ChainConfig, ChainEvent, SearchPath};

#[derive(clap::Args, Debug)]
pub struct ProcessArgs {
    /// Chain file (TOML); without it the chain is empty and the output is
    /// the decoded input, mixed to mono.
    #[arg(long, value_name = "CHAIN.toml")]
    chain: Option<PathBuf>,
    /// Input audio (WAV or FLAC).
    input: PathBuf,
    /// Output: 32-bit float mono WAV at the input's sample rate.
    output: PathBuf,
    /// Write the events the chain finds as CSV: time_s,sample,kind,plugin.
    #[arg(long, value_name = "EVENTS.csv")]
    events: Option<PathBuf>,
    /// Print each plugin's latency and CPU time to stderr.
    #[arg(long)]
    stats: bool,
    /// Frames per block handed to the plugins.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    block: u32,
}

pub fn run(args: &ProcessArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.chain {
        Some(path) => ChainConfig::load(path)?,
        None => ChainConfig::empty(),
    };
    let audio = decode_file(&args.input)?;
    let search = SearchPath::standard(&config.plugin_dirs());
    let rate = f64::from(audio.sample_rate);
    let mut chain = config.build(&search, rate, args.block as usize)?;

    let (output, events) = chain.process_offline(&audio.samples);
    wav::write_f32_mono(&args.output, &output, audio.sample_rate).with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(path) = &args.events {
        write_events(path, &events, rate, &chain)?;
    }
    if args.stats {
        print_stats(&chain, rate);
    }
    // A fault bypasses the plugin (or restarts it), so the output exists,
    // but it is not what the chain asked for: exit 1, as `plugins check`.
    let mut faulted = 0;
    for slot in chain.slots() {
        if let Some(fault) = slot.fault() {
            eprintln!("auscult: plugin \"{}\" was bypassed after a fault: {fault}", slot.name);
            faulted += 1;
        } else if slot.stats().restarts > 0 {
            eprintln!("auscult: plugin \"{}\" faulted and was restarted {} times", slot.name, slot.stats().restarts);
            faulted += 1;
        }
    }
    if faulted > 0 {
        eprintln!("auscult: {faulted} of {} plugins faulted; {} was written without their full processing", chain.len(), args.output.display());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--stats`: each plugin's latency and CPU time, in columns as wide as the
/// longest name.
fn print_stats(chain: &auscult::host::Chain, rate: f64) {
    eprintln!("chain latency: {} samples", chain.latency());
    let width = chain.slots().iter().map(|s| s.name.chars().count()).max().unwrap_or(0).max("PLUGIN".len());
    eprintln!("  {:<width$}  {:>8}  {:>12}  {:>11}", "PLUGIN", "LATENCY", "CPU ms", "REAL TIME");
    for slot in chain.slots() {
        let st = slot.stats();
        eprintln!(
            "  {:<width$}  {:>8}  {:>12.3}  {:>10.5}x{}",
            slot.name,
            slot.latency(),
            st.total_ns as f64 / 1e6,
            st.real_time_factor(rate),
            if slot.bypassed() { "  (bypassed)" } else { "" }
        );
    }
}

fn write_events(path: &Path, events: &[ChainEvent], rate: f64, chain: &auscult::host::Chain) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "time_s,sample,kind,plugin")?;
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| (e.sample, e.slot));
    for e in sorted {
        let plugin = chain.slots().get(e.slot).map_or("?", |s| s.name.as_str());
        writeln!(out, "{:.6},{},{},{}", e.sample as f64 / rate, e.sample, e.kind.as_str(), plugin)?;
    }
    out.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
