//! The plugin host against real plugin libraries built by cargo.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use auscult::host::{Chain, ChainConfig, ChainEvent, FaultKind, LoadError, PluginInstance, PluginLibrary, SearchPath};
use auscult_plugin_api::EventKind;
use common::{plugin, plugin_dir, sine};

fn chain_of(names: &[(&str, &[(&str, f64)])], rate: f64, block: usize) -> Chain {
    let mut chain = Chain::new(rate, block);
    for (name, params) in names {
        let lib = PluginLibrary::load(&plugin(name)).unwrap();
        let mut inst = PluginInstance::new(lib.clone(), rate, block).unwrap();
        for (pname, value) in *params {
            let id = lib.info().param(pname).unwrap().id;
            inst.set_param(id, *value).unwrap();
        }
        chain.push(*name, inst, false);
    }
    chain
}

#[test]
fn loads_real_plugins_and_reads_their_descriptors() {
    let lib = PluginLibrary::load(&plugin("gain")).unwrap();
    let info = lib.info();
    assert_eq!(info.id, "org.auscult.gain");
    assert_eq!(info.abi_version, auscult_plugin_api::ABI_VERSION);
    let p = info.param("gain_db").unwrap().clone();
    assert_eq!((p.min, p.max, p.default, p.unit.as_str()), (-60.0, 40.0, 0.0, "dB"));

    let mut inst = PluginInstance::new(lib.clone(), 4000.0, 64).unwrap();
    inst.set_param(p.id, -20.0).unwrap();
    assert_eq!(inst.get_param(p.id).unwrap(), -20.0);
    // The shim checks ranges before the plugin sees a value.
    let err = inst.set_param(p.id, 100.0).unwrap_err();
    assert!(err.message.contains("outside [-60, 40]"), "{err}");
    let err = inst.set_param(99, 0.0).unwrap_err();
    assert!(err.message.contains("unknown parameter"), "{err}");
}

#[test]
fn chain_runs_gain_and_passthrough() {
    let mut chain = chain_of(&[("gain", &[("gain_db", -20.0)]), ("passthrough", &[])], 4000.0, 256);
    let input = sine(440.0, 0.5, 4000.0, 1000);
    let mut out = vec![0.0; input.len()];
    chain.process(&input, &mut out, &mut Vec::new());
    for (o, i) in out.iter().zip(&input) {
        assert!((o - i * 0.1).abs() < 1e-6);
    }
    assert_eq!(chain.position(), 1000);
    assert_eq!(chain.slots()[0].stats().blocks, 4); // 256+256+256+232
    assert_eq!(chain.slots()[0].stats().frames, 1000);
}

#[test]
fn other_abi_version_is_refused_before_any_call() {
    // Every function of this plugin aborts the process: if the host called
    // one, this test binary would die instead of reaching the assertion.
    let err = PluginLibrary::load(&plugin("old_abi")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadError::Descriptor { .. }), "{text}");
    assert!(text.contains("plugin ABI 2.0.0 is not compatible with this host's ABI 1.0.0") && text.contains("libold_abi.so"), "{text}");
}

/// ABI 1.0 plugins (every shipped one: `loads_real_plugins...`) and one
/// built against a hypothetical 1.1 (a field added at the end of the
/// descriptor and of each parameter descriptor) both load in this 1.0 host,
/// which reads the fields it knows at the plugin's own sizes.
#[test]
fn a_plugin_of_a_newer_minor_version_loads_and_runs() {
    let lib = PluginLibrary::load(&plugin("newer_minor")).unwrap();
    let info = lib.info();
    assert_eq!((info.abi_version.major, info.abi_version.minor), (1, 1));
    let params: Vec<(u32, &str, f64, f64, f64)> = info.params.iter().map(|p| (p.id, p.name.as_str(), p.min, p.max, p.default)).collect();
    // Read at a 56-byte stride: at 48 the second would be garbage.
    assert_eq!(params, [(0, "gain", 0.0, 4.0, 1.0), (5, "offset", -1.0, 1.0, 0.0)]);
    let mut chain = chain_of(&[("newer_minor", &[("gain", 2.0), ("offset", 0.5)])], 4000.0, 64);
    let input = sine(100.0, 0.25, 4000.0, 200);
    let mut out = vec![0.0; input.len()];
    let mut events: Vec<ChainEvent> = Vec::with_capacity(64);
    chain.process(&input, &mut out, &mut events);
    assert!(chain.slots()[0].fault().is_none());
    for (o, i) in out.iter().zip(&input) {
        assert!((o - (2.0 * i + 0.5)).abs() < 1e-6);
    }
}

