//! Helpers shared by the integration tests and benches.
//!
//! `cargo test` builds no cdylib, so tests that load plugins build them here
//! once per test binary, into their own target directory (so test-only
//! plugins never land beside the real binary).
#![allow(dead_code)]

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Every plugin crate the tests load, by package name.
pub const PLUGIN_PACKAGES: &[&str] = &[
    "auscult-gain",
    "auscult-bandpass",
    "auscult-denoise",
    "auscult-segment",
    "auscult-passthrough",
    "auscult-faulty",
    "auscult-old-abi",
    "auscult-newer-minor",
];

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the plugins (once) and returns the directory holding their .so
/// files. Built in the profile of the caller: dev for tests, release for
/// benches.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target")).join("test-plugins");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root()).arg("build").arg("--quiet").arg("--target-dir").arg(&target);
        for p in PLUGIN_PACKAGES {
            cmd.arg("-p").arg(p);
        }
        let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
        if profile == "release" {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("running cargo to build the test plugins");
        assert!(out.status.success(), "building plugins failed:\n{}", String::from_utf8_lossy(&out.stderr));
        target.join(profile)
    })
}

/// Path of the built plugin library `lib<name>.so`.
pub fn plugin(name: &str) -> PathBuf {
    let path = plugin_dir().join(format!("lib{name}.so"));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// The shared real recordings, or None (with the reason printed) when absent.
pub fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("AUSCULT_DATA").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("../shared/data"));
    if dir.join("icbhi").is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIP: shared data not found at {} (set AUSCULT_DATA)", dir.display());
        None
    }
}

/// A sine of `freq` Hz, amplitude `amp`, `n` samples at `rate`.
pub fn sine(freq: f64, amp: f32, rate: f64, n: usize) -> Vec<f32> {
    (0..n).map(|i| amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate).sin() as f32).collect()
}

/// A real ALSA capture device, `name`, that reads 16-bit mono samples from
/// a FIFO which a thread here feeds at real-time pace: the `file` plugin
/// over `null` (which alone delivers everything at once), paced by the
/// FIFO's blocking reads. Set `ALSA_CONFIG_PATH` to [`alsa_config_path`]
/// in the process that captures.
pub struct PacedAlsaDevice {
    pub name: String,
    dir: tempfile::TempDir,
    fifo: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pacer: Option<std::thread::JoinHandle<()>>,
}

impl PacedAlsaDevice {
    pub fn start(name: &str, samples: Vec<i16>, rate: usize) -> PacedAlsaDevice {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("capture.fifo");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        std::fs::write(
            dir.path().join("asoundrc"),
            format!(
                "pcm.{name} {{\n    type file\n    slave.pcm \"null\"\n    file \"/dev/null\"\n    infile \"{}\"\n    format \"raw\"\n}}\n",
                fifo.display()
            ),
        )
        .unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        // Writes 10 ms pieces on schedule, opening the FIFO again when a
        // reader (a device probe) goes away.
        let pacer = {
            let (fifo, stop) = (fifo.clone(), stop.clone());
            std::thread::spawn(move || {
                use std::io::Write;
                let piece = rate / 100;
                let mut sent = 0usize;
                let mut started = None;
                while !stop.load(Ordering::Relaxed) && sent + piece <= samples.len() {
                    let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) else { break };
                    let t0 = *started.get_or_insert_with(std::time::Instant::now);
                    while !stop.load(Ordering::Relaxed) && sent + piece <= samples.len() {
                        let bytes: Vec<u8> = samples[sent..sent + piece].iter().flat_map(|s| s.to_le_bytes()).collect();
                        if f.write_all(&bytes).is_err() {
                            break;
                        }
                        sent += piece;
                        let due = t0 + std::time::Duration::from_secs_f64(sent as f64 / rate as f64);
                        if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                }
            })
        };
        PacedAlsaDevice { name: name.to_string(), dir, fifo, stop, pacer: Some(pacer) }
    }

    /// The value for `ALSA_CONFIG_PATH`.
    pub fn alsa_config_path(&self) -> String {
        format!("/usr/share/alsa/alsa.conf:{}", self.dir.path().join("asoundrc").display())
    }
}

impl Drop for PacedAlsaDevice {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Opening the read end unblocks a pacer waiting in open().
        let _ = std::fs::OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(&self.fifo);
        if let Some(p) = self.pacer.take() {
            let _ = p.join();
        }
    }
}

/// Linux's O_NONBLOCK, so that opening the read end never waits.
const O_NONBLOCK: i32 = 0o4000;

/// `sources` looped to at least `frames`, as 16-bit samples, with a gain
/// that changes on every pass so that no stretch of the result repeats
/// (a recording's place in it is then unique).
pub fn unrepeating_stream(sources: &[Vec<f32>], frames: usize) -> Vec<i16> {
    let mut stream: Vec<i16> = Vec::with_capacity(frames);
    for pass in 0.. {
        let gain = 0.9 - 0.002 * (pass % 200) as f32;
        stream.extend(sources[pass % sources.len()].iter().map(|&x| (x * gain * 32767.0).round() as i16));
        if stream.len() >= frames {
            break;
        }
    }
    stream
}
