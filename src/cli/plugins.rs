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
        println!("No plugins found. Searched:");
        for d in &search.dirs {
            println!("  {}", d.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<14} {:<8} {:<34} PATH", "NAME", "VERSION", "ID");
    for (name, path) in candidates {
        match PluginLibrary::load(&path) {
            Ok(lib) => {
                let info = lib.info();
                println!("{:<14} {:<8} {:<34} {}", name, info.version, info.id, path.display());
                if !info.description.is_empty() {
                    println!("    {}", info.description);
                }
                // One column per plugin, as wide as its longest name.
                let width = info.params.iter().map(|p| p.name.chars().count()).max().unwrap_or(0).max(12);
                for p in &info.params {
                    println!("    {:<width$} {}", p.name, p.range_text());
                }
            }
            Err(e) => println!("{:<14} {:<8} {:<34} {}\n    refused: {e}", name, "-", "-", path.display()),
        }
    }
    list_ladspa();
    Ok(ExitCode::SUCCESS)
}

/// LADSPA plugins on `LADSPA_PATH`: label, name, and each port with its
/// range and default at 44.1 kHz (rate-relative ranges say so).
fn list_ladspa() {
    let (plugins, failed) = auscult::host::ladspa::discover();
    if plugins.is_empty() && failed.is_empty() {
        return;
    }
    let dirs: Vec<String> = auscult::host::ladspa::search_dirs().iter().map(|d| d.display().to_string()).collect();
    println!("\nLADSPA plugins (LADSPA_PATH {}); use as plugin = \"ladspa:LABEL\":", dirs.join(":"));
    for p in &plugins {
        let usable = p.mono_problem().map_or(String::new(), |_| "  (not mono: cannot be used yet)".into());
        println!("{:<22} {}  [{}]{usable}", p.label, p.name, p.library.path.display());
        let info = p.info_at(44_100.0);
        for port in &p.ports {
            match port.kind {
                auscult::host::ladspa::PortKind::ControlIn => {
                    let param = info.params.iter().find(|q| q.id as usize == port.index);
                    println!("    control in  {:<28} {}", port.name, param.map_or(String::new(), |q| q.range_text()));
                }
                kind => println!("    {:<11} {}", format!("{kind:?}").to_lowercase().replace("audio", "audio ").replace("control", "control "), port.name),
            }
        }
    }
    for (path, why) in failed {
        println!("{}\n    refused: {why}", path.display());
    }
}

/// Seconds of each test signal.
const CHECK_SECONDS: f64 = 5.0;
const CHECK_BLOCK: usize = 256;

pub fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let library = PluginLibrary::load(path)?;
    let info = library.info();
    println!("{} {} ({}), ABI {}", info.name, info.version, info.id, info.abi_version);
    println!("{:<9} {:<9} {:>8} {:>10} {:>7}  FAULT", "RATE", "SIGNAL", "LATENCY", "RT FACTOR", "EVENTS");
    let mut faults = 0;
    for rate in [4000u32, 44100] {
        for signal in ["silence", "noise", "impulse"] {
            let input = test_signal(signal, rate);
            let instance = PluginInstance::new(library.clone(), f64::from(rate), CHECK_BLOCK)
                .with_context(|| format!("creating an instance at {rate} Hz"))?;
            let mut chain = Chain::new(f64::from(rate), CHECK_BLOCK);
            chain.push(info.id.clone(), instance, false);
            let mut output = vec![0.0; input.len()];
            let mut events: Vec<ChainEvent> = Vec::with_capacity(1 << 16);
            let started = Instant::now();
            chain.process(&input, &mut output, &mut events);
            let rtf = started.elapsed().as_secs_f64() / CHECK_SECONDS;
            let slot = &chain.slots()[0];
            let fault = slot.fault().map(|f| f.to_string());
            faults += usize::from(fault.is_some());
            println!(
                "{:<9} {:<9} {:>8} {:>10.5} {:>7}  {}",
                format!("{rate} Hz"),
                signal,
                slot.latency(),
                rtf,
                events.len(),
                fault.unwrap_or_else(|| "none".into())
            );
        }
    }
    Ok(if faults == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
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