#[test]
fn panicking_plugin_is_bypassed_and_flagged_while_audio_flows() {
    // mode 1 = panic, on the 3rd block; gain after it still runs.
    let mut chain = chain_of(&[("faulty", &[("mode", 1.0), ("every_n", 3.0)]), ("gain", &[("gain_db", 0.0)])], 4000.0, 100);
    let input = sine(100.0, 0.5, 4000.0, 1000);
    let mut out = vec![0.0; input.len()];
    let mut events: Vec<ChainEvent> = Vec::with_capacity(64);
    chain.process(&input, &mut out, &mut events);
    assert_eq!(out, input, "audio must flow through unchanged");
    let slot = &chain.slots()[0];
    let fault = slot.fault().expect("the panic is flagged");
    assert_eq!(fault.kind, FaultKind::Panicked);
    assert_eq!(fault.at_sample, 200);
    assert!(fault.message().contains("injected panic at block 3"), "{fault}");
    assert!(fault.message().contains("faulty/src/lib.rs"), "location is reported: {fault}");
    assert_eq!(slot.stats().blocks, 3, "not called again after the panic");
    assert_eq!(chain.slots()[1].stats().blocks, 10, "the rest of the chain keeps running");
    // Events from before the fault survive, none from the faulty block on.
    let samples: Vec<u64> = events.iter().map(|e| e.sample).collect();
    assert_eq!(samples, vec![0, 100]);
    assert!(events.iter().all(|e| e.kind == EventKind::CycleStart));

    // Clearing the fault resets the plugin, which runs again.
    chain.clear_fault(0).unwrap();
    chain.process(&input[..100], &mut out[..100], &mut events);
    assert!(chain.slots()[0].fault().is_none());
    assert_eq!(chain.slots()[0].stats().blocks, 4);
}

#[test]
fn a_plugin_with_a_restart_policy_comes_back_with_its_parameters_after_a_back_off() {
    // Panics on its 3rd block after every (re)start; restart 100 samples
    // after a fault, then 200, 400, ... (faults in a row double the wait).
    let mut chain = chain_of(&[("faulty", &[("mode", 1.0), ("every_n", 3.0), ("sleep_ms", 7.0)])], 4000.0, 100);
    chain.set_restart(0, Some(100.0 / 4000.0));
    let input = sine(100.0, 0.5, 4000.0, 4000);
    let mut out = vec![0.0; input.len()];
    let mut faults_at = Vec::new();
    for (i, (inp, o)) in input.chunks(100).zip(out.chunks_mut(100)).enumerate() {
        chain.process(inp, o, &mut Vec::new());
        if let Some(f) = chain.slots()[0].fault() {
            if faults_at.last() != Some(&f.at_sample) {
                faults_at.push(f.at_sample);
            }
        }
        assert!(i < 2 || chain.slots()[0].stats().faults >= 1);
    }
    assert_eq!(out, input, "audio flows through every fault and restart");
    // Fault at block 3 (sample 200); restarted after 100 samples (at 300),
    // faults on its 3rd block (500); after 200 (700) faults at 900; after
    // 400 (1300) faults at 1500; after 800 (2300) faults at 2500.
    assert_eq!(faults_at, [200, 500, 900, 1500, 2500]);
    let slot = &chain.slots()[0];
    assert_eq!((slot.stats().faults, slot.stats().restarts), (5, 4));
    // The fresh instances got the host's parameters back.
    let id = slot.info().param("sleep_ms").unwrap().id;
    assert_eq!(chain.get_param(0, id).unwrap(), 7.0);
}

