//! The bodies of the fuzz targets (`fuzz/fuzz_targets/`), kept in the library
//! so that `tests/fuzz_corpus.rs` replays the committed corpus through the
//! same code on every `cargo test`, without libFuzzer.
//!
//! Each takes arbitrary bytes, runs one parser of untrusted input, and
//! panics only on a broken promise: a parser that panics, an error that does
//! not name its file, or an accepted value that breaks an invariant the rest
//! of the program relies on.

use std::ffi::{c_char, CString};
use std::path::Path;

use auscult_plugin_api::abi::{ParamDescriptor, PluginDescriptor, ABI_VERSION};
use auscult_plugin_api::AbiVersion;

/// The audio decoder on a WAV (or, by content, FLAC) file's bytes.
pub fn decode(data: &[u8]) {
    let name = Path::new("fuzz.wav");
    match crate::audio::decode::decode_bytes(data.to_vec(), name) {
        Ok(d) => {
            assert!(d.sample_rate > 0, "accepted a zero sample rate");
            assert!(d.channels > 0, "accepted zero channels");
            assert!(d.samples.iter().all(|x| x.is_finite()), "decoded a non-finite sample");
        }
        Err(e) => assert!(e.to_string().contains("fuzz.wav"), "error without the file: {e}"),
    }
}

/// The three TOML formats: chain, theme and model card.
pub fn toml_files(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let chain = Path::new("fuzz-chain.toml");
    if let Err(e) = crate::host::ChainConfig::parse(chain, text.to_string()) {
        assert!(e.to_string().starts_with("fuzz-chain.toml:"), "chain error without file:line: {e}");
    }
    let theme = Path::new("fuzz-theme.toml");
    for depth in [crate::ui::theme::ColorDepth::None, crate::ui::theme::ColorDepth::TrueColor] {
        match crate::ui::theme::Theme::parse(theme, text, depth) {
            Ok(t) => assert!(t.ramp.len() >= 2, "accepted a ramp of {} characters", t.ramp.len()),
            Err(e) => assert!(e.to_string().contains("fuzz-theme.toml"), "theme error without the file: {e}"),
        }
    }
    let card = Path::new("fuzz-card.toml");
    if let Err(e) = crate::model::card::ModelCard::parse(card, text) {
        assert!(e.to_string().contains("fuzz-card.toml"), "card error without the file: {e}");
    }
}

/// The ICBHI annotation parser (datasets and session files).
pub fn annotations(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match crate::audio::session::parse_annotations(text, Path::new("fuzz.txt")) {
        Ok(cycles) => {
            for c in cycles {
                assert!(c.start_s.is_finite() && c.end_s.is_finite() && 0.0 <= c.start_s && c.start_s <= c.end_s);
                assert!(c.crackles <= 1 && c.wheezes <= 1);
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz.txt"), "annotation error without the file: {e}"),
    }
}

/// Reads fuzz bytes as fields, zeros once they run out.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn f64(&mut self) -> f64 {
        f64::from_le_bytes(self.take())
    }
    /// A NUL-terminated string of up to 15 arbitrary non-NUL bytes (not
    /// always UTF-8), or null.
    fn string(&mut self, keep: &mut Vec<CString>) -> *const c_char {
        let len = self.u8();
        if len == 0xff {
            return std::ptr::null();
        }
        let bytes: Vec<u8> = (0..len % 16).map(|_| self.u8()).filter(|&b| b != 0).collect();
        keep.push(CString::new(bytes).unwrap_or_default());
        keep.last().map_or(std::ptr::null(), |s| s.as_ptr())
    }
}

// Validation never calls a plugin's functions; these only make them non-null.
type Instance = auscult_plugin_api::abi::Instance;
type ErrorBuf = auscult_plugin_api::abi::ErrorBuf;
unsafe extern "C" fn create(_: f64, _: u32, _: *mut Instance, _: *mut ErrorBuf) -> i32 {
    1
}
unsafe extern "C" fn destroy(_: Instance) {}
unsafe extern "C" fn process(_: Instance, _: *const f32, _: *mut f32, _: u32, _: *mut auscult_plugin_api::abi::EventBuffer, _: *mut ErrorBuf) -> i32 {
    1
}
unsafe extern "C" fn set_param(_: Instance, _: u32, _: f64, _: *mut ErrorBuf) -> i32 {
    1
}
unsafe extern "C" fn get_param(_: Instance, _: u32, _: *mut f64, _: *mut ErrorBuf) -> i32 {
    1
}
unsafe extern "C" fn reset(_: Instance, _: *mut ErrorBuf) -> i32 {
    1
}
unsafe extern "C" fn latency(_: Instance) -> u32 {
    0
}

/// Descriptor validation, on a descriptor whose every field the fuzzer
/// chooses. Pointers stay valid (the ABI's contract, which no check can
/// verify); everything behind them is arbitrary.
pub fn descriptor(data: &[u8]) {
    let mut f = Fields(data);
    let mut strings = Vec::new();
    let flags = f.u8();
    let version = if flags & 1 == 0 { ABI_VERSION } else { AbiVersion { major: f.u32(), minor: f.u32(), patch: f.u32() } };
    let struct_size = if flags & 2 == 0 { std::mem::size_of::<PluginDescriptor>() as u32 } else { f.u32() };
    let param_struct_size = if flags & 4 == 0 { std::mem::size_of::<ParamDescriptor>() as u32 } else { f.u32() };
    let param_total = usize::from(f.u8() % 8);
    let params: Vec<ParamDescriptor> = (0..param_total)
        .map(|_| ParamDescriptor {
            id: u32::from(f.u8() % 4),
            scale: u32::from(f.u8() % 6),
            name: f.string(&mut strings),
            unit: f.string(&mut strings),
            min: f.f64(),
            max: f.f64(),
            default: f.f64(),
        })
        .collect();
    // A count beyond the array is a lie no host can detect short of
    // crashing; a count beyond MAX_PARAMS must be refused before reading.
    let param_count = if flags & 8 == 0 { param_total as u32 } else { crate::host::abi::MAX_PARAMS + 1 + f.u32() % 1000 };
    let desc = PluginDescriptor {
        abi_version: version,
        struct_size,
        param_struct_size,
        id: f.string(&mut strings),
        name: f.string(&mut strings),
        version: f.string(&mut strings),
        description: f.string(&mut strings),
        param_count,
        params: if params.is_empty() { std::ptr::null() } else { params.as_ptr() },
        create: Some(create),
        destroy: Some(destroy),
        process: Some(process),
        set_param: Some(set_param),
        get_param: Some(get_param),
        reset: if flags & 16 == 0 { Some(reset) } else { None },
        latency: Some(latency),
        get_extension: None,
    };
    // SAFETY: `desc` and everything it points to live until the end of this
    // function; `param_count` is either the array's length or above
    // MAX_PARAMS, which is refused before `params` is read.
    match unsafe { crate::host::abi::read_descriptor(&desc) } {
        Ok(info) => {
            assert!(ABI_VERSION.accepts(&info.abi_version) && !info.id.is_empty());
            for p in &info.params {
                assert!(p.min.is_finite() && p.max.is_finite() && p.min <= p.default && p.default <= p.max);
                assert!(p.accepts(p.default), "{} does not accept its own default", p.name);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
