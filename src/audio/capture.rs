//! Live capture through cpal (ALSA on Linux).
//!
//! The program asks for the format it wants (16-bit integer first, mono,
//! the requested rate) instead of trusting the device's reported default,
//! because ALSA "default" devices report whatever the mixer happens to run.
//! The callback mixes to mono and pushes into an [`rtrb`] ring: no
//! allocation, lock or I/O, and a full ring is counted, never waited on.

use std::sync::Arc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig, SupportedStreamConfigRange};

use super::source::{ring_capacity, Producer, Source, SourceInfo, SourceKind, SourceState, SourceStatus};

/// What to open.
#[derive(Debug, Clone, Default)]
pub struct CaptureRequest {
    /// Device id as `auscult devices` lists it; `None` for the default.
    pub device: Option<String>,
    /// Sample rate to ask for; `None` tries common stethoscope rates.
    pub sample_rate: Option<u32>,
    /// A fixed callback buffer, in frames (the device's default if `None`).
    pub buffer_frames: Option<u32>,
    /// Ring capacity in seconds (4 s if 0).
    pub ring_seconds: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// No sound card, or no capture device at all. Callers fall back to a
    /// replay source where that makes sense.
    #[error("no audio input available ({detail}); name a file to replay with --input FILE")]
    NoInput { detail: String },
    #[error("input device \"{name}\" not found; available inputs: {available}")]
    NotFound { name: String, available: String },
    #[error("input device \"{name}\" is busy (another program is using it): {detail}")]
    Busy { name: String, detail: String },
    #[error("input device \"{name}\" cannot capture {wanted}; it supports: {supported}")]
    Unsupported { name: String, wanted: String, supported: String },
    #[error("input device \"{name}\": {detail}")]
    Backend { name: String, detail: String },
}

/// One input device and what it supports.
#[derive(Debug, Clone)]
pub struct InputDevice {
    pub id: String,
    pub description: String,
    pub is_default: bool,
    /// One line per supported configuration range.
    pub configs: Vec<String>,
    /// Why the configurations could not be read, if they could not.
    pub error: Option<String>,
}

/// Rates tried, in order, when none is requested: CD rate first (most USB
/// stethoscopes), then the rates the datasets use.
const PREFERRED_RATES: [u32; 6] = [44_100, 48_000, 8_000, 4_000, 16_000, 22_050];

