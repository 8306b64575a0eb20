//! LADSPA 1.1 plugins in the chain, beside native ones.
//!
//! Libraries are found on `LADSPA_PATH` (default
//! `/usr/lib/ladspa:/usr/local/lib/ladspa`), checked for permissions like
//! native plugins, opened with libloading, and listed through their
//! `ladspa_descriptor(index)` entry point. A chain names one as
//! `plugin = "ladspa:LABEL"`; its control input ports become parameters (set
//! by port name), with ranges and defaults from the port hints as the
//! LADSPA 1.1 header specifies. Only plugins with one audio input and one
//! audio output can be used so far; others are refused with the reason.
//!
//! Containment is the chain's: NaN or infinite output bypasses the slot. A
//! LADSPA plugin cannot report errors, and a crash in C code cannot be
//! caught; that is the format's limit.

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use auscult_plugin_api::abi::{AbiVersion, ParamScale};

use super::abi::{ParamInfo, PluginInfo};
use super::library::{check_permissions, LoadError};

pub const PREFIX: &str = "ladspa:";

// Port descriptors and range hints, from ladspa.h.
const PORT_INPUT: c_int = 0x1;
const PORT_OUTPUT: c_int = 0x2;
const PORT_CONTROL: c_int = 0x4;
const PORT_AUDIO: c_int = 0x8;
const HINT_BOUNDED_BELOW: c_int = 0x1;
const HINT_BOUNDED_ABOVE: c_int = 0x2;
const HINT_TOGGLED: c_int = 0x4;
const HINT_SAMPLE_RATE: c_int = 0x8;
const HINT_LOGARITHMIC: c_int = 0x10;
const HINT_INTEGER: c_int = 0x20;
const HINT_DEFAULT_MASK: c_int = 0x3C0;
const HINT_DEFAULT_MINIMUM: c_int = 0x40;
const HINT_DEFAULT_LOW: c_int = 0x80;
const HINT_DEFAULT_MIDDLE: c_int = 0xC0;
const HINT_DEFAULT_HIGH: c_int = 0x100;
const HINT_DEFAULT_MAXIMUM: c_int = 0x140;
const HINT_DEFAULT_0: c_int = 0x200;
const HINT_DEFAULT_1: c_int = 0x240;
const HINT_DEFAULT_100: c_int = 0x280;
const HINT_DEFAULT_440: c_int = 0x2C0;

type Handle = *mut c_void;

#[repr(C)]
struct PortRangeHint {
    hint_descriptor: c_int,
    lower_bound: f32,
    upper_bound: f32,
}

/// `LADSPA_Descriptor`, field for field.
#[repr(C)]
struct Descriptor {
    unique_id: c_ulong,
    label: *const c_char,
    properties: c_int,
    name: *const c_char,
    maker: *const c_char,
    copyright: *const c_char,
    port_count: c_ulong,
    port_descriptors: *const c_int,
    port_names: *const *const c_char,
    port_range_hints: *const PortRangeHint,
    implementation_data: *mut c_void,
    instantiate: Option<unsafe extern "C" fn(*const Descriptor, c_ulong) -> Handle>,
    connect_port: Option<unsafe extern "C" fn(Handle, c_ulong, *mut f32)>,
    activate: Option<unsafe extern "C" fn(Handle)>,
    run: Option<unsafe extern "C" fn(Handle, c_ulong)>,
    run_adding: Option<unsafe extern "C" fn(Handle, c_ulong)>,
    set_run_adding_gain: Option<unsafe extern "C" fn(Handle, f32)>,
    deactivate: Option<unsafe extern "C" fn(Handle)>,
    cleanup: Option<unsafe extern "C" fn(Handle)>,
}

type DescriptorFn = unsafe extern "C" fn(c_ulong) -> *const Descriptor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    AudioIn,
    AudioOut,
    ControlIn,
    ControlOut,
}

