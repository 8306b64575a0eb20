//! Loading a plugin library: permission checks, `dlopen`, the entry symbol
//! and the descriptor, in that order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use auscult_plugin_api::abi::{EntryFn, ErrorBuf, EventBuffer, FlushExtension, Instance, PluginDescriptor, ENTRY_SYMBOL, FLUSH_EXTENSION_ID};

use super::abi::{self, DescriptorError, PluginInfo};
use crate::trust::TrustError;

/// Why a library could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: refusing to load a plugin that {what}; fix with `{fix}`")]
    Insecure { path: PathBuf, what: String, fix: String },
    #[error("{path}: not a loadable library: {reason}")]
    NotALibrary { path: PathBuf, reason: String },
    #[error("{path}: not an auscult plugin: no `auscult_plugin_entry` symbol")]
    MissingEntry { path: PathBuf },
    #[error("{path}: {source}")]
    Descriptor { path: PathBuf, source: DescriptorError },
}

/// Refuses a library that others could have replaced (see [`crate::trust`]).
pub fn check_permissions(path: &Path) -> Result<(), LoadError> {
    crate::trust::check_private(path, "plugin").map_err(|e| match e {
        TrustError::Io { path, source } => LoadError::Io { path, source },
        TrustError::Writable { path, what, fix, .. } => LoadError::Insecure { path, what, fix },
    })
}

/// The function table, checked non-null on load so that nothing on the
/// audio thread ever meets a missing pointer.
#[derive(Clone, Copy)]
pub(crate) struct Functions {
    pub create: unsafe extern "C" fn(f64, u32, *mut Instance, *mut ErrorBuf) -> i32,
    pub destroy: unsafe extern "C" fn(Instance),
    pub process: unsafe extern "C" fn(Instance, *const f32, *mut f32, u32, *mut EventBuffer, *mut ErrorBuf) -> i32,
    pub set_param: unsafe extern "C" fn(Instance, u32, f64, *mut ErrorBuf) -> i32,
    pub get_param: unsafe extern "C" fn(Instance, u32, *mut f64, *mut ErrorBuf) -> i32,
    pub reset: unsafe extern "C" fn(Instance, *mut ErrorBuf) -> i32,
    pub latency: unsafe extern "C" fn(Instance) -> u32,
    /// The end-of-stream extension's call, where the plugin offers it.
    pub flush: Option<FlushFn>,
}

pub(crate) type FlushFn = unsafe extern "C" fn(Instance, *mut EventBuffer, *mut ErrorBuf) -> i32;

/// A loaded plugin library. Instances hold an `Arc` to it, so the library is
/// unloaded only after the last instance is destroyed; no raw symbol leaves
/// this struct.
pub struct PluginLibrary {
    info: PluginInfo,
    path: PathBuf,
    pub(crate) fns: Functions,
    // Last field: dropped after everything that points into it.
    _library: libloading::Library,
}

impl std::fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginLibrary").field("id", &self.info.id).field("path", &self.path).finish()
    }
}

impl PluginLibrary {
    /// Loads `path`. Order matters: permissions before `dlopen` (which runs
    /// the library's constructors), and the ABI version before any function
    /// of the plugin is called.
    pub fn load(path: &Path) -> Result<Arc<PluginLibrary>, LoadError> {
        check_permissions(path)?;
        // SAFETY: loading a library runs its initialisers; the permission
        // check above is what stands between us and a planted file.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| LoadError::NotALibrary { path: path.to_path_buf(), reason: dl_reason(&e) })?;
        // SAFETY: the symbol's type is the ABI's `EntryFn`, as every plugin
        // library declares it; a library that lies is a broken plugin.
        let entry: EntryFn = unsafe { *library.get::<EntryFn>(ENTRY_SYMBOL).map_err(|_| LoadError::MissingEntry { path: path.to_path_buf() })? };
        let descriptor_error = |source| LoadError::Descriptor { path: path.to_path_buf(), source };
        // SAFETY: the entry point takes no arguments and returns a pointer
        // to static data; we read its 16-byte header before anything else.
        let desc: *const PluginDescriptor = unsafe { entry() };
        // SAFETY: null or the library's static descriptor, which starts with
        // the 16-byte header in every ABI version.
        unsafe { abi::check_header(desc) }.map_err(descriptor_error)?;
        // SAFETY: the header passed; its pointers point into the library.
        let info = unsafe { abi::read_descriptor(desc) }.map_err(descriptor_error)?;
        // SAFETY: the header passed; the fields this host knows, copied.
        let d = unsafe { abi::known_fields(desc) };
        let missing = |name| descriptor_error(DescriptorError::MissingFn(name));
        let fns = Functions {
            create: d.create.ok_or_else(|| missing("create"))?,
            destroy: d.destroy.ok_or_else(|| missing("destroy"))?,
            process: d.process.ok_or_else(|| missing("process"))?,
            set_param: d.set_param.ok_or_else(|| missing("set_param"))?,
            get_param: d.get_param.ok_or_else(|| missing("get_param"))?,
            reset: d.reset.ok_or_else(|| missing("reset"))?,
            latency: d.latency.ok_or_else(|| missing("latency"))?,
            // SAFETY: the descriptor's own `get_extension`, if any.
            flush: unsafe { flush_extension(d.get_extension) },
        };
        Ok(Arc::new(PluginLibrary { info, path: path.to_path_buf(), fns, _library: library }))
    }

    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ids of the extensions the host found and uses.
    pub fn extensions(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.fns.flush.is_some() {
            names.push("auscult.flush/1");
        }
        names
    }
}

/// The end-of-stream call, if the library offers the extension; one whose
/// struct is too short to hold it counts as not offering it.
///
/// # Safety
/// `get_extension` is the library's own, returning null or a pointer to a
/// static extension struct of the id asked for, as the ABI says.
unsafe fn flush_extension(get_extension: Option<unsafe extern "C" fn(*const std::ffi::c_char) -> *const std::ffi::c_void>) -> Option<FlushFn> {
    let get = get_extension?;
    // SAFETY: a NUL-terminated id, read by the plugin during the call only.
    let ext = unsafe { get(FLUSH_EXTENSION_ID.as_ptr()) }.cast::<FlushExtension>();
    // SAFETY: null or the library's static `FlushExtension`, whose first
    // field is its size; the call is read only when the size covers it.
    let ext = unsafe { ext.as_ref() }?;
    (ext.struct_size as usize >= std::mem::size_of::<FlushExtension>()).then_some(ext.flush).flatten()
}

/// dlerror text, without the path it repeats.
fn dl_reason(e: &libloading::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(": ") {
        Some((_, reason)) if !reason.is_empty() => reason.to_string(),
        _ => text,
    }
}

#[cfg(test)]
// Tests poke at foreign memory on purpose; the production code says why each unsafe block is sound.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn text_file_is_not_a_library() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libtext.so");
        std::fs::write(&file, b"hello, I am text\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = PluginLibrary::load(&file).unwrap_err();
        assert!(matches!(err, LoadError::NotALibrary { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("libtext.so") && text.contains("not a loadable library"), "{text}");
    }
}
