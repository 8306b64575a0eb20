//! `auscult record`: capture (or replay) into a crash-safe session
//! directory, running the chain to annotate the cycles it finds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auscult::analysis::recorder::{self, RecorderCommand, RecorderOptions};
use auscult::analysis::{ChainStep, Update};
use auscult::audio::session::{recover_unfinished, SessionMeta, SessionWriter};
use auscult::audio::{open_input, InputOptions, SourceKind, SourceState};
use auscult::host::{ChainConfig, ChainEvent, SearchPath};

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
    #[arg(long, value_name = "HZ", value_parser = clap::value_parser!(u32).range(1..))]
    rate: Option<u32>,
    /// A fixed device buffer, in frames.
    #[arg(long, value_name = "FRAMES", value_parser = clap::value_parser!(u32).range(1..))]
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
    let options = InputOptions { input: args.input.clone(), sample_rate: args.rate, buffer_frames: args.buffer, fast: args.fast, looped: false };
    let source = open_input(&options)?;
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
    outln!("recording {} ({}) to {}", source.info.name, source.info.format, session.dir().display());
    let session_dir = session.dir().to_path_buf();

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing the signal handler")?;
    }
    // The recorder thread writes every frame; this thread runs the chain on
    // what it hands on, so a slow plugin never holds up the recording.
    let live = source.info.kind == SourceKind::Live;
    let (updates_tx, updates) = crossbeam_channel::unbounded();
    let (recorder, mut input) = recorder::spawn(
        source,
        updates_tx,
        RecorderOptions {
            session: Some(session),
            stop_after: args.duration.map(|d| (d * f64::from(rate)).round() as u64),
            close_at_end: false,
            wait_for_analysis: !live,
        },
    )
    .context("starting the recorder thread")?;
    let mut block = vec![0.0f32; BLOCK];
    let mut output = vec![0.0f32; BLOCK];
    let mut events: Vec<ChainEvent> = Vec::new();
    let (mut step, mut found) = (ChainStep::default(), Vec::new());
    let to_recorder = |command: RecorderCommand| {
        let _ = recorder.commands.send(command);
    };
    while !stop.load(Ordering::Relaxed) {
        let n = input.read(&mut block);
        if n == 0 {
            if input.exhausted() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        if let Some(chain) = chain.as_mut() {
            step.run(chain, (&block[..n], &mut output[..n]), &mut events, &mut input, &to_recorder, &mut found);
        }
    }
    if let Some(chain) = chain.as_mut() {
        // Stopped or at the end of the input: the cycles the chain held back.
        step.finish(chain, &mut events, &mut input, &to_recorder, &mut found);
    }
    recorder.quit();

    let mut saved = None;
    for update in updates.try_iter() {
        match update {
            Update::RecordingSaved { dir, seconds } => saved = Some((dir, seconds)),
            Update::Message(text) => eprintln!("auscult: {text}"),
            _ => {}
        }
    }
    let Some((dir, seconds)) = saved else {
        anyhow::bail!("{}: the recording was cut short (see above); every frame that reached the disk is kept there", session_dir.display());
    };
    let frames = input.recorder.recorded_frames();
    outln!("saved {} ({frames} frames, {seconds:.2} s, {} overruns)", dir.display(), input.source.overruns());
    if input.recorder.skipped() > 0 {
        eprintln!(
            "auscult: warning: the chain fell behind the device; {:.1} s were recorded but not annotated",
            input.recorder.skipped() as f64 / f64::from(rate)
        );
    }
    if let Some(chain) = &chain {
        for slot in chain.slots() {
            if let Some(fault) = slot.fault() {
                eprintln!("auscult: warning: plugin \"{}\" was bypassed after a fault: {fault}", slot.name);
            }
        }
    }
    match input.source.state() {
        state @ (SourceState::Disconnected | SourceState::Failed) => {
            eprintln!(
                "auscult: error: the recording stopped early (input {}: {}); what was captured is saved",
                input.info.name,
                format!("{state:?}").to_lowercase()
            );
            Ok(ExitCode::from(2))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}
