//! Audio in and out with real components: capture through cpal and ALSA
//! from a file-backed capture device, `auscult record` killed with SIGKILL,
//! and the decoder's errors on damaged files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use auscult::audio::session::{SessionMeta, SessionState, AUDIO_FILE};
use auscult::audio::{decode_file, DecodeError};

const SAMPLE: &str = "samples/kauh-EP109-normal.wav";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn auscult() -> Command {
    Command::new(env!("CARGO_BIN_EXE_auscult"))
}

/// The one session directory under `parent` whose state is `state`.
fn session_dirs(parent: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(parent).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("session.toml").is_file()).collect();
    dirs.sort();
    dirs
}

/// An ALSA config with a capture PCM named `auscult_test` that reads the
/// headerless S16_LE file `raw` (the `file` plugin over the `null` PCM).
fn file_backed_alsa_config(dir: &Path, raw: &Path) -> PathBuf {
    let conf = dir.join("test.asoundrc");
    std::fs::write(
        &conf,
        format!(
            r#"pcm.auscult_test {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{}"
    format "raw"
    hint {{
        show on
        description "auscult test capture"
    }}
}}
"#,
            raw.display()
        ),
    )
    .unwrap();
    conf
}

#[test]
fn samples_captured_through_cpal_from_a_file_backed_alsa_device_equal_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = decode_file(&repo().join(SAMPLE)).unwrap();
    // 3 s at 4 kHz: fits the capture ring (4 s), because the file PCM is
    // not paced and delivers everything at once.
    let frames = 12_000;
    let expected: Vec<i16> = source.samples[..frames].iter().map(|&x| (x * 32768.0).round() as i16).collect();
    let raw = dir.path().join("input.raw");
    std::fs::write(&raw, expected.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let conf = file_backed_alsa_config(dir.path(), &raw);
    let alsa_config = format!("/usr/share/alsa/alsa.conf:{}", conf.display());

    let listed = auscult().arg("devices").env("ALSA_CONFIG_PATH", &alsa_config).output().unwrap();
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(listing.contains("auscult_test") && listing.contains("i16"), "{listing}");

    let out = dir.path().join("sessions");
    let run = auscult()
        .args(["record", "--input", "auscult_test", "--rate", "4000", "--duration", "3", "--out"])
        .arg(&out)
        .env("ALSA_CONFIG_PATH", &alsa_config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("i16, 1 ch, 4000 Hz"), "opened as asked: {stdout}");
    let sessions = session_dirs(&out);
    assert_eq!(sessions.len(), 1);
    let recorded = decode_file(&sessions[0].join(AUDIO_FILE)).unwrap();
    assert_eq!(recorded.sample_rate, 4000);
    let want: Vec<f32> = expected.iter().map(|&s| f32::from(s) / 32768.0).collect();
    assert_eq!(recorded.samples.len(), want.len());
    let first_difference = recorded.samples.iter().zip(&want).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "captured samples differ from the file");
    let meta = SessionMeta::load(&sessions[0]).unwrap();
    assert_eq!((meta.state, meta.source.as_str(), meta.frames), (SessionState::Finished, "live", 12_000));
}

