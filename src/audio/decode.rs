//! Decoding WAV and FLAC files to mono `f32`.
//!
//! Integer samples are scaled as soundfile and librosa scale them,
//! `value / 2^(bits-1)`, and channels are averaged (librosa's `to_mono`).

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
    let bytes = std::fs::read(path).map_err(|source| DecodeError::Io { path: path.to_path_buf(), source })?;
    decode_bytes(bytes, path)
}

/// Decodes audio held in memory (a recording built into the binary);
/// `name` stands for the file in errors and gives the format hint.
pub fn decode_bytes<B>(bytes: B, name: &Path) -> Result<Decoded, DecodeError>
where
    B: AsRef<[u8]> + Send + Sync + 'static,
{
    let data = bytes.as_ref();
    if data.is_empty() {
        return Err(DecodeError::Empty { path: name.to_path_buf() });
    }
    // Only WAV and FLAC, recognised at the start (after an ID3v2 tag for
    // FLAC). symphonia's probe would also scan ahead for a marker, which let
    // fuzzed bytes reach its FLAC metadata reader by another door.
    let tag = id3v2_len(data);
    let body = data.get(tag..).unwrap_or_default();
    let source: Box<dyn symphonia::core::io::MediaSource> = if body.starts_with(FLAC_MAGIC) {
        let stripped = strip_flac_metadata(body).map_err(|reason| DecodeError::Corrupt { path: name.to_path_buf(), reason })?;
        Box::new(std::io::Cursor::new(stripped))
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WAVE" {
        if let Some(reason) = wav_format_problem(data) {
            return Err(DecodeError::Corrupt { path: name.to_path_buf(), reason });
        }
        match pcm_block_align_fix(data) {
            Some((at, align)) => {
                let mut fixed = data.to_vec();
                fixed[at..at + 2].copy_from_slice(&align.to_le_bytes());
                Box::new(std::io::Cursor::new(fixed))
            }
            None => Box::new(std::io::Cursor::new(bytes)),
        }
    } else {
        return Err(DecodeError::Unsupported { path: name.to_path_buf(), reason: "neither a WAV (RIFF/WAVE) nor a FLAC (fLaC) stream".into() });
    };
    // symphonia 0.5 panics on some malformed headers (a WAV declaring a
    // sample rate of 0 divides by it; found by fuzzing): a bad file must be
    // an error that names it, never the end of the program.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_stream(source, name))).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the decoder gave up".into());
        Err(DecodeError::Corrupt { path: name.to_path_buf(), reason: format!("malformed header ({reason})") })
    })
}

const FLAC_MAGIC: &[u8] = b"fLaC";

/// Length of an ID3v2 tag at the start of `data` (header included), or 0.
fn id3v2_len(data: &[u8]) -> usize {
    match data.get(..10) {
        Some(h) if &h[..3] == b"ID3" && h[6..10].iter().all(|b| b & 0x80 == 0) => {
            let size = h[6..10].iter().fold(0usize, |acc, &b| (acc << 7) | usize::from(b));
            10 + size + if h[5] & 0x10 != 0 { 10 } else { 0 }
        }
        _ => 0,
    }
}

/// What is wrong with a WAV file's `fmt ` chunk that symphonia 0.5 would
/// panic on rather than report: no channels, or a sample rate of 0.
fn wav_format_problem(data: &[u8]) -> Option<String> {
    let mut at = 12;
    while let Some(header) = data.get(at..at + 8) {
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[..4] == b"fmt " {
            let fmt = data.get(at + 8..(at + 8 + len.min(16)).min(data.len())).unwrap_or_default();
            let (channels, rate) = match fmt {
                [_, _, c0, c1, r0, r1, r2, r3, ..] => (u16::from_le_bytes([*c0, *c1]), u32::from_le_bytes([*r0, *r1, *r2, *r3])),
                _ => (1, 1),
            };
            // Every fmt chunk: a later one may be the one read.
            match (channels, rate) {
                (0, _) => return Some("the format chunk declares 0 channels".into()),
                (_, 0) => return Some("the format chunk declares a sample rate of 0 Hz".into()),
                _ => {}
            }
        }
        at = at.checked_add(8 + len + (len & 1))?;
    }
    None
}

