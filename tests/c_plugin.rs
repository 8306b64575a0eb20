//! A plugin written in C against the generated header
//! (`plugins/api/include/auscult_plugin.h`), built here with the system C
//! compiler (`$CC`, else `cc`), loaded, run and checked like the Rust ones.

mod common;

use std::path::Path;
use std::process::Command;

use auscult::host::{Chain, ChainEvent, PluginInstance, PluginLibrary};

/// Builds `plugins/testing/c-gain/gain.c` into `dir/libc_gain.so`.
fn build_c_gain(dir: &Path) -> std::path::PathBuf {
    let root = common::workspace_root();
    let out = dir.join("libc_gain.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I"])
        .arg(root.join("plugins/api/include"))
        .arg(root.join("plugins/testing/c-gain/gain.c"))
        .arg("-o")
        .arg(&out)
        .arg("-lm")
        .status()
        .unwrap_or_else(|e| panic!("running the C compiler {cc:?}: {e}"));
    assert!(status.success(), "{cc} failed on gain.c");
    out
}

#[test]
fn a_plugin_written_in_c_against_the_header_loads_runs_and_reports_errors() {
    let dir = tempfile::tempdir().unwrap();
    let lib = PluginLibrary::load(&build_c_gain(dir.path())).unwrap();
    let info = lib.info();
    assert_eq!((info.id.as_str(), info.name.as_str()), ("org.auscult.test.c-gain", "Gain (C)"));
    assert_eq!(info.abi_version, auscult_plugin_api::ABI_VERSION);
    let p = info.param("gain_db").unwrap().clone();
    assert_eq!((p.min, p.max, p.default, p.unit.as_str()), (-60.0, 40.0, 0.0, "dB"));

    let mut inst = PluginInstance::new(lib.clone(), 4000.0, 256).unwrap();
    inst.set_param(p.id, -6.0).unwrap();
    assert_eq!(inst.get_param(p.id).unwrap(), -6.0);
    // The C code's own message comes back through the host's buffer.
    let err = inst.set_param(7, 0.0).unwrap_err();
    assert!(err.message.contains("unknown parameter"), "{err}");

    let mut chain = Chain::new(4000.0, 256);
    chain.push("c_gain", inst, false);
    let input = common::sine(100.0, 0.5, 4000.0, 1000);
    let mut out = vec![0.0; input.len()];
    let mut events: Vec<ChainEvent> = Vec::with_capacity(16);
    chain.process(&input, &mut out, &mut events);
    assert!(chain.slots()[0].fault().is_none());
    let factor = 10f32.powf(-6.0 / 20.0);
    for (o, i) in out.iter().zip(&input) {
        assert!((o - i * factor).abs() < 1e-6, "{o} against {}", i * factor);
    }
}