#[test]
fn a_recording_killed_with_sigkill_keeps_all_but_the_last_second_and_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sessions");
    let source = decode_file(&repo().join(SAMPLE)).unwrap();
    let rate = source.sample_rate as usize;

    // Replay at real-time pace, so the process is mid-recording when killed.
    let mut child =
        auscult().args(["record", "--input", SAMPLE, "--out"]).arg(&out).current_dir(repo()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("recording"), "{line}");
    std::thread::sleep(Duration::from_millis(3500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let sessions = session_dirs(&out);
    assert_eq!(sessions.len(), 1);
    let wav = sessions[0].join(AUDIO_FILE);
    assert_eq!(SessionMeta::load(&sessions[0]).unwrap().state, SessionState::Recording);
    // As left: the header is valid and covers all but the last second of
    // what reached the file.
    let as_left = decode_file(&wav).expect("the WAV left by kill -9 decodes");
    let on_disk = frames_on_disk(&wav);
    assert!(as_left.samples.len() >= rate, "recorded at least a second: {}", as_left.samples.len());
    assert!(on_disk - as_left.samples.len() <= rate, "the header lags the data by {} frames, more than a second", on_disk - as_left.samples.len());
    assert_eq!(as_left.samples[..], source.samples[..as_left.samples.len()]);

    // The next start repairs it: every complete frame on disk, unchanged.
    let next = auscult().args(["record", "--input", SAMPLE, "--fast", "--duration", "0.5", "--out"]).arg(&out).current_dir(repo()).output().unwrap();
    let stderr = String::from_utf8_lossy(&next.stderr);
    assert!(next.status.success(), "{stderr}");
    assert!(stderr.contains("recovered unfinished session"), "{stderr}");
    let repaired = decode_file(&wav).unwrap();
    assert_eq!(repaired.samples.len(), on_disk);
    assert_eq!(repaired.samples[..], source.samples[..on_disk]);
    let meta = SessionMeta::load(&sessions[0]).unwrap();
    assert_eq!((meta.state, meta.frames), (SessionState::Recovered, on_disk as u64));
}

/// Complete 32-bit frames after the data chunk header, whatever the header
/// claims.
fn frames_on_disk(wav: &Path) -> usize {
    let bytes = std::fs::read(wav).unwrap();
    let data = bytes.windows(4).position(|w| w == b"data").expect("a data chunk") + 8;
    (bytes.len() - data) / 4
}

#[test]
fn record_annotates_the_cycles_the_chain_finds_and_keeps_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sessions");
    let run = auscult()
        .args(["record", "--input", SAMPLE, "--fast", "--location", "P L M", "--chain", "plugins/chains/lung-4k.toml", "--out"])
        .arg(&out)
        .current_dir(repo())
        .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let session = &session_dirs(&out)[0];
    let source = decode_file(&repo().join(SAMPLE)).unwrap();
    assert_eq!(decode_file(&session.join(AUDIO_FILE)).unwrap().samples, source.samples, "--fast loses nothing");
    let text = std::fs::read_to_string(session.join("annotations.txt")).unwrap();
    let cycles = auscult::audio::session::parse_annotations(&text, Path::new("annotations.txt")).unwrap();
    assert!(cycles.len() >= 2, "a 13 s recording has breath cycles: {text:?}");
    assert!(cycles.iter().all(|c| c.end_s <= source.duration_s() + 1e-3));
    let meta = SessionMeta::load(session).unwrap();
    assert_eq!(meta.locations[0].location, "P L M");
    assert!(meta.chain.unwrap().contains("segment"));
}

// --- Decoding errors: each names the file and the problem. ---

fn sample_bytes() -> Vec<u8> {
    std::fs::read(repo().join(SAMPLE)).unwrap()
}

fn decode_error(dir: &Path, name: &str, bytes: &[u8]) -> (DecodeError, String, PathBuf) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = decode_file(&path).expect_err("damaged file decoded");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "error does not name the file: {text}");
    (err, text, path)
}

#[test]
fn a_truncated_data_chunk_is_an_error_with_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = sample_bytes();
    bytes.truncate(bytes.len() - 10_000);
    let (err, text, _) = decode_error(dir.path(), "truncated.wav", &bytes);
    assert!(matches!(err, DecodeError::Truncated { .. }), "{text}");
    let declared = decode_file(&repo().join(SAMPLE)).unwrap().samples.len();
    assert!(text.contains(&format!("declares {declared} frames but the file holds {}", declared - 5000)), "{text}");
}

#[test]
fn an_unsupported_codec_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    // A WAV whose fmt chunk says MS ADPCM (format tag 2).
    let mut bytes = sample_bytes();
    bytes[20..22].copy_from_slice(&2u16.to_le_bytes());
    let (err, text, _) = decode_error(dir.path(), "adpcm.wav", &bytes);
    assert!(matches!(err, DecodeError::Unsupported { .. }), "{text}");
    let (err, text, _) = decode_error(dir.path(), "notes.wav", b"these are not the samples you are looking for");
    assert!(matches!(err, DecodeError::Unsupported { .. }), "{text}");
}

#[test]
fn a_zero_length_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (err, text, _) = decode_error(dir.path(), "empty.wav", b"");
    assert!(matches!(err, DecodeError::Empty { .. }), "{text}");
    assert!(text.contains("empty"), "{text}");
}

