//! `auscult features`: mel spectrograms for researchers who feed their own
//! models, written as .npy in librosa's layout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    input: PathBuf,
    /// Sample rate to analyse at; the file is resampled first if it differs.
    #[arg(long, default_value_t = 22050)]
    sr: u32,
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
    #[arg(long, value_name = "OUT.npy")]
    out: PathBuf,
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
    let config = MelConfig {
        sample_rate: a.sr,
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
    let samples = load_at(&a.input, a.sr)?;
    let mel = extractor.compute(&samples);
    let mut data = mel.to_mel_major();
    if a.db {
        power_to_db(&mut data, DbRef::Value(1.0), 1e-10, Some(80.0));
    }
    write_npy(&a.out, &[mel.n_mels as u64, mel.frames() as u64], &data)?;
    Ok(ExitCode::SUCCESS)
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
