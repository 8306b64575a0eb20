//! The auscult plugin API.
//!
//! Two layers:
//!
//! - [`abi`]: the versioned C ABI, `#[repr(C)]` data and function pointers.
//!   This is what the host loads, and what a plugin written in C implements.
//! - The safe layer: implement [`Plugin`] for a Rust type and call
//!   [`export_plugin!`]. The macro generates the exported entry symbol and a
//!   C shim that checks every pointer, catches panics at the boundary
//!   (turning them into [`abi::Status::Panicked`]) and silences the default
//!   panic message, which would otherwise corrupt the terminal UI.
//!
//! The smallest whole plugin, one with no parameters (`plugins/gain` is
//! the template for one with a parameter). As a crate with
//! `crate-type = ["cdylib"]`, this is a library the host loads:
//!
//! ```
//! use std::ffi::CStr;
//! use auscult_plugin_api::{export_plugin, Events, ParamDescriptor, Plugin, PluginError};
//!
//! /// Flips the signal's polarity.
//! struct Invert;
//!
//! impl Plugin for Invert {
//!     const ID: &'static CStr = c"org.example.invert";
//!     const NAME: &'static CStr = c"Invert";
//!     const VERSION: &'static CStr = c"1.0.0";
//!     const DESCRIPTION: &'static CStr = c"Flips the signal's polarity";
//!     const PARAMS: &'static [ParamDescriptor] = &[];
//!
//!     fn new(_sample_rate: f64, _max_block: usize) -> Result<Self, PluginError> {
//!         Ok(Invert)
//!     }
//!
//!     fn process(&mut self, input: &[f32], output: &mut [f32], _events: &mut Events<'_>) -> Result<(), PluginError> {
//!         for (y, x) in output.iter_mut().zip(input) {
//!             *y = -x;
//!         }
//!         Ok(())
//!     }
//!
//!     // The shim refuses ids not in PARAMS before this is reached.
//!     fn set_param(&mut self, _id: u32, _value: f64) -> Result<(), PluginError> {
//!         Err(PluginError::new("Invert has no parameters"))
//!     }
//!
//!     fn get_param(&self, _id: u32) -> Option<f64> {
//!         None
//!     }
//!
//!     fn reset(&mut self) {}
//! }
//!
//! export_plugin!(Invert);
//!
//! // What the host finds behind the exported symbol: the ABI version and
//! // the struct's size first, then the description.
//! let descriptor = unsafe { &*auscult_plugin_entry() };
//! assert_eq!(descriptor.abi_version, auscult_plugin_api::ABI_VERSION);
//! assert_eq!(descriptor.struct_size as usize, size_of::<auscult_plugin_api::abi::PluginDescriptor>());
//! assert_eq!(descriptor.param_count, 0);
//!
//! let mut out = [0.0; 2];
//! Invert.process(&[0.5, -0.25], &mut out, &mut Events::new(&mut [])).unwrap();
//! assert_eq!(out, [-0.5, 0.25]);
//! ```
//!
//! Never build a plugin with `panic = "abort"`: the shim relies on unwinding.

pub mod abi;
#[doc(hidden)]
pub mod shim;
#[cfg(feature = "testing")]
pub mod testing;

use std::borrow::Cow;
use std::ffi::CStr;

pub use abi::{AbiVersion, Event, EventKind, ParamDescriptor, ParamScale, Status, ABI_VERSION};

/// Builds a [`ParamDescriptor`] in a `const` context.
pub const fn param(id: u32, name: &'static CStr, unit: &'static CStr, min: f64, max: f64, default: f64, scale: ParamScale) -> ParamDescriptor {
    ParamDescriptor { id, scale: scale as u32, name: name.as_ptr(), unit: unit.as_ptr(), min, max, default }
}

/// Why a plugin call failed. Constructing one from a `&'static str` does not
/// allocate, so it is safe on the audio thread.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    pub status: Status,
    pub message: Cow<'static, str>,
}

impl PluginError {
    /// A general failure with a static message (no allocation).
    pub const fn new(message: &'static str) -> Self {
        PluginError { status: Status::Error, message: Cow::Borrowed(message) }
    }

    /// An invalid argument, with a message that may be formatted.
    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        PluginError { status: Status::InvalidArgument, message: message.into() }
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}

/// Checks `value` against the descriptor of parameter `id` in `params`:
/// known id, finite, in range, whole for integer and toggle parameters.
pub fn check_param(params: &[ParamDescriptor], id: u32, value: f64) -> Result<(), PluginError> {
    let Some(p) = params.iter().find(|p| p.id == id) else {
        return Err(PluginError::invalid_argument(format!("unknown parameter id {id}")));
    };
    let whole = matches!(ParamScale::from_raw(p.scale), Some(ParamScale::Integer | ParamScale::Toggle));
    if !value.is_finite() || value < p.min || value > p.max || (whole && value.fract() != 0.0) {
        return Err(PluginError::invalid_argument(format!(
            "parameter {id} = {value} is outside [{}, {}]{}",
            p.min,
            p.max,
            if whole { " or not a whole number" } else { "" }
        )));
    }
    Ok(())
}

/// Where a plugin writes the events it finds during one `process` call.
/// Storage belongs to the host; when it is full, further events are counted
/// as dropped rather than allocating.
pub struct Events<'a> {
    slots: &'a mut [Event],
    count: usize,
    dropped: usize,
}

