//! Audio in and out: decoding and resampling files, live capture, replay,
//! and crash-safe recording sessions.

pub mod capture;
pub mod decode;
pub mod replay;
pub mod resample;
pub mod session;
pub mod source;
pub mod wav;

pub use decode::{decode_bytes, decode_file, DecodeError, Decoded};
pub use source::{Source, SourceInfo, SourceKind, SourceState, SourceStatus};

use std::path::Path;

/// How to open the input named on the command line.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// A file to replay, or a device id; `None` for the default device.
    pub input: Option<String>,
    pub sample_rate: Option<u32>,
    pub buffer_frames: Option<u32>,
    /// Replay files as fast as they are read rather than in real time.
    pub fast: bool,
    /// Replay files in a loop (the demo).
    pub looped: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Capture(#[from] capture::CaptureError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Opens a file (if `input` names one that exists) for replay, or else a
/// capture device.
pub fn open_input(options: &InputOptions) -> Result<Source, InputError> {
    if let Some(name) = &options.input {
        let path = Path::new(name);
        if path.is_file() || name.contains('/') || has_audio_extension(path) {
            let replay = replay::ReplayOptions {
                pace: if options.fast { replay::Pace::Fast } else { replay::Pace::RealTime },
                looped: options.looped,
                ..Default::default()
            };
            return Ok(replay::open(path, replay)?);
        }
    }
    let request =
        capture::CaptureRequest { device: options.input.clone(), sample_rate: options.sample_rate, buffer_frames: options.buffer_frames, ring_seconds: 0.0 };
    Ok(capture::open(&request)?)
}

fn has_audio_extension(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| ["wav", "flac", "wave"].contains(&e.to_ascii_lowercase().as_str()))
}
