//! `auscult` with no command: the terminal UI.
//!
//! Three threads: the audio callback (or replay thread) fills the source's
//! ring; the analysis thread runs chain, mel and recording; this thread
//! draws and reads keys. They talk through the ring and two channels.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use auscult::analysis::{self, AnalysisConfig, Command, Update};
use auscult::audio::capture::CaptureError;
use auscult::audio::replay::{self, ReplayOptions};
use auscult::audio::session::recover_unfinished;
use auscult::audio::{open_input, InputError, InputOptions, Source};
use auscult::host::{Chain, ChainConfig, SearchPath};
use auscult::model::live::LiveModel;
use auscult::ui::{render, App, ColorDepth, Mode, Theme};
use crossterm::event::{self, Event, KeyEventKind};

#[derive(clap::Args, Debug)]
pub struct TuiArgs {
    /// A capture device (see `auscult devices`) or a WAV/FLAC file, replayed
    /// in real time and in a loop. Default: the default input, or the
    /// bundled recording when there is none.
    #[arg(long, value_name = "DEVICE|FILE")]
    pub input: Option<String>,
    /// Chain file; default: plugins/chains/{lung,lung-4k,heart}.toml by mode and rate.
    #[arg(long, value_name = "CHAIN.toml")]
    pub chain: Option<PathBuf>,
    /// Model to run on each cycle (lung-cycles models) or window: a name in
    /// models/ (shipped: heart), a card file, or `none`.
    /// Default in heart mode: the shipped heart model when models/ has it.
    /// Lung mode runs none unless asked: neither lung model beats its
    /// baseline yet, and a probability on screen would claim otherwise.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// default, high-contrast, monochrome, or a theme file.
    #[arg(long, value_name = "NAME|FILE", default_value = "default")]
    pub theme: String,
    /// What to segment: breath cycles or heart beats.
    #[arg(long, value_enum, default_value = "lung")]
    pub mode: Mode,
    /// Where recording sessions go.
    #[arg(long, value_name = "DIR", default_value = "sessions")]
    pub out: PathBuf,
    /// Sample rate to ask the device for.
    #[arg(long, value_name = "HZ", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
}

/// Built-in chains, used when no --chain is given.
const LUNG: &str = include_str!("../../plugins/chains/lung.toml");
const LUNG_4K: &str = include_str!("../../plugins/chains/lung-4k.toml");
const HEART: &str = include_str!("../../plugins/chains/heart.toml");

const N_MELS: usize = 64;
const FRAME: Duration = Duration::from_millis(40); // 25 frames per second

pub fn run(args: &TuiArgs) -> anyhow::Result<()> {
    let mode = args.mode;
    let out = args.out.clone();
    let theme = Theme::load(&args.theme, ColorDepth::detect())?;
    let mut notices = Vec::new();
    for r in recover_unfinished(&out)? {
        notices.push(format!("recovered unfinished session {}", r.dir.display()));
    }
    let (source, fallback) = open_source(args)?;
    if let Some(why) = fallback {
        notices.push(why);
    }
    let rate = source.info.sample_rate;
    let (chain, chain_file, chain_text) = build_chain(args, mode, rate, &mut notices)?;
    let live = match args.model.as_deref() {
        Some("none") => None,
        Some(name) => Some(live_model(&auscult::model::card::find(name)?, rate)?),
        // The shipped model is a convenience: without it the UI still shows
        // the sound and its cycles, and says why there are no predictions.
        None => match default_model(mode).map(|name| (name, auscult::model::card::find(name))) {
            Some((name, Ok(card))) => match live_model(&card, rate) {
                Ok(model) => Some(model),
                Err(e) => {
                    notices.push(format!("model {name} not loaded: {}", super::error_line(&e)));
                    None
                }
            },
            _ => None,
        },
    };
    let config = AnalysisConfig {
        n_mels: N_MELS,
        fmin: if mode == Mode::Heart { 20.0 } else { 50.0 },
        fmax: if mode == Mode::Heart { 1000.0 } else { 2000.0 },
        chain_file,
        chain_text,
        // What the session records: the model that ran, if any.
        model: live.as_ref().and_then(|_| args.model.clone().or_else(|| default_model(mode).map(String::from))),
    };

    let mut app = App::new(source.info.clone(), theme, mode, N_MELS, out);
    if let Some(m) = &live {
        let (name, classes) = m.describe();
        app.model = Some(name);
        app.model_classes = classes;
    }
    app.notice = (!notices.is_empty()).then(|| notices.join("; "));
    let (command_tx, command_rx) = crossbeam_channel::unbounded::<Command>();
    let (update_tx, update_rx) = crossbeam_channel::unbounded::<Update>();
    let fatal_tx = update_tx.clone();
    let worker = std::thread::Builder::new()
        .name("auscult-analysis".into())
        .spawn(move || {
            // A panic here unwinds through the recorder's handle, which
            // closes an open session; the UI is told, and exits non-zero.
            let run = std::panic::AssertUnwindSafe(|| analysis::run(source, chain, live, config, command_rx, update_tx));
            if let Err(panic) = std::panic::catch_unwind(run) {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                let _ = fatal_tx.send(Update::Fatal(format!("the analysis thread stopped: {what}")));
            }
        })
        .context("starting the analysis thread")?;

    let mut terminal = ratatui::try_init().context("opening the terminal")?;
    // ratatui's hook restores the terminal on any panic. The analysis
    // thread's is caught and shown by the UI, which then restores the
    // terminal itself: that one must neither restore early nor print over
    // the screen.
    let restoring_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() != Some("auscult-analysis") {
            restoring_hook(info);
        }
    }));
    let result = event_loop(&mut terminal, &mut app, &command_tx, &update_rx);
    ratatui::restore();
    let _ = command_tx.send(Command::Quit);
    // The analysis thread saves an open recording before it returns.
    let _ = worker.join();
    while let Ok(update) = update_rx.try_recv() {
        app.apply(update);
    }
    if let Some(dir) = &app.last_saved {
        outln!("session saved in {}", dir.display());
    }
    match &app.fatal {
        Some(fatal) => anyhow::bail!("{fatal}"),
        None => result,
    }
}

