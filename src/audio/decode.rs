//! Decoding WAV and FLAC files to mono `f32`.
//!
//! Integer samples are scaled as soundfile and librosa scale them,
//! `value / 2^(bits-1)`, and channels are averaged (librosa's `to_mono`).

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// A decoded recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Mono samples in [-1, 1).
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// Channels in the file, before mixing to mono.
    pub channels: usize,
}

impl Decoded {
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: empty file", path.display())]
    Empty { path: PathBuf },
    #[error("{}: not a supported audio file (WAV or FLAC): {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error("{}: corrupt audio: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{}: truncated: the header declares {declared} frames but the file holds {found}", path.display())]
    Truncated { path: PathBuf, declared: u64, found: u64 },
    #[error("{}: no audio samples", path.display())]
    NoSamples { path: PathBuf },
    #[error("{}: non-finite sample (NaN or infinity) at frame {frame}", path.display())]
    NonFinite { path: PathBuf, frame: usize },
}

/// Decodes a whole file to mono.
pub fn decode_file(path: &Path) -> Result<Decoded, DecodeError> {
    let p = || path.to_path_buf();
    let file = File::open(path).map_err(|source| DecodeError::Io { path: p(), source })?;
    let len = file.metadata().map_err(|source| DecodeError::Io { path: p(), source })?.len();
    if len == 0 {
        return Err(DecodeError::Empty { path: p() });
    }
    decode_stream(Box::new(file), path)
}

/// Decodes audio held in memory (a recording built into the binary);
/// `name` stands for the file in errors and gives the format hint.
pub fn decode_bytes<B>(bytes: B, name: &Path) -> Result<Decoded, DecodeError>
where
    B: AsRef<[u8]> + Send + Sync + 'static,
{
    if bytes.as_ref().is_empty() {
        return Err(DecodeError::Empty { path: name.to_path_buf() });
    }
    decode_stream(Box::new(std::io::Cursor::new(bytes)), name)
}

fn decode_stream(source: Box<dyn symphonia::core::io::MediaSource>, path: &Path) -> Result<Decoded, DecodeError> {
    let p = || path.to_path_buf();
    let stream = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| DecodeError::Unsupported { path: p(), reason: e.to_string() })?;
    let mut format = probed.format;
    let track = format
        .default_track()
        .ok_or_else(|| DecodeError::Unsupported { path: p(), reason: "no audio track".into() })?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let sample_rate = params
        .sample_rate
        .ok_or_else(|| DecodeError::Unsupported { path: p(), reason: "no sample rate".into() })?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| DecodeError::Unsupported { path: p(), reason: e.to_string() })?;

    let mut samples = Vec::new();
    let mut channels = params.channels.map_or(0, |c| c.count());
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(DecodeError::Corrupt { path: p(), reason: e.to_string() }),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = decoder
            .decode(&packet)
            .map_err(|e| DecodeError::Corrupt { path: p(), reason: e.to_string() })?;
        let spec = *decoded.spec();
        channels = spec.channels.count();
        let buf = buffer.get_or_insert_with(|| SampleBuffer::new(decoded.capacity() as u64, spec));
        if buf.capacity() < decoded.capacity() * channels {
            *buf = SampleBuffer::new(decoded.capacity() as u64, spec);
        }
        buf.copy_interleaved_ref(decoded);
        mix_to_mono(buf.samples(), channels, &mut samples);
    }
    // symphonia stops quietly at the end of the file; a data chunk that
    // promised more frames than the file holds is a truncated file.
    if let Some(declared) = params.n_frames {
        if (samples.len() as u64) < declared {
            return Err(DecodeError::Truncated { path: p(), declared, found: samples.len() as u64 });
        }
    }
    if let Some(frame) = samples.iter().position(|x| !x.is_finite()) {
        return Err(DecodeError::NonFinite { path: p(), frame });
    }
    if samples.is_empty() {
        return Err(DecodeError::NoSamples { path: p() });
    }
    Ok(Decoded { samples, sample_rate, channels })
}

/// Appends the channel mean of each interleaved frame to `out`.
fn mix_to_mono(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels <= 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() * scale));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_is_averaged() {
        let mut out = Vec::new();
        mix_to_mono(&[1.0, 0.0, -0.5, -0.5], 2, &mut out);
        assert_eq!(out, vec![0.5, -0.5]);
    }
}