#[test]
fn nan_and_inf_outputs_are_bypassed() {
    for (mode, name) in [(2.0, "NaN"), (3.0, "Inf")] {
        let mut chain = chain_of(&[("faulty", &[("mode", mode), ("every_n", 2.0)])], 44100.0, 64);
        let input = sine(1000.0, 0.25, 44100.0, 640);
        let mut out = vec![0.0; input.len()];
        chain.process(&input, &mut out, &mut Vec::new());
        assert!(out.iter().all(|x| x.is_finite()), "{name} leaked into the output");
        assert_eq!(out, input);
        let fault = chain.slots()[0].fault().unwrap();
        assert_eq!((fault.kind, fault.at_sample), (FaultKind::NonFinite, 64), "{name}");
    }
}

#[test]
fn error_status_is_bypassed_with_its_message() {
    let mut chain = chain_of(&[("faulty", &[("mode", 4.0)])], 4000.0, 32);
    let input = vec![0.1; 64];
    let mut out = vec![0.0; 64];
    chain.process(&input, &mut out, &mut Vec::new());
    let fault = chain.slots()[0].fault().unwrap();
    assert_eq!(fault.kind, FaultKind::Error);
    assert_eq!(fault.message(), "injected error");
    assert_eq!(out, input);
}

#[test]
fn a_plugin_that_panics_when_the_stream_ends_is_flagged_and_the_rest_of_the_chain_still_ends_it() {
    // Panic mode, but on a block far past the stream's end: only the flush
    // meets it. The gain after it has no end-of-stream extension.
    let mut chain = chain_of(&[("faulty", &[("mode", 1.0), ("every_n", 1000.0)]), ("gain", &[("gain_db", 0.0)])], 4000.0, 100);
    let input = sine(100.0, 0.5, 4000.0, 1000);
    let mut out = vec![0.0; input.len()];
    let mut events: Vec<ChainEvent> = Vec::with_capacity(64);
    chain.process(&input, &mut out, &mut events);
    assert!(chain.slots()[0].fault().is_none());
    let before = events.len();
    chain.flush(&mut events);
    let fault = chain.slots()[0].fault().expect("the panic at the end is flagged");
    assert_eq!(fault.kind, FaultKind::Panicked);
    assert_eq!(fault.at_sample, 1000, "at the end of the stream");
    assert!(fault.message().contains("injected panic at the end of the stream"), "{fault}");
    assert_eq!(events.len(), before, "a faulted flush adds nothing");
    assert!(chain.slots()[1].fault().is_none());
    assert_eq!(chain.position(), 0, "a new stream starts at 0");

    // Error mode: the message is kept, and the next stream runs it again
    // once the fault is cleared.
    let mut chain = chain_of(&[("faulty", &[("mode", 4.0), ("every_n", 1000.0)])], 4000.0, 100);
    chain.process(&input, &mut out, &mut events);
    chain.flush(&mut events);
    let fault = chain.slots()[0].fault().expect("the error at the end is flagged");
    assert_eq!(fault.kind, FaultKind::Error);
    assert!(fault.message().contains("injected error at the end of the stream"), "{fault}");
    chain.clear_fault(0).unwrap();
    let mut again: Vec<ChainEvent> = Vec::with_capacity(64);
    chain.process(&input[..200], &mut out[..200], &mut again);
    assert_eq!(again.iter().map(|e| e.sample).collect::<Vec<_>>(), vec![0, 100], "the new stream's events count from 0");
}

#[test]
fn events_are_placed_on_the_input_timeline() {
    let mut chain = chain_of(&[("faulty", &[])], 4000.0, 50);
    let mut events = Vec::with_capacity(10);
    let input = vec![0.0; 120];
    chain.process(&input, &mut vec![0.0; 120], &mut events);
    let samples: Vec<u64> = events.iter().map(|e| e.sample).collect();
    assert_eq!(samples, vec![0, 50, 100]);
    // A full event vector drops (and counts) rather than allocating.
    let mut small: Vec<ChainEvent> = Vec::with_capacity(1);
    chain.process(&input, &mut vec![0.0; 120], &mut small);
    assert_eq!(small.len(), 1);
    assert_eq!(small.capacity(), 1);
    assert_eq!(chain.dropped_events(), 2);
}