#[test]
fn nan_in_float_data_is_an_error_with_the_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut samples = vec![0.1f32; 1000];
    samples[617] = f32::NAN;
    let path = dir.path().join("nan.wav");
    auscult::audio::wav::write_f32_mono(&path, &samples, 4000).unwrap();
    let err = decode_file(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DecodeError::NonFinite { frame: 617, .. }), "{text}");
    assert!(text.contains("nan.wav") && text.contains("617"), "{text}");
}

#[test]
fn the_cli_reports_a_damaged_input_with_its_name_and_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.wav");
    std::fs::write(&path, b"").unwrap();
    let run = auscult().args(["record", "--fast", "--out"]).arg(dir.path().join("s")).arg("--input").arg(&path).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("empty.wav") && stderr.contains("empty file"), "{stderr}");
}

#[test]
fn a_plugin_stalling_longer_than_the_capture_ring_costs_the_recording_nothing() {
    // The chain sleeps 6 s on its 12th block (the capture ring holds 4 s):
    // the recorder thread keeps draining the device meanwhile.
    let dir = tempfile::tempdir().unwrap();
    let source = decode_file(&repo().join(SAMPLE)).unwrap();
    let stream = common::unrepeating_stream(&[source.samples], 4000 * 12);
    let device = common::PacedAlsaDevice::start("auscult_stall", stream.clone(), 4000);
    let chain = dir.path().join("stall.toml");
    std::fs::write(&chain, "[[chain]]\nplugin = \"faulty\"\nparams = { mode = 5, every_n = 12, sleep_ms = 6000.0 }\n").unwrap();
    let out = dir.path().join("sessions");
    let run = auscult()
        .args(["record", "--input", "auscult_stall", "--rate", "4000", "--duration", "6", "--chain"])
        .arg(&chain)
        .arg("--out")
        .arg(&out)
        .env("ALSA_CONFIG_PATH", device.alsa_config_path())
        .env("AUSCULT_PLUGIN_PATH", common::plugin_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("24000 frames") && stdout.contains(", 0 overruns)"), "{stdout}");
    let recorded = decode_file(&session_dirs(&out)[0].join(AUDIO_FILE)).unwrap().samples;
    let as_i16: Vec<i16> = recorded.iter().map(|&x| (x * 32768.0).round() as i16).collect();
    let at = stream.windows(400).position(|w| w == &as_i16[..400]).expect("the recording's start is in the input");
    assert_eq!(as_i16[..], stream[at..at + as_i16.len()], "the recording is the input, sample for sample");
}

/// A 100 KiB tmpfs, unmounted on drop; `None` (with the reason printed)
/// where this process may not mount.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir.path()).output().ok()?;
        if !out.status.success() {
            println!("skipped: cannot mount a small tmpfs here ({})", String::from_utf8_lossy(&out.stderr).trim());
            return None;
        }
        Some(SmallDisk { dir })
    }
    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(self.dir.path()).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_stops_the_recording_and_keeps_every_frame_that_reached_it() {
    let Some(disk) = SmallDisk::mount("100k") else { return };
    let out = disk.dir.path().join("sessions");
    let run = auscult().args(["record", "--input", SAMPLE, "--fast", "--out"]).arg(&out).current_dir(repo()).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "a 13 s recording cannot fit in 100 KiB: {stderr}");
    assert!(stderr.contains("No space left on device") && stderr.contains("audio.wav") && stderr.contains("is kept there"), "{stderr}");
    let session = session_dirs(&out)[0].clone();
    // The header covers exactly the frames on disk, and they are the source's.
    let kept = decode_file(&session.join(AUDIO_FILE)).unwrap().samples;
    assert_eq!(kept.len(), frames_on_disk(&session.join(AUDIO_FILE)));
    assert!(kept.len() > 4000, "most of the 100 KiB holds audio: {}", kept.len());
    let source = decode_file(&repo().join(SAMPLE)).unwrap();
    assert_eq!(kept[..], source.samples[..kept.len()]);

    // With room again, the next run marks the session recovered.
    disk.resize("2M");
    let run = auscult().args(["record", "--input", SAMPLE, "--fast", "--duration", "0.1", "--out"]).arg(&out).current_dir(repo()).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let meta = SessionMeta::load(&session).unwrap();
    assert_ne!(meta.state, SessionState::Recording);
    assert_eq!(meta.frames, kept.len() as u64);
}
