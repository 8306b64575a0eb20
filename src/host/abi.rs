//! Checks a plugin's descriptor and copies it into owned Rust data.
//!
//! Everything here reads foreign memory: the version header first, and the
//! rest only once the version says the layout is one we know. Within a
//! major version the structs only grow at the end, and each says its size:
//! the host copies the part it knows (the fields an older plugin lacks stay
//! null or zero), ignores what a newer plugin added, and steps through the
//! parameter descriptors at the plugin's own stride (as CLAP does).

use std::ffi::{c_char, CStr};

use auscult_plugin_api::abi::{ParamDescriptor, ParamScale, PluginDescriptor, ABI_VERSION, DESCRIPTOR_SIZE_1_0, PARAM_SIZE_1_0};
use auscult_plugin_api::AbiVersion;

/// The most parameters a plugin may declare; more means a corrupt count.
pub const MAX_PARAMS: u32 = 1024;

/// Why a descriptor was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DescriptorError {
    #[error("the entry point returned a null descriptor")]
    Null,
    #[error("plugin ABI {found} is not compatible with this host's ABI {host} (the same major version, {major}, is needed); rebuild the plugin against auscult-plugin-api {host}", host = ABI_VERSION, major = ABI_VERSION.major)]
    Version { found: AbiVersion },
    #[error("descriptor is {found} bytes, smaller than the {expected} bytes every ABI {major}.x descriptor has", major = ABI_VERSION.major)]
    TooSmall { found: u32, expected: u32 },
    #[error("parameter descriptors are {found} bytes, smaller than the {expected} bytes every ABI {major}.x one has", major = ABI_VERSION.major)]
    ParamSize { found: u32, expected: u32 },
    #[error("required function `PluginDescriptor::{0}` is null")]
    MissingFn(&'static str),
    #[error("field `{field}` is {problem}")]
    BadString { field: &'static str, problem: &'static str },
    #[error("declares {0} parameters (at most {MAX_PARAMS})")]
    TooManyParams(u32),
    #[error("parameter #{index} ({name}): {problem}")]
    BadParam { index: usize, name: String, problem: String },
}

/// A parameter, as described by its plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    pub id: u32,
    pub name: String,
    pub unit: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    pub scale: ParamScale,
}

impl ParamInfo {
    /// `[100, 2000] Hz, default 100, log`.
    pub fn range_text(&self) -> String {
        let unit = if self.unit.is_empty() { String::new() } else { format!(" {}", self.unit) };
        let scale = match self.scale {
            ParamScale::Linear => "linear",
            ParamScale::Log => "log",
            ParamScale::Integer => "integer",
            ParamScale::Toggle => "toggle",
        };
        format!("[{}, {}]{unit}, default {}, {scale}", self.min, self.max, self.default)
    }

    /// Whether `value` is acceptable: finite, in range, and whole where the
    /// scale needs it.
    pub fn accepts(&self, value: f64) -> bool {
        let whole = matches!(self.scale, ParamScale::Integer | ParamScale::Toggle);
        value.is_finite() && value >= self.min && value <= self.max && (!whole || value.fract() == 0.0)
    }
}

/// What a plugin says about itself, checked and owned.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub abi_version: AbiVersion,
    pub params: Vec<ParamInfo>,
}

impl PluginInfo {
    pub fn param(&self, name: &str) -> Option<&ParamInfo> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Checks only the version header: the first thing read from any plugin.
///
/// # Safety
/// `desc` is null or points at least at the 16-byte header
/// (`abi_version`, `struct_size`), which every ABI version starts with.
pub unsafe fn check_header(desc: *const PluginDescriptor) -> Result<(), DescriptorError> {
    if desc.is_null() {
        return Err(DescriptorError::Null);
    }
    // Read field by field: the rest of the struct may have another layout.
    // SAFETY: not null, and at least the 16-byte header is readable (the
    // caller's promise); unaligned reads ask nothing of the alignment.
    let version = unsafe { std::ptr::addr_of!((*desc).abi_version).read_unaligned() };
    if !ABI_VERSION.accepts(&version) {
        return Err(DescriptorError::Version { found: version });
    }
    // SAFETY: as above: within the header.
    let size = unsafe { std::ptr::addr_of!((*desc).struct_size).read_unaligned() };
    if size < DESCRIPTOR_SIZE_1_0 {
        return Err(DescriptorError::TooSmall { found: size, expected: DESCRIPTOR_SIZE_1_0 });
    }
    Ok(())
}

/// A plain-data struct of which the plugin built `size` bytes at `ptr`:
/// the bytes both know copied, the rest of ours zero (null pointers, `None`
/// functions, zero counts), what a newer plugin added beyond ours left.
///
/// # Safety
/// `ptr` points at `size` readable bytes, and `T` is plain data (integers,
/// floats, raw pointers, `Option<fn>`) for which all-zero bytes are valid.
unsafe fn known_part<T>(ptr: *const T, size: u32) -> T {
    let mut out = std::mem::MaybeUninit::<T>::zeroed();
    let n = (size as usize).min(std::mem::size_of::<T>());
    // SAFETY: `ptr` has `size` bytes and `out` has `size_of::<T>()`: `n`
    // bytes fit both; they do not overlap (`out` is ours).
    unsafe { std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), out.as_mut_ptr().cast::<u8>(), n) };
    // SAFETY: the bytes are the plugin's (valid, as the ABI promises) or
    // zero, which the caller promises is valid for `T`.
    unsafe { out.assume_init() }
}