/// Where a PCM WAV's `fmt ` chunk declares a block align that disagrees
/// with its channels and sample size while its byte rate agrees with them
/// (every SPRSound file: mono 16-bit, byte rate 16 000 at 8 kHz, block
/// align 4), the block align's offset and the value the rest of the chunk
/// gives. symphonia steps through the data by the block align, and would
/// keep every other sample of such a file: half its length, aliased.
fn pcm_block_align_fix(data: &[u8]) -> Option<(usize, u16)> {
    let mut at = 12;
    while let Some(header) = data.get(at..at + 8) {
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[..4] == b"fmt " {
            let fmt = data.get(at + 8..at + 8 + 16)?;
            let word = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
            let (format, channels, rate, byte_rate, align, bits) = (
                word(0),
                word(2),
                u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]),
                u32::from_le_bytes([fmt[8], fmt[9], fmt[10], fmt[11]]),
                word(12),
                word(14),
            );
            let frame = u32::from(channels) * u32::from(bits).div_ceil(8);
            const PCM: u16 = 1;
            let consistent = u16::try_from(frame).ok()?;
            return (format == PCM && u32::from(align) != frame && rate.checked_mul(frame) == Some(byte_rate)).then_some((at + 8 + 12, consistent));
        }
        at = at.checked_add(8 + len + (len & 1))?;
    }
    None
}

/// A FLAC stream with only the metadata blocks decoding needs (STREAMINFO
/// and SEEKTABLE). symphonia 0.5 allocates a Vorbis comment's declared
/// length before reading it, so a 60-byte file could ask for 4 GiB (found by
/// fuzzing; symphonia 0.6 reads such fields incrementally); tags, pictures
/// and cue sheets are of no use here, so they never reach it.
fn strip_flac_metadata(data: &[u8]) -> Result<Vec<u8>, String> {
    const STREAMINFO: u8 = 0;
    const SEEKTABLE: u8 = 3;
    let mut kept: Vec<(u8, &[u8])> = Vec::new();
    let mut at = FLAC_MAGIC.len();
    loop {
        let header = data.get(at..at + 4).ok_or("FLAC metadata ends early")?;
        let (last, kind) = (header[0] & 0x80 != 0, header[0] & 0x7f);
        let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        let body = data.get(at + 4..at + 4 + len).ok_or_else(|| format!("FLAC metadata block of {len} bytes runs past the end"))?;
        if kind == STREAMINFO || kind == SEEKTABLE {
            kept.push((kind, body));
        }
        at += 4 + len;
        if last {
            break;
        }
    }
    if kept.first().is_none_or(|(kind, _)| *kind != STREAMINFO) {
        return Err("the first FLAC metadata block is not STREAMINFO".into());
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(FLAC_MAGIC);
    for (i, (kind, body)) in kept.iter().enumerate() {
        let last = if i + 1 == kept.len() { 0x80 } else { 0 };
        let len = (body.len() as u32).to_be_bytes();
        out.extend_from_slice(&[last | kind, len[1], len[2], len[3]]);
        out.extend_from_slice(body);
    }
    out.extend_from_slice(&data[at..]);
    Ok(out)
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
    let track = format.default_track().ok_or_else(|| DecodeError::Unsupported { path: p(), reason: "no audio track".into() })?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let sample_rate = params.sample_rate.ok_or_else(|| DecodeError::Unsupported { path: p(), reason: "no sample rate".into() })?;
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
        let decoded = decoder.decode(&packet).map_err(|e| DecodeError::Corrupt { path: p(), reason: e.to_string() })?;
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

    /// A mono 16-bit PCM WAV of `samples` at 8 kHz, its block align as given.
    fn pcm16(samples: &[i16], block_align: u16) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        for word in [1u16, 1] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&8000u32.to_le_bytes());
        out.extend_from_slice(&16000u32.to_le_bytes());
        out.extend_from_slice(&block_align.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn a_block_align_the_byte_rate_contradicts_is_read_as_the_byte_rate_says() {
        // SPRSound's files: mono 16-bit, byte rate 16 000, block align 4.
        let samples: Vec<i16> = (0..8000).map(|i| ((i * 37) % 2000 - 1000) as i16).collect();
        let good = decode_bytes(pcm16(&samples, 2), Path::new("good.wav")).unwrap();
        let odd = decode_bytes(pcm16(&samples, 4), Path::new("sprsound.wav")).unwrap();
        assert_eq!(good.samples.len(), 8000);
        assert_eq!(odd, good);
    }

    #[test]
    fn stereo_is_averaged() {
        let mut out = Vec::new();
        mix_to_mono(&[1.0, 0.0, -0.5, -0.5], 2, &mut out);
        assert_eq!(out, vec![0.5, -0.5]);
    }
}