/// Lists the capture devices. Opening none of them for capture, so that a
/// device in use elsewhere is not disturbed.
pub fn list_inputs() -> Result<Vec<InputDevice>, CaptureError> {
    let _alsa_messages = AlsaMessages::capture();
    let host = cpal::default_host();
    let devices = host.input_devices().map_err(|e| CaptureError::NoInput { detail: e.to_string() })?;
    let mut out = Vec::new();
    for device in devices {
        let id = device_id(&device);
        let description = device.description().map(|d| d.name().to_string()).unwrap_or_default();
        let (configs, error) = match device.supported_input_configs() {
            Ok(ranges) => (summarize_ranges(ranges), None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        out.push(InputDevice { is_default: id == "default", id, description, configs, error });
    }
    Ok(out)
}

/// Opens a capture device and starts it.
pub fn open(request: &CaptureRequest) -> Result<Source, CaptureError> {
    let alsa_messages = AlsaMessages::capture();
    let host = cpal::default_host();
    let device = match &request.device {
        None => host.default_input_device().ok_or_else(|| CaptureError::NoInput { detail: "the audio host has no default input".into() })?,
        Some(name) => find_device(&host, name)?,
    };
    let name = device_id(&device);
    let ranges: Vec<SupportedStreamConfigRange> = match device.supported_input_configs() {
        Ok(ranges) => ranges.collect(),
        Err(e) => return Err(classify(&name, &e, &alsa_messages, request.device.is_none())),
    };
    let (range, rate) = choose_config(&ranges, request.sample_rate).ok_or_else(|| CaptureError::Unsupported {
        name: name.clone(),
        wanted: request.sample_rate.map_or("any supported rate".into(), |r| format!("{r} Hz")),
        supported: ranges.iter().map(describe_range).collect::<Vec<_>>().join("; "),
    })?;
    let config = StreamConfig {
        channels: range.channels(),
        sample_rate: rate,
        buffer_size: request.buffer_frames.map_or(cpal::BufferSize::Default, cpal::BufferSize::Fixed),
    };
    let seconds = if request.ring_seconds > 0.0 { request.ring_seconds } else { 4.0 };
    let (producer, consumer) = rtrb::RingBuffer::new(ring_capacity(rate, seconds));
    let status = SourceStatus::new();
    let format = range.sample_format();
    let stream = match format {
        SampleFormat::I16 => build::<i16>(&device, &config, producer, status.clone()),
        SampleFormat::I24 => build::<cpal::I24>(&device, &config, producer, status.clone()),
        SampleFormat::I32 => build::<i32>(&device, &config, producer, status.clone()),
        SampleFormat::F32 => build::<f32>(&device, &config, producer, status.clone()),
        SampleFormat::F64 => build::<f64>(&device, &config, producer, status.clone()),
        SampleFormat::U8 => build::<u8>(&device, &config, producer, status.clone()),
        SampleFormat::U16 => build::<u16>(&device, &config, producer, status.clone()),
        other => return Err(CaptureError::Unsupported { name, wanted: format!("{other} samples"), supported: "i16, i24, i32, f32, f64, u8, u16".into() }),
    }
    .map_err(|e| classify(&name, &e, &alsa_messages, request.device.is_none()))?;
    stream.play().map_err(|e| classify(&name, &e, &alsa_messages, request.device.is_none()))?;
    let info = SourceInfo {
        kind: SourceKind::Live,
        name,
        sample_rate: rate,
        channels: config.channels,
        format: format!(
            "{format}, {} ch, {rate} Hz, {}",
            config.channels,
            match config.buffer_size {
                cpal::BufferSize::Fixed(n) => format!("{n}-frame buffer"),
                cpal::BufferSize::Default => "default buffer".into(),
            }
        ),
    };
    Ok(Source::new(info, consumer, status, Producer::Stream(stream)))
}

fn build<T>(device: &cpal::Device, config: &StreamConfig, mut producer: rtrb::Producer<f32>, status: Arc<SourceStatus>) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    let scale = 1.0 / channels as f32;
    let data_status = status.clone();
    // The audio callback: arithmetic and atomics only.
    let on_data = move |data: &[T], _: &cpal::InputCallbackInfo| {
        let mut dropped = 0u64;
        for frame in data.chunks_exact(channels) {
            let mut sum = 0.0f32;
            for &sample in frame {
                sum += f32::from_sample_(sample);
            }
            if producer.push(sum * scale).is_err() {
                dropped += 1;
            }
        }
        data_status.add((data.len() / channels) as u64, dropped);
    };
    let on_error = move |err: cpal::Error| match err.kind() {
        cpal::ErrorKind::Xrun => status.add_xrun(),
        cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::StreamInvalidated => status.set_state(SourceState::Disconnected),
        cpal::ErrorKind::RealtimeDenied | cpal::ErrorKind::DeviceChanged => {}
        _ => status.set_state(SourceState::Failed),
    };
    device.build_input_stream::<T, _, _>(*config, on_data, on_error, None)
}

/// Picks a configuration range and a rate: the requested rate (or the first
/// preferred rate some range supports), then the best sample format, then
/// the fewest channels.
fn choose_config(ranges: &[SupportedStreamConfigRange], wanted: Option<u32>) -> Option<(SupportedStreamConfigRange, u32)> {
    let rates: Vec<u32> = match wanted {
        Some(rate) => vec![rate],
        None => PREFERRED_RATES.to_vec(),
    };
    for rate in rates {
        let best = ranges
            .iter()
            .filter(|r| r.min_sample_rate() <= rate && rate <= r.max_sample_rate())
            .filter_map(|r| format_rank(r.sample_format()).map(|rank| (rank, r.channels(), r)))
            .min_by_key(|&(rank, channels, _)| (rank, channels));
        if let Some((_, _, range)) = best {
            return Some((*range, rate));
        }
    }
    if wanted.is_some() {
        return None;
    }
    // No common rate: the highest rate of the best-format range.
    let range =
        ranges.iter().filter_map(|r| format_rank(r.sample_format()).map(|rank| (rank, r.channels(), r))).min_by_key(|&(rank, channels, _)| (rank, channels))?.2;
    Some((*range, range.max_sample_rate()))
}

/// Lower is better; `None` for formats the callback does not handle.
fn format_rank(format: SampleFormat) -> Option<u8> {
    // 16-bit integer first: what stethoscopes deliver, and what an ALSA
    // `file` PCM reads from a raw S16_LE file in tests.
    Some(match format {
        SampleFormat::I16 => 0,
        SampleFormat::I24 => 1,
        SampleFormat::I32 => 2,
        SampleFormat::F32 => 3,
        SampleFormat::F64 => 4,
        SampleFormat::U16 => 5,
        SampleFormat::U8 => 6,
        _ => return None,
    })
}

/// One line per sample format: the channel counts and rates offered.
/// (A virtual ALSA device offers hundreds of ranges, one per channel count.)
fn summarize_ranges(ranges: impl Iterator<Item = SupportedStreamConfigRange>) -> Vec<String> {
    let mut by_format: Vec<(SampleFormat, u16, u16, u32, u32)> = Vec::new();
    for r in ranges {
        match by_format.iter_mut().find(|f| f.0 == r.sample_format()) {
            Some(f) => {
                f.1 = f.1.min(r.channels());
                f.2 = f.2.max(r.channels());
                f.3 = f.3.min(r.min_sample_rate());
                f.4 = f.4.max(r.max_sample_rate());
            }
            None => by_format.push((r.sample_format(), r.channels(), r.channels(), r.min_sample_rate(), r.max_sample_rate())),
        }
    }
    by_format
        .into_iter()
        .map(|(format, ch_lo, ch_hi, lo, hi)| {
            let channels = if ch_lo == ch_hi { format!("{ch_lo} ch") } else { format!("{ch_lo}–{ch_hi} ch") };
            let rates = if lo == hi { format!("{lo} Hz") } else { format!("{lo}–{hi} Hz") };
            format!("{format:<6} {channels}, {rates}")
        })
        .collect()
}

fn describe_range(r: &SupportedStreamConfigRange) -> String {
    let rates = if r.min_sample_rate() == r.max_sample_rate() {
        format!("{} Hz", r.min_sample_rate())
    } else {
        format!("{}–{} Hz", r.min_sample_rate(), r.max_sample_rate())
    };
    let buffer = match r.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => format!(", buffer {min}–{max} frames"),
        cpal::SupportedBufferSize::Unknown => String::new(),
    };
    format!("{}, {} ch, {rates}{buffer}", r.sample_format(), r.channels())
}

