//! One live plugin instance: the only place that calls into a plugin,
//! native (the auscult ABI) or LADSPA.

use std::sync::Arc;

use auscult_plugin_api::abi::{ErrorBuf, EventBuffer, Instance};
use auscult_plugin_api::{Event, Status};

use super::abi::PluginInfo;
use super::ladspa::LadspaInstance;
use super::library::PluginLibrary;

/// A failed call: the status and the plugin's message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{plugin}: {message} ({status:?})")]
pub struct CallError {
    pub plugin: String,
    pub status: Status,
    pub message: String,
}

enum Backend {
    Native {
        handle: Instance,
        // Dropped after `handle` is destroyed (see Drop), keeping the code alive.
        library: Arc<PluginLibrary>,
    },
    Ladspa(Box<LadspaInstance>),
}

/// A plugin instance. Not `Sync`: the ABI forbids concurrent calls on one
/// instance, so it moves between threads but is never shared.
pub struct PluginInstance {
    backend: Backend,
    err: ErrorBuf,
}

// SAFETY: the ABI allows an instance to be used from any one thread at a
// time (no two calls on an instance overlap, whatever thread makes them); `&mut self`
// on every call enforces that.
unsafe impl Send for PluginInstance {}

impl std::fmt::Debug for PluginInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInstance").field("plugin", &self.info().id).finish()
    }
}

impl PluginInstance {
    /// Creates an instance and sets every parameter to its default, so the
    /// host's view of the parameters is the plugin's from the start.
    pub fn new(library: Arc<PluginLibrary>, sample_rate: f64, max_block: usize) -> Result<Self, CallError> {
        let mut err = ErrorBuf::default();
        let mut handle: Instance = std::ptr::null_mut();
        let max_block_u32 = u32::try_from(max_block).unwrap_or(u32::MAX);
        // SAFETY: a checked descriptor's `create`, with a writable handle
        // slot and error buffer that outlive the call.
        let status = unsafe { (library.fns.create)(sample_rate, max_block_u32, &mut handle, &mut err) };
        let plugin = library.info().id.clone();
        if Status::from_raw(status) != Status::Ok || handle.is_null() {
            let message = match err.message() {
                "" => "create failed without a message".to_string(),
                m => m.to_string(),
            };
            return Err(CallError { plugin, status: Status::from_raw(status), message });
        }
        Ok(PluginInstance { backend: Backend::Native { handle, library }, err })
    }

    /// Wraps a LADSPA plugin instance.
    pub fn from_ladspa(instance: LadspaInstance) -> Self {
        PluginInstance { backend: Backend::Ladspa(Box::new(instance)), err: ErrorBuf::default() }
    }

