//! The raw C ABI: `#[repr(C)]` data and `extern "C"` function pointers.
//!
//! This module is the only definition of the ABI. A plugin in any language
//! exports one symbol, [`ENTRY_SYMBOL`], of type [`EntryFn`]; everything else
//! is reached through the descriptor it returns.
//!
//! # Contract words
//!
//! Each function pointer's documentation ends with a bracketed contract:
//!
//! - `[main-thread]`: called from the thread that loaded the library, never
//!   concurrently with any other call on the same instance.
//! - `[audio-thread]`: called from the real-time thread. The plugin must not
//!   allocate, lock, do I/O or wait.
//! - `[any-thread]`: may be called from any thread, but never concurrently on
//!   the same instance.
//! - `[no-alloc]` / `[may-alloc]`: whether the plugin may allocate in the call.
//!
//! # Lifecycle
//!
//! `create(sample_rate, max_block)` allocates everything the instance will
//! need; then any number of `process`, `set_param`, `get_param`, `reset` and
//! `latency` calls; then `destroy`. Changing the sample rate or the maximum
//! block size means destroying and creating a new instance.
//!
//! # Errors
//!
//! Every call that can fail returns a [`Status`] and, on failure, writes a
//! NUL-terminated UTF-8 message into an [`ErrorBuf`] that the *host* owns.
//! The plugin never hands out memory the host must free.
//!
//! # Versioning
//!
//! The ABI grows only by adding: new fields go at the end of a struct (and
//! the struct size grows), new capabilities come from `get_extension`. A
//! change that breaks a layout bumps the major version; the host refuses a
//! different major, or a newer minor than its own, before calling anything.

use std::ffi::{c_char, c_void};

/// The version of this ABI, written first in every [`PluginDescriptor`].
pub const ABI_VERSION: AbiVersion = AbiVersion { major: 1, minor: 0, patch: 0 };

/// The sizes of the structs in ABI 1.0, the least a 1.x plugin's
/// `struct_size` and `param_struct_size` may say: every field a host of
/// any 1.x needs is in them.
pub const DESCRIPTOR_SIZE_1_0: u32 = 136;
pub const PARAM_SIZE_1_0: u32 = 48;

/// The one symbol a plugin library exports (NUL-terminated for `dlsym`).
pub const ENTRY_SYMBOL: &[u8] = b"auscult_plugin_entry\0";

/// Size of [`ErrorBuf`], NUL included.
pub const ERROR_BUF_SIZE: usize = 256;

/// Semantic version of the ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbiVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl AbiVersion {
    /// Whether a host built against `self` can use a plugin built against
    /// `plugin`: the same major. A minor version only adds fields at the end
    /// of a struct, whose `struct_size` says how far it goes: the host reads
    /// the fields both know, takes the defaults (null, zero) for those an
    /// older plugin lacks, and ignores those a newer one added (as CLAP).
    pub const fn accepts(&self, plugin: &AbiVersion) -> bool {
        self.major == plugin.major
    }
}

impl std::fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Result of every fallible call.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    /// The call failed; the message is in the [`ErrorBuf`].
    Error = 1,
    /// An argument was invalid (unknown parameter id, value out of range).
    InvalidArgument = 2,
    /// The plugin panicked; the shim caught it. The instance must not be
    /// used again except to `reset` or `destroy` it.
    Panicked = 3,
}

impl Status {
    /// Decodes a status read from foreign code; unknown values are errors.
    pub fn from_raw(raw: i32) -> Status {
        match raw {
            0 => Status::Ok,
            2 => Status::InvalidArgument,
            3 => Status::Panicked,
            _ => Status::Error,
        }
    }
}

/// A message buffer owned by the host and filled by the plugin on failure.
#[repr(C)]
pub struct ErrorBuf {
    pub bytes: [u8; ERROR_BUF_SIZE],
}

impl Default for ErrorBuf {
    fn default() -> Self {
        ErrorBuf { bytes: [0; ERROR_BUF_SIZE] }
    }
}

impl ErrorBuf {
    /// Writes `msg`, truncated at a character boundary to fit, NUL-terminated.
    /// Never allocates.
    pub fn write(&mut self, msg: &str) {
        let mut end = msg.len().min(ERROR_BUF_SIZE - 1);
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes[..end].copy_from_slice(&msg.as_bytes()[..end]);
        self.bytes[end] = 0;
    }