/// The descriptor's fields this host knows, copied out of the plugin's
/// (see the module's note on versions).
///
/// # Safety
/// `desc` passed [`check_header`], so it has at least `struct_size` bytes.
pub unsafe fn known_fields(desc: *const PluginDescriptor) -> PluginDescriptor {
    // SAFETY: the header was read and checked by the caller's `check_header`.
    let size = unsafe { std::ptr::addr_of!((*desc).struct_size).read_unaligned() };
    // SAFETY: `desc` has `size` bytes; the descriptor is plain data.
    unsafe { known_part(desc, size) }
}

/// Checks a whole descriptor and copies it out.
///
/// # Safety
/// `desc` passed [`check_header`], and its pointers are either null or point
/// at what the ABI says they do (the checks here catch null, bad UTF-8 and
/// impossible values, not dangling pointers).
pub unsafe fn read_descriptor(desc: *const PluginDescriptor) -> Result<PluginInfo, DescriptorError> {
    // SAFETY: `desc` is null or has its header, as the caller promises.
    unsafe { check_header(desc)? };
    // SAFETY: the header passed, so `struct_size` bytes are readable.
    let d = unsafe { known_fields(desc) };
    let required: [(&'static str, bool); 7] = [
        ("create", d.create.is_some()),
        ("destroy", d.destroy.is_some()),
        ("process", d.process.is_some()),
        ("set_param", d.set_param.is_some()),
        ("get_param", d.get_param.is_some()),
        ("reset", d.reset.is_some()),
        ("latency", d.latency.is_some()),
    ];
    if let Some((name, _)) = required.iter().find(|(_, present)| !present) {
        return Err(DescriptorError::MissingFn(name));
    }
    // SAFETY: each is null or a NUL-terminated string in the library, as
    // the caller promises; `read_str` checks null and bounds the length.
    let (id, name, version, description) =
        unsafe { (read_str(d.id, "id")?, read_str(d.name, "name")?, read_str(d.version, "version")?, read_str(d.description, "description")?) };
    if id.is_empty() {
        return Err(DescriptorError::BadString { field: "id", problem: "empty" });
    }
    if d.param_count > MAX_PARAMS {
        return Err(DescriptorError::TooManyParams(d.param_count));
    }
    if d.param_count > 0 && d.param_struct_size < PARAM_SIZE_1_0 {
        return Err(DescriptorError::ParamSize { found: d.param_struct_size, expected: PARAM_SIZE_1_0 });
    }
    if d.param_count > 0 && d.params.is_null() {
        return Err(DescriptorError::BadString { field: "params", problem: "null with a non-zero param_count" });
    }
    // Each parameter at the plugin's stride, the part this host knows.
    let raw: Vec<ParamDescriptor> = (0..d.param_count as usize)
        .map(|i| {
            // SAFETY: `params` holds `param_count` descriptors of
            // `param_struct_size` bytes each, as the ABI says.
            unsafe { known_part(d.params.cast::<u8>().add(i * d.param_struct_size as usize).cast::<ParamDescriptor>(), d.param_struct_size) }
        })
        .collect();
    let mut params = Vec::with_capacity(raw.len());
    for (index, p) in raw.iter().enumerate() {
        // SAFETY: a copy of the plugin's descriptor, whose strings point
        // into the library (the caller's promise).
        let info = unsafe { read_param(p) }.map_err(|(name, problem)| DescriptorError::BadParam { index, name, problem })?;
        if params.iter().any(|q: &ParamInfo| q.id == info.id) {
            return Err(DescriptorError::BadParam { index, name: info.name, problem: format!("id {} is used twice", p.id) });
        }
        if params.iter().any(|q: &ParamInfo| q.name == info.name) {
            return Err(DescriptorError::BadParam { index, name: info.name.clone(), problem: "name is used twice".into() });
        }
        params.push(info);
    }
    Ok(PluginInfo { id, name, version, description, abi_version: d.abi_version, params })
}

/// Reads a parameter descriptor, or says (name, problem).
///
/// # Safety
/// `p.name` and `p.unit` are null or NUL-terminated strings.
unsafe fn read_param(p: &ParamDescriptor) -> Result<ParamInfo, (String, String)> {
    // SAFETY: null or a C string, as the caller promises.
    let name = unsafe { read_str(p.name, "name") }.map_err(|e| ("?".to_string(), e.to_string()))?;
    let fail = |problem: String| (name.clone(), problem);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(fail("name must be non-empty ASCII letters, digits or '_'".into()));
    }
    // SAFETY: as above.
    let unit = unsafe { read_str(p.unit, "unit") }.map_err(|e| fail(e.to_string()))?;
    let scale = ParamScale::from_raw(p.scale).ok_or_else(|| fail(format!("unknown scale {}", p.scale)))?;
    let (min, max, default) = (p.min, p.max, p.default);
    if !(min.is_finite() && max.is_finite() && default.is_finite()) {
        return Err(fail("min, max and default must be finite".into()));
    }
    if !(min <= default && default <= max) {
        return Err(fail(format!("default {default} is outside [{min}, {max}]")));
    }
    match scale {
        ParamScale::Log if min <= 0.0 => return Err(fail("a log scale needs min > 0".into())),
        ParamScale::Integer if [min, max, default].iter().any(|v| v.fract() != 0.0) => {
            return Err(fail("an integer scale needs whole min, max and default".into()))
        }
        ParamScale::Toggle if (min, max) != (0.0, 1.0) || default.fract() != 0.0 => {
            return Err(fail("a toggle needs min 0, max 1 and a default of 0 or 1".into()))
        }
        _ => {}
    }
    Ok(ParamInfo { id: p.id, name, unit, min, max, default, scale })
}