impl<'a> Events<'a> {
    /// Events written into `slots`, e.g. for a plugin's own unit tests.
    pub fn new(slots: &'a mut [Event]) -> Self {
        Events { slots, count: 0, dropped: 0 }
    }

    /// Records an event at `offset` frames from the start of the current
    /// block (negative: in an earlier block).
    pub fn push(&mut self, offset: i64, kind: EventKind, value: f32) {
        match self.slots.get_mut(self.count) {
            Some(slot) => {
                *slot = Event { offset, kind: kind as u32, value };
                self.count += 1;
            }
            None => self.dropped += 1,
        }
    }

    /// The events pushed so far.
    pub fn as_slice(&self) -> &[Event] {
        &self.slots[..self.count]
    }

    pub fn dropped(&self) -> usize {
        self.dropped
    }
}

impl Default for Event {
    fn default() -> Self {
        Event { offset: 0, kind: EventKind::CycleStart as u32, value: 0.0 }
    }
}

/// A preprocessing plugin, written in safe Rust.
///
/// The associated consts describe the plugin once; the host reads them at
/// load time. `new` runs on the main thread and is the only place to
/// allocate: `process`, `set_param`, `get_param`, `reset` and `latency` may be
/// called on the audio thread and must not allocate, lock or block.
pub trait Plugin: Send + Sized + 'static {
    /// Stable reverse-DNS identifier, e.g. `c"org.auscult.bandpass"`.
    const ID: &'static CStr;
    /// Human-readable name.
    const NAME: &'static CStr;
    /// The plugin's own version (not the ABI's).
    const VERSION: &'static CStr;
    /// One line on what it does.
    const DESCRIPTION: &'static CStr;
    /// Parameter descriptors; build them with [`param`].
    const PARAMS: &'static [ParamDescriptor];

    /// Creates an instance with every parameter at its default.
    /// `[control-thread] [may-alloc]`
    fn new(sample_rate: f64, max_block: usize) -> Result<Self, PluginError>;

    /// Processes one block. `input.len() == output.len() <= max_block`.
    /// `[audio-thread] [no-alloc]`
    fn process(&mut self, input: &[f32], output: &mut [f32], events: &mut Events<'_>) -> Result<(), PluginError>;

    /// Sets a parameter. The shim has already checked the value against the
    /// descriptor (known id, finite, in range); the plugin checks what only
    /// it knows, such as a cutoff against the Nyquist frequency.
    /// `[any-thread] [no-alloc]`
    fn set_param(&mut self, id: u32, value: f64) -> Result<(), PluginError>;

    /// Reads a parameter; `None` for an unknown id. `[any-thread] [no-alloc]`
    fn get_param(&self, id: u32) -> Option<f64>;

    /// Clears signal state, keeps parameters. `[any-thread] [no-alloc]`
    fn reset(&mut self);

    /// Output delay in samples with the current parameters.
    fn latency(&self) -> u32 {
        0
    }

    /// Whether the plugin holds events back until later audio confirms
    /// them; the shim offers the end-of-stream extension
    /// ([`abi::FlushExtension`]) only then.
    const FLUSHES: bool = false;

    /// The stream has ended: push the events held back, at offsets from the
    /// frame after the last one processed (zero or below). The shim resets
    /// the plugin afterwards. `[audio-thread] [no-alloc]`
    fn flush(&mut self, _events: &mut Events<'_>) -> Result<(), PluginError> {
        Ok(())
    }
}

/// Exports a [`Plugin`] implementation as an auscult plugin library.
///
/// Use once per cdylib crate, at the crate root.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// The plugin's entry point; see `auscult_plugin_api::abi::EntryFn`.
        #[unsafe(no_mangle)]
        pub extern "C" fn auscult_plugin_entry() -> *const $crate::abi::PluginDescriptor {
            static DESCRIPTOR: $crate::abi::PluginDescriptor = $crate::shim::descriptor::<$plugin>();
            &DESCRIPTOR
        }
    };
}

#[cfg(test)]
// Tests poke at foreign memory on purpose; the production code says why each unsafe block is sound.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;

    const PARAMS: &[ParamDescriptor] =
        &[param(0, c"freq", c"Hz", 10.0, 100.0, 50.0, ParamScale::Log), param(7, c"order", c"", 2.0, 8.0, 4.0, ParamScale::Integer)];

    #[test]
    fn check_param_accepts_in_range_and_rejects_the_rest() {
        assert!(check_param(PARAMS, 0, 10.0).is_ok());
        assert!(check_param(PARAMS, 0, 100.0).is_ok());
        assert!(check_param(PARAMS, 7, 6.0).is_ok());
        for (id, v) in [(0, 9.9), (0, f64::NAN), (0, f64::INFINITY), (7, 4.5), (7, 9.0), (1, 1.0)] {
            let err = check_param(PARAMS, id, v).unwrap_err();
            assert_eq!(err.status, Status::InvalidArgument, "{id} {v}");
        }
    }

    #[test]
    fn events_count_drops_instead_of_growing() {
        let mut slots = [Event::default(); 2];
        let mut events = Events::new(&mut slots);
        events.push(-5, EventKind::CycleStart, 1.0);
        events.push(3, EventKind::CycleEnd, 0.0);
        events.push(4, EventKind::S1, 0.0);
        assert_eq!(events.as_slice().len(), 2);
        assert_eq!(events.as_slice()[0].offset, -5);
        assert_eq!(events.dropped(), 1);
    }
}