/// A port as the plugin declares it; bounds already scaled by the rate
/// where the hint says so (see [`LadspaPlugin::params_at`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub index: usize,
    pub name: String,
    pub kind: PortKind,
    hint: c_int,
    lower: f32,
    upper: f32,
}

impl Port {
    /// `[lo, hi]` at `rate`, `None` for an unbounded side.
    pub fn bounds(&self, rate: f64) -> (Option<f64>, Option<f64>) {
        let scale = if self.hint & HINT_SAMPLE_RATE != 0 { rate } else { 1.0 };
        let lo = (self.hint & HINT_BOUNDED_BELOW != 0).then(|| f64::from(self.lower) * scale);
        let hi = (self.hint & HINT_BOUNDED_ABOVE != 0).then(|| f64::from(self.upper) * scale);
        (lo, hi)
    }

    /// Whether the bounds are in units of the sample rate.
    pub fn rate_relative(&self) -> bool {
        self.hint & HINT_SAMPLE_RATE != 0
    }

    /// `[20, 20000], default 440, log`, with "unbounded" for a side the
    /// plugin leaves open, and the rate for a rate-relative range.
    pub fn range_text(&self, rate: f64) -> String {
        let (lo, hi) = self.bounds(rate);
        let side = |b: Option<f64>| b.map_or_else(|| "unbounded".to_string(), short);
        let scale = match self.scale() {
            ParamScale::Linear => "linear",
            ParamScale::Log => "log",
            ParamScale::Integer => "integer",
            ParamScale::Toggle => "toggle",
        };
        let at = if self.rate_relative() { format!(" (rate-relative: at {rate} Hz)") } else { String::new() };
        format!("[{}, {}], default {}, {scale}{at}", side(lo), side(hi), short(self.default_value(rate)))
    }

    /// The default the LADSPA 1.1 header specifies for the hint, at `rate`.
    pub fn default_value(&self, rate: f64) -> f64 {
        let (lo, hi) = self.bounds(rate);
        let log = self.hint & HINT_LOGARITHMIC != 0;
        let between = |w_lo: f64| -> Option<f64> {
            let (lo, hi) = (lo?, hi?);
            Some(if log && lo > 0.0 && hi > 0.0 { (lo.ln() * w_lo + hi.ln() * (1.0 - w_lo)).exp() } else { lo * w_lo + hi * (1.0 - w_lo) })
        };
        let value = match self.hint & HINT_DEFAULT_MASK {
            HINT_DEFAULT_MINIMUM => lo,
            HINT_DEFAULT_LOW => between(0.75),
            HINT_DEFAULT_MIDDLE => between(0.5),
            HINT_DEFAULT_HIGH => between(0.25),
            HINT_DEFAULT_MAXIMUM => hi,
            HINT_DEFAULT_0 => Some(0.0),
            HINT_DEFAULT_1 => Some(1.0),
            HINT_DEFAULT_100 => Some(100.0),
            HINT_DEFAULT_440 => Some(440.0),
            _ => None,
        };
        // No default hint: the lower bound, or 0, kept in range.
        let value = value.unwrap_or_else(|| lo.unwrap_or(0.0).max(0.0).min(hi.unwrap_or(f64::MAX)));
        if self.hint & HINT_INTEGER != 0 {
            value.round()
        } else {
            value
        }
    }

    fn scale(&self) -> ParamScale {
        if self.hint & HINT_TOGGLED != 0 {
            ParamScale::Toggle
        } else if self.hint & HINT_INTEGER != 0 {
            ParamScale::Integer
        } else if self.hint & HINT_LOGARITHMIC != 0 {
            ParamScale::Log
        } else {
            ParamScale::Linear
        }
    }
}

/// One plugin in a library.
#[derive(Debug)]
pub struct LadspaPlugin {
    pub library: Arc<LadspaLibrary>,
    index: usize,
    pub label: String,
    pub name: String,
    pub unique_id: u64,
    pub maker: String,
    pub ports: Vec<Port>,
}

