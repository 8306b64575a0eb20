//! Sample-rate conversion with rubato's synchronous FFT resampler (its
//! polynomial asynchronous mode aliases; this one has a proper anti-aliasing
//! filter).

use rubato::{FftFixedIn, Resampler};

#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample from {from} Hz to {to} Hz: {reason}")]
    Rubato { from: u32, to: u32, reason: String },
}

/// Input frames per resampler call.
const CHUNK: usize = 1024;

/// Resamples a whole mono signal from `from` Hz to `to` Hz. The output has
/// `ceil(len · to / from)` samples and no added delay.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, ResampleError> {
    if from == to {
        return Ok(samples.to_vec());
    }
    let err = |e: &dyn std::fmt::Display| ResampleError::Rubato { from, to, reason: e.to_string() };
    let mut r = FftFixedIn::<f32>::new(from as usize, to as usize, CHUNK, 2, 1).map_err(|e| err(&e))?;
    let delay = r.output_delay();
    let expected = (samples.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    let mut out = Vec::with_capacity(expected + delay + 2 * CHUNK);
    let mut pos = 0;
    while samples.len() - pos >= r.input_frames_next() {
        let n = r.input_frames_next();
        let chunk = r.process(&[&samples[pos..pos + n]], None).map_err(|e| err(&e))?;
        out.extend_from_slice(&chunk[0]);
        pos += n;
    }
    // rubato refuses an empty partial chunk: a signal of whole chunks (every
    // SPRSound file: 72 of them) goes straight to the flush.
    if pos < samples.len() {
        let tail = r.process_partial(Some(&[&samples[pos..]]), None).map_err(|e| err(&e))?;
        out.extend_from_slice(&tail[0]);
    }
    // Flush the filter until the delayed end of the signal is out.
    while out.len() < expected + delay {
        let flushed = r.process_partial::<&[f32]>(None, None).map_err(|e| err(&e))?;
        if flushed[0].is_empty() {
            break;
        }
        out.extend_from_slice(&flushed[0]);
    }
    out.drain(..delay.min(out.len()));
    out.resize(expected, 0.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        (0..n).map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32 * 0.5).collect()
    }

    /// RMS in dB over the middle half (away from edge effects).
    fn rms_db(x: &[f32]) -> f64 {
        let mid = &x[x.len() / 4..3 * x.len() / 4];
        let ms = mid.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / mid.len() as f64;
        10.0 * ms.log10()
    }

    #[test]
    fn passband_tone_keeps_its_level_within_a_tenth_of_a_db() {
        let input = tone(1000.0, 44100, 2.0);
        let out = resample(&input, 44100, 4000).unwrap();
        assert_eq!(out.len(), 8000);
        let change = rms_db(&out) - rms_db(&input);
        assert!(change.abs() < 0.1, "1 kHz changed by {change:.3} dB");
        // And it is still a 1 kHz tone in phase: compare with the ideal.
        let ideal = tone(1000.0, 4000, 2.0);
        let err: f64 = out[2000..6000].iter().zip(&ideal[2000..6000]).map(|(a, b)| f64::from(a - b).abs()).fold(0.0, f64::max);
        assert!(err < 0.01, "max deviation from the ideal tone {err}");
    }

    #[test]
    fn a_signal_of_whole_chunks_resamples_like_any_other() {
        for len in [CHUNK * 72, CHUNK * 72 + 1] {
            let input: Vec<f32> = tone(440.0, 8000, 1.0).into_iter().cycle().take(len).collect();
            let out = resample(&input, 8000, 4000).unwrap_or_else(|e| panic!("{len} samples: {e}"));
            assert_eq!(out.len(), len.div_ceil(2));
            let change = rms_db(&out) - rms_db(&input);
            assert!(change.abs() < 0.1, "{len} samples: 440 Hz changed by {change:.3} dB");
        }
    }

    #[test]
    fn tone_above_the_new_nyquist_is_removed() {
        let input = tone(3000.0, 44100, 2.0);
        let out = resample(&input, 44100, 4000).unwrap();
        let attenuation = rms_db(&input) - rms_db(&out);
        assert!(attenuation >= 60.0, "3 kHz attenuated by only {attenuation:.1} dB");
    }
}