    /// The message up to the first NUL; invalid UTF-8 is cut where it starts.
    pub fn message(&self) -> &str {
        let len = self.bytes.iter().position(|&b| b == 0).unwrap_or(ERROR_BUF_SIZE);
        match std::str::from_utf8(&self.bytes[..len]) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&self.bytes[..e.valid_up_to()]).unwrap_or_default(),
        }
    }

    pub fn clear(&mut self) {
        self.bytes[0] = 0;
    }
}

/// How a parameter's range is meant to be swept by a user interface.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamScale {
    Linear = 0,
    /// Logarithmic; `min` must be > 0.
    Log = 1,
    /// Whole numbers only.
    Integer = 2,
    /// 0 = off, 1 = on.
    Toggle = 3,
}

impl ParamScale {
    pub fn from_raw(raw: u32) -> Option<ParamScale> {
        Some(match raw {
            0 => ParamScale::Linear,
            1 => ParamScale::Log,
            2 => ParamScale::Integer,
            3 => ParamScale::Toggle,
            _ => return None,
        })
    }
}

/// Describes one parameter. All strings are static, NUL-terminated UTF-8,
/// owned by the plugin library and valid until it is unloaded.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ParamDescriptor {
    /// Stable identifier: never changes and is never reused for another
    /// meaning, so saved chains keep working across plugin versions.
    pub id: u32,
    /// The raw [`ParamScale`].
    pub scale: u32,
    /// Name used in chain files, e.g. `low_hz`.
    pub name: *const c_char,
    /// Unit for display, e.g. `Hz`, `dB`, or empty.
    pub unit: *const c_char,
    pub min: f64,
    pub max: f64,
    pub default: f64,
}

/// What an event marks.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Start of a breath cycle.
    CycleStart = 0,
    /// End of a breath cycle.
    CycleEnd = 1,
    /// First heart sound.
    S1 = 2,
    /// Second heart sound.
    S2 = 3,
}

impl EventKind {
    pub fn from_raw(raw: u32) -> Option<EventKind> {
        Some(match raw {
            0 => EventKind::CycleStart,
            1 => EventKind::CycleEnd,
            2 => EventKind::S1,
            3 => EventKind::S2,
            _ => return None,
        })
    }

    /// The name used in event CSV files.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CycleStart => "cycle_start",
            EventKind::CycleEnd => "cycle_end",
            EventKind::S1 => "s1",
            EventKind::S2 => "s2",
        }
    }
}

/// An event found during `process`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Position relative to the first frame of the current block. Negative
    /// values point into earlier blocks: a detector often knows where a cycle
    /// started only some time after it did.
    pub offset: i64,
    /// The raw [`EventKind`].
    pub kind: u32,
    /// Detector-specific strength or confidence; 0 when unused.
    pub value: f32,
}

/// Host-owned storage for the events of one `process` call.
///
/// The plugin writes at most `capacity` events starting at `events` and sets
/// `count`; events that do not fit are counted in `dropped`.
#[repr(C)]
pub struct EventBuffer {
    pub events: *mut Event,
    pub capacity: u32,
    pub count: u32,
    pub dropped: u32,
}

/// An opaque plugin instance.
pub type Instance = *mut c_void;

/// Type of the exported entry symbol. Returns a descriptor owned by the
/// library, valid until it is unloaded; null means the library cannot run
/// here. `[main-thread]`
pub type EntryFn = unsafe extern "C" fn() -> *const PluginDescriptor;

/// Everything the host knows about a plugin.
///
/// The first two fields never move, whatever the version: the host reads
/// them before anything else.
#[repr(C)]
pub struct PluginDescriptor {
    pub abi_version: AbiVersion,
    /// `size_of::<PluginDescriptor>()` as the plugin was built.
    pub struct_size: u32,
    /// `size_of::<ParamDescriptor>()` as the plugin was built.
    pub param_struct_size: u32,
    /// Reverse-DNS style identifier, e.g. `org.auscult.bandpass`.
    pub id: *const c_char,
    pub name: *const c_char,
    pub version: *const c_char,
    pub description: *const c_char,
    pub param_count: u32,
    /// `param_count` descriptors, owned by the library.
    pub params: *const ParamDescriptor,