impl LadspaPlugin {
    /// One audio input and one audio output: usable in the mono chain.
    /// The control output that reports latency, by the LADSPA convention
    /// (a port named "latency", any case).
    pub fn latency_port(&self) -> Option<usize> {
        self.ports.iter().find(|p| p.kind == PortKind::ControlOut && p.name.trim().eq_ignore_ascii_case("latency")).map(|p| p.index)
    }

    pub fn mono_problem(&self) -> Option<String> {
        let count = |k: PortKind| self.ports.iter().filter(|p| p.kind == k).count();
        let (ins, outs) = (count(PortKind::AudioIn), count(PortKind::AudioOut));
        (ins != 1 || outs != 1).then(|| {
            format!("LADSPA plugin \"{}\" has {ins} audio inputs and {outs} audio outputs; only mono (1 in, 1 out) plugins can be used so far", self.label)
        })
    }

    /// Its parameters (control inputs) at `rate`, as a native plugin's.
    pub fn info_at(&self, rate: f64) -> PluginInfo {
        let params = self
            .ports
            .iter()
            .filter(|p| p.kind == PortKind::ControlIn)
            .map(|p| {
                let (lo, hi) = p.bounds(rate);
                let default = p.default_value(rate);
                ParamInfo {
                    id: p.index as u32,
                    name: p.name.clone(),
                    unit: String::new(),
                    min: lo.unwrap_or(f64::from(f32::MIN)).min(default),
                    max: hi.unwrap_or(f64::from(f32::MAX)).max(default),
                    default,
                    scale: p.scale(),
                }
            })
            .collect();
        PluginInfo {
            id: format!("{PREFIX}{}", self.label),
            name: self.name.clone(),
            version: format!("LADSPA id {}", self.unique_id),
            description: format!("{} (LADSPA, {})", self.name, self.maker),
            abi_version: AbiVersion { major: 0, minor: 0, patch: 0 },
            params,
        }
    }

    fn descriptor(&self) -> *const Descriptor {
        // SAFETY: the index was valid when the library was listed, and the
        // library stays loaded while `self.library` lives.
        unsafe { (self.library.entry)(self.index as c_ulong) }
    }
}

/// A loaded LADSPA library.
pub struct LadspaLibrary {
    pub path: PathBuf,
    entry: DescriptorFn,
    _lib: libloading::Library,
}

impl std::fmt::Debug for LadspaLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LadspaLibrary").field("path", &self.path).finish()
    }
}

fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: LADSPA strings are NUL-terminated and live with the library.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

impl LadspaLibrary {
    /// Opens a library and lists its plugins.
    pub fn load(path: &Path) -> Result<Vec<LadspaPlugin>, LoadError> {
        check_permissions(path)?;
        // SAFETY: loading runs the library's initialisers; the path passed
        // the permission checks above, as native plugins do.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| LoadError::NotALibrary { path: path.into(), reason: e.to_string() })?;
        // SAFETY: the LADSPA entry point has this signature.
        let entry: DescriptorFn = unsafe { lib.get::<DescriptorFn>(b"ladspa_descriptor\0") }
            .map(|s| *s)
            .map_err(|_| LoadError::NotALibrary { path: path.into(), reason: "no ladspa_descriptor symbol: not a LADSPA library".into() })?;
        let library = Arc::new(LadspaLibrary { path: path.into(), entry, _lib: lib });
        let mut plugins = Vec::new();
        for index in 0..4096usize {
            // SAFETY: LADSPA returns NULL past the last plugin.
            let d = unsafe { entry(index as c_ulong) };
            if d.is_null() {
                break;
            }
            // SAFETY: non-null descriptors stay valid while the library is loaded.
            let d = unsafe { &*d };
            let mut ports = Vec::with_capacity(d.port_count as usize);
            for i in 0..d.port_count as usize {
                // SAFETY: the arrays have `port_count` entries.
                let (desc, name, hint) = unsafe { (*d.port_descriptors.add(i), *d.port_names.add(i), &*d.port_range_hints.add(i)) };
                let kind = match (desc & PORT_INPUT != 0, desc & PORT_OUTPUT != 0, desc & PORT_AUDIO != 0, desc & PORT_CONTROL != 0) {
                    (true, _, true, _) => PortKind::AudioIn,
                    (_, true, true, _) => PortKind::AudioOut,
                    (true, _, _, true) => PortKind::ControlIn,
                    _ => PortKind::ControlOut,
                };
                ports.push(Port { index: i, name: cstr(name), kind, hint: hint.hint_descriptor, lower: hint.lower_bound, upper: hint.upper_bound });
            }
            plugins.push(LadspaPlugin {
                library: library.clone(),
                index,
                label: cstr(d.label),
                name: cstr(d.name),
                unique_id: d.unique_id as u64,
                maker: cstr(d.maker),
                ports,
            });
        }
        Ok(plugins)
    }
}