/// Longest string accepted from a plugin; longer means a missing NUL.
const MAX_STRING: usize = 4096;

/// A plugin's string, owned: refused if null, unterminated within
/// `MAX_STRING` bytes, or not UTF-8.
///
/// # Safety
/// `ptr` is null or points at bytes readable up to a NUL or `MAX_STRING`,
/// whichever comes first.
unsafe fn read_str(ptr: *const c_char, field: &'static str) -> Result<String, DescriptorError> {
    if ptr.is_null() {
        return Err(DescriptorError::BadString { field, problem: "null" });
    }
    // Bounded scan for the NUL, so a missing terminator cannot run away.
    let bytes = ptr.cast::<u8>();
    let mut len = 0;
    // SAFETY: each byte read is before the NUL or within MAX_STRING + 1,
    // readable as the caller promises.
    while unsafe { *bytes.add(len) } != 0 {
        len += 1;
        if len > MAX_STRING {
            return Err(DescriptorError::BadString { field, problem: "longer than 4096 bytes (missing NUL?)" });
        }
    }
    // SAFETY: a NUL was found within the readable bytes just above.
    let cstr = unsafe { CStr::from_ptr(ptr) };
    cstr.to_str().map(str::to_owned).map_err(|_| DescriptorError::BadString { field, problem: "not valid UTF-8" })
}

