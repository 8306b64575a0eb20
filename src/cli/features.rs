//! `auscult features`: mel spectrograms for researchers who feed their own
//! models, written as .npy in librosa's layout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::inputs::{self, Shard};
use anyhow::Context;
use auscult::audio::{decode_file, resample::resample};
use auscult::dsp::{kaldi_fbank, power_to_db, DbRef, KaldiFbankConfig, MelConfig, MelExtractor, MelScale, PadMode};

#[derive(clap::Subcommand, Debug)]
pub enum FeaturesCommand {
    /// Mel spectrogram as librosa.feature.melspectrogram computes it:
    /// float32, shape (n_mels, frames).
    Mel(MelArgs),
    /// Kaldi fbank log-mel energies (torchaudio.compliance.kaldi.fbank, no
    /// dither): float32, shape (frames, n_mels).
    Fbank(FbankArgs),
}

#[derive(clap::Args, Debug)]
pub struct MelArgs {
    /// Recordings, or directories: every WAV and FLAC below them.
    #[arg(required_unless_present = "files_from")]
    inputs: Vec<PathBuf>,
    /// Also the recordings listed in this file, one a line (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    files_from: Option<PathBuf>,
    /// Sample rate to analyse at (the file is resampled first if it
    /// differs), or `native`: each file's own.
    #[arg(long, default_value = "22050")]
    sr: SampleRate,
    #[arg(long, default_value_t = 2048)]
    n_fft: usize,
    #[arg(long, default_value_t = 512)]
    hop: usize,
    #[arg(long, default_value_t = 128)]
    n_mels: usize,
    #[arg(long, default_value_t = 0.0)]
    fmin: f64,
    /// Default: sr / 2.
    #[arg(long)]
    fmax: Option<f64>,
    /// HTK mel scale instead of Slaney.
    #[arg(long)]
    htk: bool,
    /// Pad both ends by n_fft/2 (the default).
    #[arg(long, overrides_with = "no_center")]
    center: bool,
    /// Frames start at the first sample, no padding.
    #[arg(long)]
    no_center: bool,
    #[arg(long, value_enum, default_value = "constant")]
    pad_mode: PadModeArg,
    /// 2 for power, 1 for magnitude.
    #[arg(long, default_value_t = 2.0)]
    power: f64,
    /// Convert with power_to_db(ref=1.0, amin=1e-10, top_db=80).
    #[arg(long)]
    db: bool,
    /// The output for a single input.
    #[arg(long, value_name = "OUT.npy", required_unless_present = "out_dir", conflicts_with = "out_dir")]
    out: Option<PathBuf>,
    /// One .npy per input under DIR, at the input's path as given (leading
    /// `/` and `..` left out) with its extension changed: the input tree,
    /// mirrored.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Files computed at once (default: the machine's cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Only this machine's share of the inputs, `K/N` (see docs/cluster.md).
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
}

/// `--sr`: a rate in Hz, or each file's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleRate {
    Hz(u32),
    Native,
}

impl std::str::FromStr for SampleRate {
    type Err = String;
    fn from_str(text: &str) -> Result<SampleRate, String> {
        match text {
            "native" => Ok(SampleRate::Native),
            hz => hz.parse().ok().filter(|&r| r > 0).map(SampleRate::Hz).ok_or_else(|| format!("{hz:?} is not a rate in Hz nor `native`")),
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum PadModeArg {
    Constant,
    Reflect,
}

#[derive(clap::Args, Debug)]
pub struct FbankArgs {
    input: PathBuf,
    #[arg(long, default_value_t = 16000)]
    sr: u32,
    #[arg(long, default_value_t = 128)]
    n_mels: usize,
    #[arg(long, value_name = "OUT.npy")]
    out: PathBuf,
}

pub fn run(command: &FeaturesCommand) -> anyhow::Result<ExitCode> {
    match command {
        FeaturesCommand::Mel(args) => mel(args),
        FeaturesCommand::Fbank(args) => fbank(args),
    }
}

fn load_at(path: &Path, rate: u32) -> anyhow::Result<Vec<f32>> {
    let audio = decode_file(path)?;
    Ok(resample(&audio.samples, audio.sample_rate, rate)?)
}

fn mel(a: &MelArgs) -> anyhow::Result<ExitCode> {
    let files = inputs::expand(&a.inputs, a.files_from.as_deref(), a.shard)?;
    if let Some(out) = &a.out {
        anyhow::ensure!(files.len() == 1, "--out names one output for {} inputs: give --out-dir DIR", files.len());
        let audio = decode_file(&files[0])?;
        let (data, shape) = mel_of(a, audio)?;
        write_npy(out, &shape, &data)?;
        return Ok(ExitCode::SUCCESS);
    }
    let dir = a.out_dir.as_ref().context("--out or --out-dir")?;
    let mut failed = 0;
    inputs::run_parallel(
        &files,
        inputs::jobs(a.jobs),
        || Ok(()),
        |(), file| {
            let (data, shape) = mel_of(a, decode_file(file)?)?;
            let out = dir.join(mirrored(file)).with_extension("npy");
            if let Some(parent) = out.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            write_npy(&out, &shape, &data)
        },
        |i, result| {
            if let Err(e) = result {
                eprintln!("auscult: {}: {}; skipped", files[i].display(), super::error_line(&e));
                failed += 1;
            }
            Ok(())
        },
    )?;
    if failed > 0 {
        eprintln!("auscult: {failed} of {} files could not be read", files.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// A path as given, without a root or `..`: where its output goes under
/// `--out-dir`.
fn mirrored(path: &Path) -> PathBuf {
    path.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect()
}

/// The mel spectrogram (mel-major) of decoded audio, with its shape.
fn mel_of(a: &MelArgs, audio: auscult::audio::Decoded) -> anyhow::Result<(Vec<f32>, [u64; 2])> {
    let rate = match a.sr {
        SampleRate::Hz(r) => r,
        SampleRate::Native => audio.sample_rate,
    };
    let config = MelConfig {
        sample_rate: rate,
        n_fft: a.n_fft,
        hop: a.hop,
        n_mels: a.n_mels,
        fmin: a.fmin,
        fmax: a.fmax,
        scale: if a.htk { MelScale::Htk } else { MelScale::Slaney },
        slaney_norm: true,
        center: !a.no_center,
        pad_mode: match a.pad_mode {
            PadModeArg::Constant => PadMode::Constant,
            PadModeArg::Reflect => PadMode::Reflect,
        },
        power: a.power,
    };
    let mut extractor = MelExtractor::new(config)?;
    let samples = resample(&audio.samples, audio.sample_rate, rate)?;
    let mel = extractor.compute(&samples);
    let mut data = mel.to_mel_major();
    if a.db {
        power_to_db(&mut data, DbRef::Value(1.0), 1e-10, Some(80.0));
    }
    Ok((data, [mel.n_mels as u64, mel.frames() as u64]))
}

fn fbank(a: &FbankArgs) -> anyhow::Result<ExitCode> {
    let config = KaldiFbankConfig { sample_rate: a.sr, num_mel_bins: a.n_mels, ..Default::default() };
    let samples = load_at(&a.input, a.sr)?;
    let fb = kaldi_fbank(&samples, &config);
    write_npy(&a.out, &[fb.frames() as u64, fb.n_mels as u64], &fb.data)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a float32 C-order .npy.
fn write_npy(path: &Path, shape: &[u64], data: &[f32]) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    use npyz::WriterBuilder;
    let mut writer = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .with_context(|| format!("writing {}", path.display()))?;
    writer.extend(data.iter().copied()).with_context(|| format!("writing {}", path.display()))?;
    writer.finish().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