fn device_id(device: &cpal::Device) -> String {
    device.id().map(|id| id.id().to_string()).unwrap_or_else(|_| device.to_string())
}

fn find_device(host: &cpal::Host, name: &str) -> Result<cpal::Device, CaptureError> {
    if name == "default" {
        return host.default_input_device().ok_or_else(|| CaptureError::NoInput { detail: "the audio host has no default input".into() });
    }
    if let Some(device) = host.device_by_id(&cpal::DeviceId::new(host.id(), name)) {
        return Ok(device);
    }
    let devices: Vec<cpal::Device> = host.input_devices().map_err(|e| CaptureError::NoInput { detail: e.to_string() })?.collect();
    let available: Vec<String> = devices.iter().map(device_id).collect();
    devices
        .into_iter()
        .find(|d| device_id(d) == name)
        .ok_or_else(|| CaptureError::NotFound { name: name.to_string(), available: if available.is_empty() { "none".into() } else { available.join(", ") } })
}

/// Maps a cpal error to what the user needs to know, with what alsa-lib
/// said (captured, not printed).
fn classify(name: &str, err: &cpal::Error, alsa: &AlsaMessages, is_default: bool) -> CaptureError {
    let mut detail = err.to_string();
    let said = alsa.take();
    if !said.is_empty() {
        detail = format!("{detail} (alsa-lib: {said})");
    }
    match err.kind() {
        // With no sound card, "default" still exists and fails only here.
        cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable if is_default => CaptureError::NoInput { detail },
        cpal::ErrorKind::DeviceNotAvailable => CaptureError::NotFound { name: name.into(), available: detail },
        cpal::ErrorKind::DeviceBusy => CaptureError::Busy { name: name.into(), detail },
        cpal::ErrorKind::UnsupportedConfig | cpal::ErrorKind::UnsupportedOperation => {
            CaptureError::Unsupported { name: name.into(), wanted: "input".into(), supported: detail }
        }
        _ => CaptureError::Backend { name: name.into(), detail },
    }
}

/// alsa-lib prints its errors to stderr, over the TUI. While one of these is
/// alive, messages from this thread go to a buffer instead.
struct AlsaMessages {
    #[cfg(target_os = "linux")]
    output: Option<std::rc::Rc<std::cell::RefCell<alsa::Output>>>,
}

impl AlsaMessages {
    fn capture() -> Self {
        #[cfg(target_os = "linux")]
        {
            Self { output: alsa::Output::local_error_handler().ok() }
        }
        #[cfg(not(target_os = "linux"))]
        {
            Self {}
        }
    }

    /// What alsa-lib said since the last call, on one line.
    fn take(&self) -> String {
        #[cfg(target_os = "linux")]
        if let Some(output) = &self.output {
            // Its last line is the one that says what failed.
            let text = output.borrow().to_string();
            return text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string();
        }
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(format: SampleFormat, channels: u16, min: u32, max: u32) -> SupportedStreamConfigRange {
        SupportedStreamConfigRange::new(channels, min, max, cpal::SupportedBufferSize::Unknown, format)
    }

    #[test]
    fn prefers_i16_mono_at_the_requested_rate() {
        let ranges = [range(SampleFormat::F32, 2, 8000, 48_000), range(SampleFormat::I16, 2, 8000, 48_000), range(SampleFormat::I16, 1, 8000, 48_000)];
        let (r, rate) = choose_config(&ranges, Some(8000)).unwrap();
        assert_eq!((r.sample_format(), r.channels(), rate), (SampleFormat::I16, 1, 8000));
        assert!(choose_config(&ranges, Some(4000)).is_none(), "4 kHz is not offered");
    }

    #[test]
    fn without_a_request_takes_the_first_preferred_rate_offered() {
        let ranges = [range(SampleFormat::F32, 1, 4000, 8000)];
        let (_, rate) = choose_config(&ranges, None).unwrap();
        assert_eq!(rate, 8000);
        let odd = [range(SampleFormat::I32, 1, 96_000, 96_000)];
        assert_eq!(choose_config(&odd, None).unwrap().1, 96_000);
    }
}