/// Whether `path` is a LADSPA library (has `ladspa_descriptor`), without
/// running anything in it beyond its loader.
pub fn is_ladspa_library(path: &Path) -> bool {
    if check_permissions(path).is_err() {
        return false;
    }
    // SAFETY: as in `LadspaLibrary::load`: the file passed the permission
    // checks native plugins pass; loading runs its initialisers.
    let Ok(lib) = (unsafe { libloading::Library::new(path) }) else { return false };
    // SAFETY: only the symbol's presence is looked at.
    unsafe { lib.get::<DescriptorFn>(b"ladspa_descriptor\0") }.is_ok()
}

/// `LADSPA_PATH`, or its conventional default.
pub fn search_dirs() -> Vec<PathBuf> {
    match std::env::var_os("LADSPA_PATH") {
        Some(path) if !path.is_empty() => std::env::split_paths(&path).collect(),
        _ => vec![PathBuf::from("/usr/lib/ladspa"), PathBuf::from("/usr/local/lib/ladspa")],
    }
}

/// Every LADSPA plugin on the search path, with the libraries that failed.
pub fn discover() -> (Vec<LadspaPlugin>, Vec<(PathBuf, String)>) {
    let (mut found, mut failed) = (Vec::new(), Vec::new());
    for dir in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "so")).collect();
        files.sort();
        for file in files {
            match LadspaLibrary::load(&file) {
                Ok(plugins) => found.extend(plugins),
                Err(e) => failed.push((file, e.to_string())),
            }
        }
    }
    (found, failed)
}

/// Finds a plugin by label (`bandpass_iir`) or `FILE.so:label`.
pub fn find(spec: &str) -> Result<LadspaPlugin, String> {
    if let Some((file, label)) = spec.rsplit_once(':').filter(|(f, _)| f.ends_with(".so")) {
        let plugins = LadspaLibrary::load(Path::new(file)).map_err(|e| e.to_string())?;
        return plugins.into_iter().find(|p| p.label == label).ok_or_else(|| format!("{file} has no LADSPA plugin labelled \"{label}\""));
    }
    // Every library that has the label: two (ladspa-sdk and cmt both have
    // `lpf`) are ambiguous, and file order must not pick one silently.
    let mut found: Vec<LadspaPlugin> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for dir in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "so")).collect();
        files.sort();
        for file in files {
            let real = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen.contains(&real) {
                continue;
            }
            seen.push(real);
            if let Ok(plugins) = LadspaLibrary::load(&file) {
                found.extend(plugins.into_iter().filter(|p| p.label == spec));
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => {
            let dirs: Vec<String> = search_dirs().iter().map(|d| d.display().to_string()).collect();
            Err(format!("no LADSPA plugin labelled \"{spec}\" on LADSPA_PATH ({})", dirs.join(":")))
        }
        _ => {
            let choices: Vec<String> = found.iter().map(|p| format!("\"ladspa:{}:{spec}\"", p.library.path.display())).collect();
            Err(format!("LADSPA label \"{spec}\" is in {} libraries; name one: {}", found.len(), choices.join(" or ")))
        }
    }
}

