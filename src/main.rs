//! The `auscult` command: argument parsing and dispatch only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// Listen to heart and lung sounds: live spectrogram, plugin chain, CNN predictions.
///
/// With no command, opens the terminal UI.
///
/// Exit status: 0 success, 1 a check found faults, 2 error.
#[derive(Parser, Debug)]
#[command(name = "auscult", version, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    tui: cli::tui::TuiArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List and check preprocessing plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Run a plugin chain offline over a file.
    Process(cli::process::ProcessArgs),
    /// List the capture devices and the formats each supports.
    Devices,
    /// Record a session (audio, annotations, metadata) from a device or file.
    Record(cli::record::RecordArgs),
    /// Train a CNN for a task on a dataset, holding out patients for its card.
    // Boxed: its many options make it far the largest variant.
    Train(Box<cli::train::TrainArgs>),
    /// Evaluate a model on held-out patients or a separate folder.
    Eval(cli::eval::EvalArgs),
    /// Move a trained model's decision: class offsets chosen on its validation patients, then its held-out patients scored.
    TuneBias(cli::tune_bias::TuneBiasArgs),
    /// Score a chain's S1 and S2 events, and the rate it shows, against CirCor's annotated heart cycles.
    EvalBeats(cli::eval_beats::EvalBeatsArgs),
    /// Classify recordings (each breath cycle, or the whole file) with a model.
    Analyze(cli::analyze::AnalyzeArgs),
    /// Print which patients each patient-disjoint fold holds out (CSV).
    Folds(cli::folds::FoldsArgs),
    /// Compute features (mel spectrogram, Kaldi fbank) and write them as .npy.
    Features {
        #[command(subcommand)]
        command: cli::features::FeaturesCommand,
    },
}

#[derive(Subcommand, Debug)]
enum PluginsCommand {
    /// List the plugins found on the search path, with their parameters.
    List {
        /// Extra directories to search first.
        #[arg(long = "path", value_name = "DIR")]
        paths: Vec<PathBuf>,
    },
    /// Load one plugin library and exercise it on test signals.
    Check {
        /// The plugin library (.so).
        path: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // `auscult folds ... | head`: the reader has all it wanted.
        Err(e) if cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auscult: error: {}", cli::error_line(&e));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => cli::tui::run(&cli.tui).map(|()| ExitCode::SUCCESS),
        Some(Command::Plugins { command: PluginsCommand::List { paths } }) => cli::plugins::list(&paths),
        Some(Command::Plugins { command: PluginsCommand::Check { path } }) => cli::plugins::check(&path),
        Some(Command::Process(args)) => cli::process::run(&args),
        Some(Command::Features { command }) => cli::features::run(&command),
        Some(Command::Devices) => cli::devices::run(),
        Some(Command::Train(args)) => cli::train::run(&args),
        Some(Command::Eval(args)) => cli::eval::run(&args),
        Some(Command::TuneBias(args)) => cli::tune_bias::run(&args),
        Some(Command::EvalBeats(args)) => cli::eval_beats::run(&args),
        Some(Command::Analyze(args)) => cli::analyze::run(&args),
        Some(Command::Folds(args)) => cli::folds::run(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Record(args)) => cli::record::run(&args),
    }
}
