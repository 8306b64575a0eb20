//! `auscult plugins list` and `auscult plugins check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use auscult::host::{Chain, ChainEvent, PluginInstance, PluginLibrary, SearchPath};
use rand::{Rng, SeedableRng};

pub fn list(extra: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let search = SearchPath::standard(extra);
    let candidates = search.candidates();
    if candidates.is_empty() {
        outln!("No auscult plugins found. Searched:");
        for d in &search.dirs {
            outln!("  {}", d.display());
        }
    } else {
        outln!("{:<14} {:<8} {:<34} PATH", "NAME", "VERSION", "ID");
    }
    for (name, path) in candidates {
        match PluginLibrary::load(&path) {
            Ok(lib) => {
                let info = lib.info();
                outln!("{:<14} {:<8} {:<34} {}", name, info.version, info.id, path.display());
                if !info.description.is_empty() {
                    outln!("    {}", info.description);
                }
                if !lib.extensions().is_empty() {
                    outln!("    extensions: {}", lib.extensions().join(", "));
                }
                // One column per plugin, as wide as its longest name.
                let width = info.params.iter().map(|p| p.name.chars().count()).max().unwrap_or(0).max(12);
                for p in &info.params {
                    outln!("    {:<width$} {}", p.name, p.range_text());
                }
            }
            Err(e) => outln!("{:<14} {:<8} {:<34} {}\n    refused: {e}", name, "-", "-", path.display()),
        }
    }
    list_ladspa()?;
    Ok(ExitCode::SUCCESS)
}

/// The rate at which `plugins list` states rate-relative LADSPA ranges.
const LIST_RATE: f64 = 44_100.0;

/// LADSPA plugins on `LADSPA_PATH`: label, name, and each port with its
/// range and default; unbounded sides say so, and a range given in units of
/// the sample rate says at which rate it was computed.
fn list_ladspa() -> anyhow::Result<()> {
    use auscult::host::ladspa::PortKind;
    let (plugins, failed) = auscult::host::ladspa::discover();
    if plugins.is_empty() && failed.is_empty() {
        return Ok(());
    }
    let dirs: Vec<String> = auscult::host::ladspa::search_dirs().iter().map(|d| d.display().to_string()).collect();
    outln!(
        "\nLADSPA plugins (LADSPA_PATH {}); use as plugin = \"ladspa:LABEL\", or \"ladspa:FILE.so:LABEL\" where two libraries share a label:",
        dirs.join(":")
    );
    for p in &plugins {
        let usable = p.mono_problem().map_or(String::new(), |_| "  (not mono: cannot be used yet)".into());
        outln!("{:<22} {}  [{}]{usable}", p.label, p.name, p.library.path.display());
        let latency = p.latency_port();
        for port in &p.ports {
            match port.kind {
                PortKind::ControlIn => outln!("    control in  {:<28} {}", port.name, port.range_text(LIST_RATE)),
                PortKind::ControlOut if Some(port.index) == latency => {
                    outln!("    control out {:<28} latency in samples, reported to the chain", port.name)
                }
                kind => outln!("    {:<11} {}", format!("{kind:?}").to_lowercase().replace("audio", "audio ").replace("control", "control "), port.name),
            }
        }
    }
    for (path, why) in failed {
        outln!("{}\n    refused: {why}", path.display());
    }
    Ok(())
}

/// ", extensions: ..." for a library that offers any, else nothing.
fn extensions_text(library: &PluginLibrary) -> String {
    let names = library.extensions();
    if names.is_empty() {
        String::new()
    } else {
        format!(", extensions: {}", names.join(", "))
    }
}

/// Seconds of each test signal.
const CHECK_SECONDS: f64 = 5.0;
const CHECK_BLOCK: usize = 256;

pub fn check(path: &Path) -> anyhow::Result<ExitCode> {
    if auscult::host::ladspa::is_ladspa_library(path) {
        return check_ladspa(path);
    }
    let library = PluginLibrary::load(path)?;
    let info = library.info();
    outln!("{} {} ({}), ABI {}{}", info.name, info.version, info.id, info.abi_version, extensions_text(&library));
    let faults = run_checks(&info.id, |rate| {
        PluginInstance::new(library.clone(), f64::from(rate), CHECK_BLOCK).with_context(|| format!("creating an instance at {rate} Hz"))
    })?;
    Ok(if faults == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `plugins check` on a LADSPA library: every mono plugin in it, on the
/// same signals; the others are listed with why they cannot run.
fn check_ladspa(path: &Path) -> anyhow::Result<ExitCode> {
    use auscult::host::ladspa::{LadspaInstance, LadspaLibrary};
    let plugins = LadspaLibrary::load(path)?;
    let mut faults = 0;
    for plugin in plugins {
        outln!("\nladspa:{} {} (LADSPA id {})", plugin.label, plugin.name, plugin.unique_id);
        if let Some(problem) = plugin.mono_problem() {
            outln!("    not checked: {problem}");
            continue;
        }
        let spec = format!("ladspa:{}:{}", path.display(), plugin.label);
        faults += run_checks(&spec, |rate| {
            let again = auscult::host::ladspa::find(&format!("{}:{}", path.display(), plugin.label)).map_err(anyhow::Error::msg)?;
            let instance = LadspaInstance::new(again, f64::from(rate)).map_err(anyhow::Error::msg)?;
            Ok(PluginInstance::from_ladspa(instance))
        })?;
    }
    Ok(if faults == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Runs one plugin on each test signal at 4 kHz and 44.1 kHz, a fresh
/// instance each, and prints a row per run; returns the faults.
fn run_checks(name: &str, mut create: impl FnMut(u32) -> anyhow::Result<PluginInstance>) -> anyhow::Result<usize> {
    outln!("{:<9} {:<9} {:>8} {:>10} {:>7}  FAULT", "RATE", "SIGNAL", "LATENCY", "RT FACTOR", "EVENTS");
    let mut faults = 0;
    for rate in [4000u32, 44100] {
        for signal in ["silence", "noise", "impulse"] {
            let input = test_signal(signal, rate);
            let instance = create(rate)?;
            let mut chain = Chain::new(f64::from(rate), CHECK_BLOCK);
            chain.push(name.to_string(), instance, false);
            let mut output = vec![0.0; input.len()];
            let mut events: Vec<ChainEvent> = Vec::with_capacity(1 << 16);
            let started = Instant::now();
            chain.process(&input, &mut output, &mut events);
            // The end of the stream, where a plugin reports what it held back.
            let latency = chain.slots()[0].latency();
            chain.flush(&mut events);
            let rtf = started.elapsed().as_secs_f64() / CHECK_SECONDS;
            let slot = &chain.slots()[0];
            let fault = slot.fault().map(|f| f.to_string());
            faults += usize::from(fault.is_some());
            outln!("{:<9} {:<9} {:>8} {:>10.5} {:>7}  {}", format!("{rate} Hz"), signal, latency, rtf, events.len(), fault.unwrap_or_else(|| "none".into()));
        }
    }
    Ok(faults)
}

/// Silence, white noise (uniform, seeded) or a unit impulse at t = 0.
fn test_signal(kind: &str, rate: u32) -> Vec<f32> {
    let n = (CHECK_SECONDS * f64::from(rate)) as usize;
    match kind {
        "noise" => {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5eed);
            (0..n).map(|_| rng.random_range(-0.5f32..0.5)).collect()
        }
        "impulse" => {
            let mut v = vec![0.0; n];
            v[0] = 1.0;
            v
        }
        _ => vec![0.0; n],
    }
}