/// A running LADSPA plugin. Control values live in a boxed slice whose
/// address the plugin keeps; audio ports are connected on every block.
pub struct LadspaInstance {
    plugin: LadspaPlugin,
    handle: Handle,
    controls: Box<[f32]>,
    descriptor: *const Descriptor,
    audio_in: usize,
    audio_out: usize,
    sample_rate: f64,
    pub info: PluginInfo,
    active: bool,
    /// The "latency" control output, if the plugin has one.
    latency_port: Option<usize>,
}

// SAFETY: one instance is used by one thread at a time (`&mut self`).
unsafe impl Send for LadspaInstance {}

impl LadspaInstance {
    pub fn new(plugin: LadspaPlugin, sample_rate: f64) -> Result<Self, String> {
        if let Some(problem) = plugin.mono_problem() {
            return Err(problem);
        }
        let descriptor = plugin.descriptor();
        if descriptor.is_null() {
            return Err(format!("LADSPA plugin \"{}\" disappeared from its library", plugin.label));
        }
        // SAFETY: checked non-null; valid while the library is loaded.
        let d = unsafe { &*descriptor };
        let (Some(instantiate), Some(connect), Some(_run)) = (d.instantiate, d.connect_port, d.run) else {
            return Err(format!("LADSPA plugin \"{}\" lacks instantiate, connect_port or run", plugin.label));
        };
        // SAFETY: the descriptor is the plugin's own; the rate is positive.
        let handle = unsafe { instantiate(descriptor, sample_rate.round() as c_ulong) };
        if handle.is_null() {
            return Err(format!("LADSPA plugin \"{}\" failed to instantiate at {sample_rate} Hz", plugin.label));
        }
        let info = plugin.info_at(sample_rate);
        let mut controls = vec![0.0f32; plugin.ports.len()].into_boxed_slice();
        let (mut audio_in, mut audio_out) = (0, 0);
        for port in &plugin.ports {
            match port.kind {
                PortKind::ControlIn => controls[port.index] = port.default_value(sample_rate) as f32,
                PortKind::AudioIn => audio_in = port.index,
                PortKind::AudioOut => audio_out = port.index,
                PortKind::ControlOut => {}
            }
        }
        for port in &plugin.ports {
            if matches!(port.kind, PortKind::ControlIn | PortKind::ControlOut) {
                // SAFETY: `controls` is boxed: its address is stable for the
                // instance's life; one slot per port.
                unsafe { connect(handle, port.index as c_ulong, controls.as_mut_ptr().add(port.index)) };
            }
        }
        // Activated on the first block, once the chain has set the initial
        // control values: plugins may compute coefficients in activate(),
        // and real hosts (applyplugin) activate after setting controls.
        let latency_port = plugin.latency_port();
        Ok(LadspaInstance { plugin, handle, controls, descriptor, audio_in, audio_out, sample_rate, info, active: false, latency_port })
    }

    /// The latency the plugin reports on its "latency" control output, in
    /// samples (0 without one, or before its first block sets it).
    pub fn latency(&self) -> u32 {
        let Some(port) = self.latency_port else { return 0 };
        let value = self.controls[port];
        if value.is_finite() && value > 0.0 {
            value.round().min(u32::MAX as f32) as u32
        } else {
            0
        }
    }