/// The shipped model a mode runs when no --model is given: only one that
/// meets its target (see the README's Models), so lung mode has none. Heart
/// mode runs the CirCor murmur model (clinical recordings, patient-disjoint
/// folds); the Yaseen model is `--model heart-yaseen`.
fn default_model(mode: Mode) -> Option<&'static str> {
    match mode {
        Mode::Lung => None,
        Mode::Heart => Some("heart-murmur"),
    }
}

fn live_model(card: &Path, rate: u32) -> anyhow::Result<LiveModel> {
    let classifier = auscult::model::inference::Classifier::load(card)?;
    Ok(LiveModel::new(classifier, rate, &SearchPath::standard(&[]))?)
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    commands: &crossbeam_channel::Sender<Command>,
    updates: &crossbeam_channel::Receiver<Update>,
) -> anyhow::Result<()> {
    let mut last_draw = Instant::now() - FRAME;
    let (started, mut frames_drawn) = (Instant::now(), 0u64);
    while !app.quit {
        while let Ok(update) = updates.try_recv() {
            app.apply(update);
        }
        // Redraw only when something changed, at most 25 times a second;
        // ratatui then writes only the cells that differ.
        if app.dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| render::draw(f, app)).context("drawing")?;
            app.dirty = false;
            last_draw = Instant::now();
            frames_drawn += 1;
        }
        let wait = FRAME.saturating_sub(last_draw.elapsed()).max(Duration::from_millis(5));
        if event::poll(wait).context("reading the terminal")? {
            match event::read().context("reading the terminal")? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    for command in app.on_key(key) {
                        let _ = commands.send(command);
                    }
                }
                Event::Resize(_, _) => app.dirty = true,
                _ => {}
            }
        }
    }
    // For measuring the frame rate (scripts/measure_tui.sh).
    if let Some(path) = std::env::var_os("AUSCULT_UI_STATS") {
        let seconds = started.elapsed().as_secs_f64();
        let _ = std::fs::write(path, format!("frames={frames_drawn}\nseconds={seconds:.3}\nfps={:.2}\n", frames_drawn as f64 / seconds));
    }
    Ok(())
}

/// The input asked for; with none asked for and no device, the bundled
/// recording (and the reason, to show).
fn open_source(args: &TuiArgs) -> anyhow::Result<(Source, Option<String>)> {
    let options = InputOptions { input: args.input.clone(), sample_rate: args.rate, buffer_frames: None, fast: false, looped: true };
    match open_input(&options) {
        Ok(source) => Ok((source, None)),
        Err(InputError::Capture(CaptureError::NoInput { detail })) if args.input.is_none() => {
            let source = replay::open_bundled(ReplayOptions { looped: true, ..Default::default() })?;
            let short = detail.split(" (alsa-lib").next().unwrap_or(&detail).to_string();
            Ok((source, Some(format!("no input device ({short}): replaying {}", replay::BUNDLED_NAME))))
        }
        Err(e) => Err(e.into()),
    }
}

/// The chain to run. A chain file the user named that does not load is
/// refused here, before the terminal is taken over, with its file:line:col
/// (exit 2, as the headless commands do). The built-in chain failing (its
/// plugins not built) gives an empty chain and a notice instead, so that
/// the recording still works.
fn build_chain(args: &TuiArgs, mode: Mode, rate: u32, notices: &mut Vec<String>) -> anyhow::Result<(Chain, Option<String>, Option<String>)> {
    let r = f64::from(rate);
    let build = |c: ChainConfig| {
        let chain = c.build(&SearchPath::standard(&c.plugin_dirs()), r, 4096)?;
        Ok::<_, auscult::host::ConfigError>((chain, c))
    };
    let (chain, config) = match &args.chain {
        Some(path) => ChainConfig::load(path).and_then(build)?,
        None => {
            let (name, text) = match mode {
                Mode::Heart => ("heart.toml", HEART),
                Mode::Lung if rate <= 4000 => ("lung-4k.toml", LUNG_4K),
                Mode::Lung => ("lung.toml", LUNG),
            };
            match ChainConfig::parse(&Path::new("plugins/chains").join(name), text.to_string()).and_then(build) {
                Ok(built) => built,
                Err(e) => {
                    notices.push(format!("chain not loaded ({e}); showing the raw input"));
                    return Ok((Chain::new(r, 4096), None, None));
                }
            }
        }
    };
    let file = config.path().display().to_string();
    Ok((chain, Some(file), Some(config.text().to_string())))
}