    /// The native library, for a native plugin.
    pub fn library(&self) -> Option<&Arc<PluginLibrary>> {
        match &self.backend {
            Backend::Native { library, .. } => Some(library),
            Backend::Ladspa(_) => None,
        }
    }

    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        match &self.backend {
            Backend::Native { library, .. } => library.info(),
            Backend::Ladspa(l) => &l.info,
        }
    }

    fn check(&self, status: i32) -> Result<(), CallError> {
        match Status::from_raw(status) {
            Status::Ok => Ok(()),
            status => Err(CallError { plugin: self.info().id.clone(), status, message: self.err.message().to_string() }),
        }
    }

    fn ladspa_error(&self, message: String) -> CallError {
        CallError { plugin: self.info().id.clone(), status: Status::InvalidArgument, message }
    }

    /// Processes one block; on failure the message is in
    /// [`last_error`](Self::last_error). Does not allocate.
    /// `input.len() == output.len()` and at most the instance's max block.
    pub fn process(&mut self, input: &[f32], output: &mut [f32], events: &mut [Event], event_count: &mut usize, dropped: &mut u32) -> Status {
        debug_assert_eq!(input.len(), output.len());
        let frames = input.len().min(output.len());
        self.err.clear();
        match &mut self.backend {
            Backend::Ladspa(l) => {
                l.process(&input[..frames], &mut output[..frames]);
                *event_count = 0;
                *dropped = 0;
                Status::Ok
            }
            Backend::Native { handle, library } => {
                let mut buffer = EventBuffer { events: events.as_mut_ptr(), capacity: events.len() as u32, count: 0, dropped: 0 };
                // SAFETY: a live handle (freed only in Drop), `frames` samples
                // in each of two distinct buffers (the caller's slices, length
                // checked above), `buffer` over `events`' whole capacity;
                // `&mut self` keeps calls on this instance from overlapping.
                let status = unsafe { (library.fns.process)(*handle, input.as_ptr(), output.as_mut_ptr(), frames as u32, &mut buffer, &mut self.err) };
                *event_count = (buffer.count as usize).min(events.len());
                *dropped = buffer.dropped;
                Status::from_raw(status)
            }
        }
    }

    /// The stream has ended: the events the plugin held back (offsets from
    /// the frame after the last one processed), then the instance starts
    /// over as after [`reset`](Self::reset). A plugin without the
    /// end-of-stream extension held nothing back and is reset. Does not
    /// allocate.
    pub fn flush(&mut self, events: &mut [Event], event_count: &mut usize, dropped: &mut u32) -> Status {
        self.err.clear();
        (*event_count, *dropped) = (0, 0);
        if let Backend::Native { handle, library } = &mut self.backend {
            if let Some(flush) = library.fns.flush {
                let mut buffer = EventBuffer { events: events.as_mut_ptr(), capacity: events.len() as u32, count: 0, dropped: 0 };
                // SAFETY: a live handle (freed only in Drop), `buffer` over
                // `events`' whole capacity; `&mut self` keeps calls on this
                // instance from overlapping.
                let status = unsafe { flush(*handle, &mut buffer, &mut self.err) };
                *event_count = (buffer.count as usize).min(events.len());
                *dropped = buffer.dropped;
                return Status::from_raw(status);
            }
        }
        match self.reset() {
            Ok(()) => Status::Ok,
            Err(e) => e.status,
        }
    }

    /// The message of the last failed call, in the host-owned buffer.
    pub fn last_error(&self) -> &ErrorBuf {
        &self.err
    }

    pub fn set_param(&mut self, id: u32, value: f64) -> Result<(), CallError> {
        self.err.clear();
        match &mut self.backend {
            Backend::Ladspa(l) => {
                let result = l.set_param(id, value);
                result.map_err(|m| self.ladspa_error(m))
            }
            Backend::Native { handle, library } => {
                // SAFETY: a live handle and our error buffer; `&mut self`.
                let status = unsafe { (library.fns.set_param)(*handle, id, value, &mut self.err) };
                self.check(status)
            }
        }
    }

    pub fn get_param(&mut self, id: u32) -> Result<f64, CallError> {
        self.err.clear();
        match &mut self.backend {
            Backend::Ladspa(l) => {
                let value = l.get_param(id);
                value.ok_or_else(|| self.ladspa_error("unknown parameter".into()))
            }
            Backend::Native { handle, library } => {
                let mut value = 0.0;
                // SAFETY: a live handle, a writable f64 and our error buffer.
                let status = unsafe { (library.fns.get_param)(*handle, id, &mut value, &mut self.err) };
                self.check(status).map(|()| value)
            }
        }
    }

    pub fn reset(&mut self) -> Result<(), CallError> {
        self.err.clear();
        match &mut self.backend {
            Backend::Ladspa(l) => {
                l.reset();
                Ok(())
            }
            Backend::Native { handle, library } => {
                // SAFETY: a live handle and our error buffer; `&mut self`.
                let status = unsafe { (library.fns.reset)(*handle, &mut self.err) };
                self.check(status)
            }
        }
    }

    pub fn latency(&self) -> u32 {
        match &self.backend {
            // SAFETY: a live handle; `latency` reads the instance only.
            Backend::Native { handle, library } => unsafe { (library.fns.latency)(*handle) },
            // LADSPA has no latency call: by convention a plugin reports it
            // on a control output named "latency" (tap_limiter: 50).
            Backend::Ladspa(instance) => instance.latency(),
        }
    }
}

impl Drop for PluginInstance {
    fn drop(&mut self) {
        if let Backend::Native { handle, library } = &self.backend {
            // SAFETY: the handle `create` gave, freed once, here; the
            // library outlives it (`library` is an Arc held beside it).
            unsafe { (library.fns.destroy)(*handle) };
        }
    }
}