    /// Runs one block (`input.len() == output.len()`).
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        // SAFETY: valid descriptor; ports connected to live buffers of
        // `frames` samples for the duration of `run`. LADSPA inputs are
        // read-only by contract, so casting the input pointer is sound.
        unsafe {
            let d = &*self.descriptor;
            if !self.active {
                if let Some(activate) = d.activate {
                    activate(self.handle);
                }
                self.active = true;
            }
            if let (Some(connect), Some(run)) = (d.connect_port, d.run) {
                connect(self.handle, self.audio_in as c_ulong, input.as_ptr() as *mut f32);
                connect(self.handle, self.audio_out as c_ulong, output.as_mut_ptr());
                run(self.handle, input.len().min(output.len()) as c_ulong);
            }
        }
    }

    pub fn set_param(&mut self, id: u32, value: f64) -> Result<(), String> {
        let port = self.plugin.ports.iter().find(|p| p.index == id as usize && p.kind == PortKind::ControlIn).ok_or("unknown parameter")?;
        let (lo, hi) = port.bounds(self.sample_rate);
        if lo.is_some_and(|lo| value < lo - 1e-9) || hi.is_some_and(|hi| value > hi + 1e-9) {
            return Err(format!("{} = {value} is outside its range", port.name));
        }
        self.controls[id as usize] = value as f32;
        Ok(())
    }

    pub fn get_param(&self, id: u32) -> Option<f64> {
        self.plugin.ports.iter().any(|p| p.index == id as usize && p.kind == PortKind::ControlIn).then(|| f64::from(self.controls[id as usize]))
    }

    /// LADSPA has no reset: deactivate now, activate again before the
    /// next block, as hosts do.
    pub fn reset(&mut self) {
        if self.active {
            // SAFETY: valid, active handle; deactivate is optional.
            unsafe {
                if let Some(deactivate) = (*self.descriptor).deactivate {
                    deactivate(self.handle);
                }
            }
            self.active = false;
        }
    }

    pub fn path(&self) -> &Path {
        &self.plugin.library.path
    }
}

impl Drop for LadspaInstance {
    fn drop(&mut self) {
        // SAFETY: the handle is ours; the library outlives it (held in `plugin`).
        unsafe {
            let d = &*self.descriptor;
            if self.active {
                if let Some(deactivate) = d.deactivate {
                    deactivate(self.handle);
                }
            }
            if let Some(cleanup) = d.cleanup {
                cleanup(self.handle);
            }
        }
    }
}

/// A value to five significant figures: a range computed from a rate-relative
/// hint in `f32` reads 0.0441, not 0.0440999998886582.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (4 - v.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
// Tests poke at foreign memory on purpose; the production code says why each unsafe block is sound.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;

    fn port(hint: c_int, lower: f32, upper: f32) -> Port {
        Port { index: 0, name: "p".into(), kind: PortKind::ControlIn, hint, lower, upper }
    }

    #[test]
    fn defaults_follow_the_ladspa_1_1_header() {
        let b = HINT_BOUNDED_BELOW | HINT_BOUNDED_ABOVE;
        assert_eq!(port(b | HINT_DEFAULT_MINIMUM, 1.0, 9.0).default_value(1.0), 1.0);
        assert_eq!(port(b | HINT_DEFAULT_LOW, 1.0, 9.0).default_value(1.0), 3.0);
        assert_eq!(port(b | HINT_DEFAULT_MIDDLE, 1.0, 9.0).default_value(1.0), 5.0);
        assert_eq!(port(b | HINT_DEFAULT_HIGH, 1.0, 9.0).default_value(1.0), 7.0);
        let log_mid = port(b | HINT_LOGARITHMIC | HINT_DEFAULT_MIDDLE, 1.0, 100.0).default_value(1.0);
        assert!((log_mid - 10.0).abs() < 1e-9);
        // Bounds in units of the sample rate.
        let sr = port(b | HINT_SAMPLE_RATE | HINT_DEFAULT_MAXIMUM, 0.0, 0.5).default_value(8000.0);
        assert_eq!(sr, 4000.0);
        assert_eq!(port(HINT_DEFAULT_440, 0.0, 0.0).default_value(1.0), 440.0);
        assert_eq!(port(b | HINT_INTEGER | HINT_DEFAULT_MIDDLE, 1.0, 10.0).default_value(1.0), 6.0);
    }
}
