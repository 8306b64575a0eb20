//! Checks a plugin's descriptor and copies it into owned Rust data.
//!
//! Everything here reads foreign memory: the version header first, and the
//! rest only once the version says the layout is the one we know.

use std::ffi::{c_char, CStr};

use auscult_plugin_api::abi::{ParamDescriptor, ParamScale, PluginDescriptor, ABI_VERSION};
use auscult_plugin_api::AbiVersion;

/// The most parameters a plugin may declare; more means a corrupt count.
pub const MAX_PARAMS: u32 = 1024;

/// Why a descriptor was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DescriptorError {
    #[error("the entry point returned a null descriptor")]
    Null,
    #[error("plugin ABI {found} is not compatible with this host's ABI {host} (same major, minor at most {host_minor} needed); rebuild the plugin against auscult-plugin-api {host}", host = ABI_VERSION, host_minor = ABI_VERSION.minor)]
    Version { found: AbiVersion },
    #[error("descriptor is {found} bytes, smaller than the {expected} bytes of ABI {host}", host = ABI_VERSION)]
    TooSmall { found: u32, expected: u32 },
    #[error("parameter descriptors are {found} bytes, expected {expected}")]
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
    let version = unsafe { std::ptr::addr_of!((*desc).abi_version).read_unaligned() };
    if !ABI_VERSION.accepts(&version) {
        return Err(DescriptorError::Version { found: version });
    }
    let size = unsafe { std::ptr::addr_of!((*desc).struct_size).read_unaligned() };
    let expected = std::mem::size_of::<PluginDescriptor>() as u32;
    if size < expected {
        return Err(DescriptorError::TooSmall { found: size, expected });
    }
    Ok(())
}

/// Checks a whole descriptor and copies it out.
///
/// # Safety
/// `desc` passed [`check_header`], and its pointers are either null or point
/// at what the ABI says they do (the checks here catch null, bad UTF-8 and
/// impossible values, not dangling pointers).
pub unsafe fn read_descriptor(desc: *const PluginDescriptor) -> Result<PluginInfo, DescriptorError> {
    unsafe { check_header(desc)? };
    let d = unsafe { &*desc };
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
    let id = unsafe { read_str(d.id, "id")? };
    if id.is_empty() {
        return Err(DescriptorError::BadString { field: "id", problem: "empty" });
    }
    let name = unsafe { read_str(d.name, "name")? };
    let version = unsafe { read_str(d.version, "version")? };
    let description = unsafe { read_str(d.description, "description")? };
    if d.param_count > MAX_PARAMS {
        return Err(DescriptorError::TooManyParams(d.param_count));
    }
    let expected = std::mem::size_of::<ParamDescriptor>() as u32;
    if d.param_count > 0 && d.param_struct_size != expected {
        return Err(DescriptorError::ParamSize { found: d.param_struct_size, expected });
    }
    let raw: &[ParamDescriptor] = if d.param_count == 0 {
        &[]
    } else if d.params.is_null() {
        return Err(DescriptorError::BadString { field: "params", problem: "null with a non-zero param_count" });
    } else {
        unsafe { std::slice::from_raw_parts(d.params, d.param_count as usize) }
    };
    let mut params = Vec::with_capacity(raw.len());
    for (index, p) in raw.iter().enumerate() {
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
unsafe fn read_param(p: &ParamDescriptor) -> Result<ParamInfo, (String, String)> {
    let name = unsafe { read_str(p.name, "name") }.map_err(|e| ("?".to_string(), e.to_string()))?;
    let fail = |problem: String| (name.clone(), problem);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(fail("name must be non-empty ASCII letters, digits or '_'".into()));
    }
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

unsafe fn read_str(ptr: *const c_char, field: &'static str) -> Result<String, DescriptorError> {
    if ptr.is_null() {
        return Err(DescriptorError::BadString { field, problem: "null" });
    }
    // Bounded scan for the NUL, so a missing terminator cannot run away.
    let bytes = ptr.cast::<u8>();
    let mut len = 0;
    while unsafe { *bytes.add(len) } != 0 {
        len += 1;
        if len > MAX_STRING {
            return Err(DescriptorError::BadString { field, problem: "longer than 4096 bytes (missing NUL?)" });
        }
    }
    let cstr = unsafe { CStr::from_ptr(ptr) };
    cstr.to_str().map(str::to_owned).map_err(|_| DescriptorError::BadString { field, problem: "not valid UTF-8" })
}

#[cfg(test)]
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
        let mut d = base();
        d.abi_version.minor += 1;
        assert!(matches!(unsafe { check_header(&d) }, Err(DescriptorError::Version { .. })));
        let mut d = base();
        d.struct_size = 16;
        assert!(matches!(unsafe { check_header(&d) }, Err(DescriptorError::TooSmall { .. })));
        assert_eq!(unsafe { check_header(std::ptr::null()) }, Err(DescriptorError::Null));
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