#[test]
fn text_file_renamed_so_gives_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libnotes.so");
    std::fs::write(&fake, "these are my notes, not a plugin\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = PluginLibrary::load(&fake).unwrap_err().to_string();
    assert!(err.contains("libnotes.so: not a loadable library"), "{err}");
}

#[test]
fn library_without_entry_symbol_is_refused() {
    // A real shared library that is not an auscult plugin.
    let libc = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
    let Some(libm) = libc else {
        eprintln!("SKIP: no libm.so.6 found");
        return;
    };
    let err = PluginLibrary::load(libm).unwrap_err();
    assert!(matches!(err, LoadError::MissingEntry { .. }), "{err}");
}

#[test]
fn plugin_in_world_writable_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("libgain.so");
    std::fs::copy(plugin("gain"), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(PluginLibrary::load(&copy).is_ok(), "a private copy loads");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = PluginLibrary::load(&copy).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadError::Insecure { .. }), "{text}");
    assert!(text.contains("world-writable directory") && text.contains("chmod o-w"), "{text}");
    // A group-writable file is refused too.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o775)).unwrap();
    let text = PluginLibrary::load(&copy).unwrap_err().to_string();
    assert!(text.contains("chmod go-w"), "{text}");
}

fn search() -> SearchPath {
    SearchPath { dirs: vec![plugin_dir().to_path_buf()] }
}

#[test]
fn chain_file_builds_with_params_and_bypass() {
    let text = r#"
[[chain]]
plugin = "gain"
params = { gain_db = -6.0 }

[[chain]]
plugin = "org.auscult.test.passthrough"   # by id
bypass = true
"#;
    let cfg = ChainConfig::parse(Path::new("lung.toml"), text.into()).unwrap();
    let mut chain = cfg.build(&search(), 4000.0, 128).unwrap();
    assert_eq!(chain.len(), 2);
    assert!(chain.slots()[1].bypassed());
    assert_eq!(chain.latency(), 0);
    let id = chain.slots()[0].info().param("gain_db").unwrap().id;
    assert_eq!(chain.get_param(0, id).unwrap(), -6.0);
}

#[test]
fn misspelt_parameter_is_reported_with_line_and_column() {
    let text = "[[chain]]\nplugin = \"gain\"\nparams = { gain_bd = 3.0 }\n";
    let cfg = ChainConfig::parse(Path::new("chain.toml"), text.into()).unwrap();
    let err = cfg.build(&search(), 4000.0, 128).unwrap_err().to_string();
    assert!(err.starts_with("chain.toml:3:12: unknown parameter \"gain_bd\""), "{err}");
    assert!(err.contains("gain_db [-60, 40] dB"), "names the allowed parameters: {err}");
}

#[test]
fn bad_values_unknown_plugins_are_reported_with_positions() {
    let cases = [
        ("[[chain]]\nplugin = \"gain\"\nparams = { gain_db = 99 }\n", "chain.toml:3:22:", "out of range; allowed: [-60, 40] dB"),
        ("[[chain]]\nplugin = \"gain\"\nparams = { gain_db = \"loud\" }\n", "chain.toml:3:22:", "must be a number, not string"),
        ("[[chain]]\nplugin = \"gian\"\n", "chain.toml:2:10:", "no plugin named \"gian\""),
        ("[[chain]]\nplugin = \"old_abi\"\n", "chain.toml:2:10:", "not compatible"),
        ("[[chain]]\nplugin = \"gain\"\nrestart_after_s = -1.0\n", "chain.toml:3:19:", "restart_after_s = -1: needs a number of seconds"),
    ];
    for (text, at, what) in cases {
        let cfg = ChainConfig::parse(Path::new("chain.toml"), text.into()).unwrap();
        let err = cfg.build(&search(), 4000.0, 128).unwrap_err().to_string();
        assert!(err.starts_with(at) && err.contains(what), "{err:?} should start {at:?} and contain {what:?}");
    }
    // Whole seconds are accepted as well as fractions.
    let cfg = ChainConfig::parse(Path::new("chain.toml"), "[[chain]]\nplugin = \"gain\"\nrestart_after_s = 2\n".into()).unwrap();
    assert!(cfg.build(&search(), 4000.0, 128).is_ok());
}
