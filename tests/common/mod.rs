//! Helpers shared by the integration tests and benches.
//!
//! `cargo test` builds no cdylib, so tests that load plugins build them here
//! once per test binary, into their own target directory (so test-only
//! plugins never land beside the real binary).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Every plugin crate the tests load, by package name.
pub const PLUGIN_PACKAGES: &[&str] = &["auscult-gain", "auscult-bandpass", "auscult-denoise", "auscult-segment", "auscult-passthrough", "auscult-faulty", "auscult-old-abi"];

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the plugins (once) and returns the directory holding their .so
/// files. Built in the profile of the caller: dev for tests, release for
/// benches.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"))
            .join("test-plugins");
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
    let dir = std::env::var_os("AUSCULT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/data"));
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