#[cfg(test)]
// Tests poke at foreign memory on purpose; the production code says why each unsafe block is sound.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;
    use auscult_plugin_api::param;

    unsafe extern "C" fn destroy(_: *mut std::ffi::c_void) {}

    fn base() -> PluginDescriptor {
        // Only what validation reads matters; the functions are never called.
        PluginDescriptor {
            abi_version: ABI_VERSION,
            struct_size: std::mem::size_of::<PluginDescriptor>() as u32,
            param_struct_size: std::mem::size_of::<ParamDescriptor>() as u32,
            id: c"org.test".as_ptr(),
            name: c"Test".as_ptr(),
            version: c"1".as_ptr(),
            description: c"".as_ptr(),
            param_count: 0,
            params: std::ptr::null(),
            create: None,
            destroy: Some(destroy),
            process: None,
            set_param: None,
            get_param: None,
            reset: None,
            latency: None,
            get_extension: None,
        }
    }

    #[test]
    fn header_checks_version_and_size() {
        let mut d = base();
        assert!(unsafe { check_header(&d) }.is_ok());
        d.abi_version.major += 1;
        assert!(matches!(unsafe { check_header(&d) }, Err(DescriptorError::Version { .. })));
        // A newer minor of the same major: accepted (its additions ignored).
        let mut d = base();
        d.abi_version.minor += 1;
        assert!(unsafe { check_header(&d) }.is_ok());
        let mut d = base();
        d.struct_size = 16;
        assert!(matches!(unsafe { check_header(&d) }, Err(DescriptorError::TooSmall { .. })));
        assert_eq!(unsafe { check_header(std::ptr::null()) }, Err(DescriptorError::Null));
    }

    #[test]
    fn only_the_fields_a_descriptor_covers_are_read() {
        // A descriptor whose size says it ends before `get_extension`: the
        // copy leaves that field out (None) even though the memory holds one.
        unsafe extern "C" fn ext(_: *const std::ffi::c_char) -> *const std::ffi::c_void {
            std::ptr::null()
        }
        let mut d = base();
        d.get_extension = Some(ext);
        assert!(unsafe { known_fields(&d) }.get_extension.is_some());
        d.struct_size = std::mem::offset_of!(PluginDescriptor, get_extension) as u32;
        let known = unsafe { known_part(&d, d.struct_size) };
        assert!(known.get_extension.is_none() && known.destroy.is_some());
        assert_eq!(unsafe { read_str(known.id, "id") }.unwrap(), "org.test");
    }

    #[test]
    fn parameter_descriptors_are_read_at_the_plugins_stride_and_too_small_ones_refused() {
        #[repr(C)]
        struct Wider {
            p: ParamDescriptor,
            added: [u64; 3],
        }
        let params = [
            Wider { p: param(1, c"low_hz", c"Hz", 10.0, 100.0, 20.0, ParamScale::Log), added: [u64::MAX; 3] },
            Wider { p: param(2, c"order", c"", 2.0, 8.0, 4.0, ParamScale::Integer), added: [u64::MAX; 3] },
        ];
        use auscult_plugin_api::abi::{ErrorBuf, EventBuffer, Instance};
        unsafe extern "C" fn create(_: f64, _: u32, _: *mut Instance, _: *mut ErrorBuf) -> i32 {
            0
        }
        unsafe extern "C" fn process(_: Instance, _: *const f32, _: *mut f32, _: u32, _: *mut EventBuffer, _: *mut ErrorBuf) -> i32 {
            0
        }
        unsafe extern "C" fn set_param(_: Instance, _: u32, _: f64, _: *mut ErrorBuf) -> i32 {
            0
        }
        unsafe extern "C" fn get_param(_: Instance, _: u32, _: *mut f64, _: *mut ErrorBuf) -> i32 {
            0
        }
        unsafe extern "C" fn reset(_: Instance, _: *mut ErrorBuf) -> i32 {
            0
        }
        unsafe extern "C" fn latency(_: Instance) -> u32 {
            0
        }
        let mut d = base();
        d.create = Some(create);
        d.process = Some(process);
        d.set_param = Some(set_param);
        d.get_param = Some(get_param);
        d.reset = Some(reset);
        d.latency = Some(latency);
        d.param_count = 2;
        d.params = params.as_ptr().cast();
        d.param_struct_size = std::mem::size_of::<Wider>() as u32;
        let info = unsafe { read_descriptor(&d) }.unwrap();
        let names: Vec<(u32, &str)> = info.params.iter().map(|p| (p.id, p.name.as_str())).collect();
        assert_eq!(names, [(1, "low_hz"), (2, "order")]);
        d.param_struct_size = PARAM_SIZE_1_0 - 8;
        let err = unsafe { read_descriptor(&d) }.unwrap_err();
        assert_eq!(err, DescriptorError::ParamSize { found: 40, expected: 48 });
        assert!(err.to_string().contains("smaller than the 48 bytes every ABI 1.x one has"), "{err}");
    }

    #[test]
    fn missing_function_is_named() {
        let d = base();
        assert_eq!(unsafe { read_descriptor(&d) }, Err(DescriptorError::MissingFn("create")));
    }

    #[test]
    fn bad_params_are_refused_with_their_name() {
        let cases: &[(ParamDescriptor, &str)] = &[
            (param(0, c"f", c"Hz", 10.0, 1.0, 5.0, ParamScale::Linear), "outside"),
            (param(0, c"f", c"Hz", 0.0, 10.0, 5.0, ParamScale::Log), "min > 0"),
            (param(0, c"f", c"", 0.0, 10.5, 5.0, ParamScale::Integer), "whole"),
            (param(0, c"f", c"", 0.0, 2.0, 1.0, ParamScale::Toggle), "toggle"),
            (param(0, c"f", c"", f64::NAN, 2.0, 1.0, ParamScale::Linear), "finite"),
            (param(0, c"a b", c"", 0.0, 2.0, 1.0, ParamScale::Linear), "letters"),
        ];
        for (p, needle) in cases {
            let r = unsafe { read_param(p) };
            let (_, problem) = r.unwrap_err();
            assert!(problem.contains(needle), "{problem:?} lacks {needle:?}");
        }
        let ok = param(3, c"low_hz", c"Hz", 10.0, 100.0, 20.0, ParamScale::Log);
        let info = unsafe { read_param(&ok) }.unwrap();
        assert_eq!((info.id, info.name.as_str(), info.scale), (3, "low_hz", ParamScale::Log));
        assert!(info.accepts(10.0) && !info.accepts(9.0) && !info.accepts(f64::NAN));
    }
}
