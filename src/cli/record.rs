//! `auscult record`: capture (or replay) into a crash-safe session
//! directory, running the chain to annotate the cycles it finds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auscult::audio::session::{recover_unfinished, SessionMeta, SessionWriter};
use auscult::audio::{open_input, InputOptions, SourceState};
use auscult::host::{ChainConfig, ChainEvent, CycleTracker, SearchPath};

#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    /// A capture device (see `auscult devices`) or a WAV/FLAC file to replay
    /// in real time; the default input if omitted.
    #[arg(long, value_name = "DEVICE|FILE")]
    input: Option<String>,
    /// Where session directories are created.
    #[arg(long, value_name = "DIR", default_value = "sessions")]
    out: PathBuf,
    /// Stop after this many seconds (exactly round(S × rate) frames);
    /// otherwise at the end of a file, or on Ctrl-C.
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
    /// Sample rate to ask the device for.
    #[arg(long, value_name = "HZ")]
    rate: Option<u32>,
    /// A fixed device buffer, in frames.
    #[arg(long, value_name = "FRAMES")]
    buffer: Option<u32>,
    /// Chain to run (its segmenter's cycles become annotations).
    #[arg(long, value_name = "CHAIN.toml")]
    chain: Option<PathBuf>,
    /// Chest location, e.g. "P L L" (posterior left lower).
    #[arg(long)]
    location: Option<String>,
    /// Replay a file as fast as possible instead of in real time.
    #[arg(long)]
    fast: bool,
}

/// Frames handed to the chain at a time.
const BLOCK: usize = 1024;

pub fn run(args: &RecordArgs) -> anyhow::Result<ExitCode> {
    if let Some(d) = args.duration {
        anyhow::ensure!(d.is_finite() && d > 0.0, "--duration must be a positive number of seconds, got {d}");
    }
    for r in recover_unfinished(&args.out)? {
        eprintln!(
            "auscult: recovered unfinished session {}: {:.1} s ({} frames; the header held {})",
            r.dir.display(),
            r.frames as f64 / f64::from(r.sample_rate),
            r.frames,
            r.frames_in_header
        );
    }
    let chain_config = match &args.chain {
        Some(path) => Some((ChainConfig::load(path)?, path.clone())),
        None => None,
    };
    let options = InputOptions {
        input: args.input.clone(),
        sample_rate: args.rate,
        buffer_frames: args.buffer,
        fast: args.fast,
        looped: false,
    };
    let mut source = open_input(&options)?;
    let rate = source.info.sample_rate;
    let mut chain = match &chain_config {
        Some((config, _)) => Some(config.build(&SearchPath::standard(&config.plugin_dirs()), f64::from(rate), BLOCK)?),
        None => None,
    };

    let mut meta = SessionMeta::new(&source.info.name, source.info.kind.as_str(), rate);
    if let Some((_, path)) = &chain_config {
        meta.chain_file = Some(path.display().to_string());
        meta.chain = Some(std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?);
    }
    let mut session = SessionWriter::create(&args.out, meta)?;
    if let Some(location) = &args.location {
        session.mark_location(location)?;
    }
    println!("recording {} ({}) to {}", source.info.name, source.info.format, session.dir().display());

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing the signal handler")?;
    }
    let target = args.duration.map(|d| (d * f64::from(rate)).round() as u64);
    let mut input = vec![0.0f32; BLOCK];
    let mut output = vec![0.0f32; BLOCK];
    let mut events: Vec<ChainEvent> = Vec::new();
    let mut cycles = CycleTracker::default();
    let mut interrupted = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let want = target.map_or(BLOCK, |t| (t - session.frames()).min(BLOCK as u64) as usize);
        if want == 0 {
            break;
        }
        let n = source.read(&mut input[..want]);
        if n == 0 {
            if source.exhausted() {
                match source.status.state() {
                    SourceState::Finished => {}
                    state => interrupted = Some(format!("input {}: {state:?}", source.info.name).to_lowercase()),
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        session.write(&input[..n])?;
        if let Some(chain) = chain.as_mut() {
            events.clear();
            events.reserve(chain.len() * auscult::host::chain::EVENTS_PER_BLOCK);
            chain.process(&input[..n], &mut output[..n], &mut events);
            for (start, end) in events.iter().filter_map(|e| cycles.push(e)) {
                let r = f64::from(rate);
                session.add_cycle(start as f64 / r, end as f64 / r)?;
            }
        }
    }
    session.set_overruns(source.status.overruns());
    let seconds = session.seconds();
    let frames = session.frames();
    let dir = session.finish(interrupted.clone())?;
    println!(
        "saved {} ({frames} frames, {seconds:.2} s, {} overruns)",
        dir.display(),
        source.status.overruns()
    );
    if let Some(chain) = &chain {
        for slot in chain.slots() {
            if let Some(fault) = slot.fault() {
                eprintln!("auscult: warning: plugin \"{}\" was bypassed after a fault: {fault}", slot.name);
            }
        }
    }
    match interrupted {
        Some(why) => {
            eprintln!("auscult: error: the recording stopped early ({why}); what was captured is saved");
            Ok(ExitCode::from(2))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