    /// Creates an instance at `sample_rate` that will never be handed more
    /// than `max_block` frames per `process` call. On success writes the
    /// instance to `*out`. `[main-thread] [may-alloc]`
    pub create: Option<unsafe extern "C" fn(sample_rate: f64, max_block: u32, out: *mut Instance, err: *mut ErrorBuf) -> i32>,
    /// Frees the instance. `[main-thread] [may-alloc]`
    pub destroy: Option<unsafe extern "C" fn(instance: Instance)>,
    /// Processes `frames` mono samples from `input` into `output` (distinct
    /// buffers, both valid only during the call) and appends events to
    /// `events`. `[audio-thread] [no-alloc]`
    pub process:
        Option<unsafe extern "C" fn(instance: Instance, input: *const f32, output: *mut f32, frames: u32, events: *mut EventBuffer, err: *mut ErrorBuf) -> i32>,
    /// Sets parameter `id`. `[any-thread] [no-alloc]`
    pub set_param: Option<unsafe extern "C" fn(instance: Instance, id: u32, value: f64, err: *mut ErrorBuf) -> i32>,
    /// Reads parameter `id` into `*value`. `[any-thread] [no-alloc]`
    pub get_param: Option<unsafe extern "C" fn(instance: Instance, id: u32, value: *mut f64, err: *mut ErrorBuf) -> i32>,
    /// Clears all signal state (filter memories, envelopes) but keeps the
    /// parameters. `[any-thread] [no-alloc]`
    pub reset: Option<unsafe extern "C" fn(instance: Instance, err: *mut ErrorBuf) -> i32>,
    /// Delay of the output behind the input, in samples, with the current
    /// parameters. `[any-thread] [no-alloc]`
    pub latency: Option<unsafe extern "C" fn(instance: Instance) -> u32>,
    /// Returns the extension with the given NUL-terminated id (of the form
    /// `auscult.<name>/<rev>`), or null. Optional. `[main-thread]`
    pub get_extension: Option<unsafe extern "C" fn(id: *const c_char) -> *const c_void>,
}

// SAFETY: the pointers in these descriptors point at immutable data with
// static lifetime inside the plugin library (string literals and statics);
// nothing is ever written through them, so sharing them between threads is
// sound.
unsafe impl Sync for ParamDescriptor {}
unsafe impl Send for ParamDescriptor {}
unsafe impl Sync for PluginDescriptor {}
unsafe impl Send for PluginDescriptor {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// The layout is the ABI: these numbers change only with a major bump.
    #[test]
    fn layouts_are_pinned() {
        assert_eq!(size_of::<AbiVersion>(), 12);
        assert_eq!(size_of::<ParamDescriptor>(), 48);
        assert_eq!(size_of::<ParamDescriptor>() as u32, PARAM_SIZE_1_0);
        assert_eq!(size_of::<PluginDescriptor>() as u32, DESCRIPTOR_SIZE_1_0, "1.0's descriptor: a later minor adds fields after it");
        assert_eq!(offset_of!(ParamDescriptor, name), 8);
        assert_eq!(offset_of!(ParamDescriptor, min), 24);
        assert_eq!(size_of::<Event>(), 16);
        assert_eq!(offset_of!(Event, kind), 8);
        assert_eq!(size_of::<EventBuffer>(), 24);
        assert_eq!(size_of::<ErrorBuf>(), ERROR_BUF_SIZE);
        assert_eq!(offset_of!(PluginDescriptor, abi_version), 0);
        assert_eq!(offset_of!(PluginDescriptor, struct_size), 12);
        assert_eq!(offset_of!(PluginDescriptor, param_struct_size), 16);
        assert_eq!(offset_of!(PluginDescriptor, id), 24);
        assert_eq!(offset_of!(PluginDescriptor, params), 64);
        assert_eq!(offset_of!(PluginDescriptor, create), 72);
        assert_eq!(size_of::<PluginDescriptor>(), 136);
        assert_eq!(align_of::<PluginDescriptor>(), 8);
    }

    #[test]
    fn version_compatibility() {
        let host = AbiVersion { major: 1, minor: 2, patch: 0 };
        assert!(host.accepts(&AbiVersion { major: 1, minor: 0, patch: 9 }));
        assert!(host.accepts(&AbiVersion { major: 1, minor: 2, patch: 0 }));
        assert!(!host.accepts(&AbiVersion { major: 1, minor: 3, patch: 0 }));
        assert!(!host.accepts(&AbiVersion { major: 0, minor: 0, patch: 0 }));
        assert!(!host.accepts(&AbiVersion { major: 2, minor: 0, patch: 0 }));
    }

    #[test]
    fn error_buf_truncates_on_char_boundary() {
        let mut buf = ErrorBuf::default();
        buf.write("short");
        assert_eq!(buf.message(), "short");
        let long = "é".repeat(200); // 400 bytes
        buf.write(&long);
        let msg = buf.message();
        assert!(msg.len() < ERROR_BUF_SIZE);
        assert!(msg.chars().all(|c| c == 'é'));
        buf.clear();
        assert_eq!(buf.message(), "");
    }
}
