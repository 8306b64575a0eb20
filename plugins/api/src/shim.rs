//! The C shim generated for every [`Plugin`] by [`export_plugin!`].
//!
//! Each entry point checks its pointers, runs the plugin inside
//! `catch_unwind`, and converts the outcome to a status plus a message in the
//! host's [`ErrorBuf`]. A panic poisons the instance: until `reset`, every
//! `process` call fails fast with [`Status::Panicked`], because the plugin's
//! state may be half-updated.
//!
//! [`export_plugin!`]: crate::export_plugin

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::abi::{AbiVersion, ErrorBuf, EventBuffer, FlushExtension, Instance, ParamDescriptor, PluginDescriptor, Status, ABI_VERSION, FLUSH_EXTENSION_ID};
use crate::{check_param, Events, Plugin, PluginError};

/// The descriptor for `P`, built at compile time.
pub const fn descriptor<P: Plugin>() -> PluginDescriptor {
    PluginDescriptor {
        abi_version: AbiVersion { ..ABI_VERSION },
        struct_size: std::mem::size_of::<PluginDescriptor>() as u32,
        param_struct_size: std::mem::size_of::<ParamDescriptor>() as u32,
        id: P::ID.as_ptr(),
        name: P::NAME.as_ptr(),
        version: P::VERSION.as_ptr(),
        description: P::DESCRIPTION.as_ptr(),
        param_count: P::PARAMS.len() as u32,
        params: P::PARAMS.as_ptr(),
        create: Some(create::<P>),
        destroy: Some(destroy::<P>),
        process: Some(process::<P>),
        set_param: Some(set_param::<P>),
        get_param: Some(get_param::<P>),
        reset: Some(reset::<P>),
        latency: Some(latency::<P>),
        get_extension: Some(get_extension::<P>),
    }
}

struct Wrapper<P> {
    plugin: P,
    max_block: usize,
    poisoned: bool,
}

thread_local! {
    /// Where the quiet panic hook leaves the location of the last panic, so
    /// the error message can say where it happened.
    static PANIC_LOCATION: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Replaces this library's panic hook (each cdylib has its own std) with one
/// that records the location instead of printing to stderr.
fn install_quiet_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if let Some(loc) = info.location() {
                let text = format!("{}:{}", loc.file(), loc.line());
                let _ = PANIC_LOCATION.try_with(|cell| {
                    if let Ok(mut slot) = cell.try_borrow_mut() {
                        *slot = text;
                    }
                });
            }
        }));
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string payload".to_string());
    let at = PANIC_LOCATION.try_with(|cell| cell.try_borrow().map(|s| s.clone()).unwrap_or_default()).unwrap_or_default();
    if at.is_empty() {
        format!("plugin panicked: {what}")
    } else {
        format!("plugin panicked at {at}: {what}")
    }
}

/// Writes the error (if any) into `err` and returns the raw status.
fn report(result: Result<(), PluginError>, err: Option<&mut ErrorBuf>) -> i32 {
    match result {
        Ok(()) => Status::Ok as i32,
        Err(e) => {
            if let Some(buf) = err {
                buf.write(&e.message);
            }
            e.status as i32
        }
    }
}

/// Runs `f` and turns a panic into `Status::Panicked` with its message.
/// `poison` is set when the panic came from inside an instance.
fn guarded(err: Option<&mut ErrorBuf>, poison: Option<&mut bool>, f: impl FnOnce() -> Result<(), PluginError>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => report(result, err),
        Err(payload) => {
            if let Some(flag) = poison {
                *flag = true;
            }
            if let Some(buf) = err {
                buf.write(&panic_message(payload.as_ref()));
            }
            Status::Panicked as i32
        }
    }
}

/// The host's error buffer, if it gave one.
///
/// # Safety
/// `err` is null or points at an `ErrorBuf` the host owns and does not
/// touch during the call, as the ABI says of every `err` argument.
unsafe fn error_buf<'a>(err: *mut ErrorBuf) -> Option<&'a mut ErrorBuf> {
    // SAFETY: null or valid and unaliased for the call, as the caller promises.
    unsafe { err.as_mut() }
}

/// The instance behind the handle `create` gave out, if not null.
///
/// # Safety
/// `instance` is null or a handle `create::<P>` returned and `destroy` has
/// not freed; no other call on it runs at the same time (the ABI's rule).
unsafe fn wrapper<'a, P: Plugin>(instance: Instance) -> Option<&'a mut Wrapper<P>> {
    // SAFETY: a live `Box<Wrapper<P>>` from `create`, used by one call at a
    // time, as the caller promises.
    unsafe { instance.cast::<Wrapper<P>>().as_mut() }
}

const NULL_INSTANCE: PluginError = PluginError::new("null instance pointer");

unsafe extern "C" fn create<P: Plugin>(sample_rate: f64, max_block: u32, out: *mut Instance, err: *mut ErrorBuf) -> i32 {
    install_quiet_panic_hook();
    // SAFETY: the host's `err`, per the ABI.
    let err = unsafe { error_buf(err) };
    guarded(err, None, || {
        if out.is_null() {
            return Err(PluginError::new("null output pointer"));
        }
        if !(sample_rate.is_finite() && sample_rate > 0.0) || max_block == 0 {
            return Err(PluginError::invalid_argument(format!("invalid sample rate {sample_rate} or block size {max_block}")));
        }
        let plugin = P::new(sample_rate, max_block as usize)?;
        let wrapper = Box::new(Wrapper { plugin, max_block: max_block as usize, poisoned: false });
        // SAFETY: `out` is not null (checked above) and the host gives a
        // writable `Instance` slot, per the ABI.
        unsafe { *out = Box::into_raw(wrapper).cast::<c_void>() };
        Ok(())
    })
}

unsafe extern "C" fn destroy<P: Plugin>(instance: Instance) {
    if instance.is_null() {
        return;
    }
    // A panic in Drop must not cross the boundary either.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a handle from `create::<P>` (a leaked `Box<Wrapper<P>>`),
        // freed once: the host calls `destroy` last and only once.
        drop(unsafe { Box::from_raw(instance.cast::<Wrapper<P>>()) });
    }));
}

unsafe extern "C" fn process<P: Plugin>(
    instance: Instance,
    input: *const f32,
    output: *mut f32,
    frames: u32,
    events: *mut EventBuffer,
    err: *mut ErrorBuf,
) -> i32 {
    // SAFETY: the host's `err` and handle, per the ABI.
    let (err, w) = unsafe { (error_buf(err), wrapper::<P>(instance)) };
    let Some(w) = w else { return report(Err(NULL_INSTANCE), err) };
    if w.poisoned {
        return report(Err(PluginError { status: Status::Panicked, message: "instance panicked earlier; reset it first".into() }), err);
    }
    let frames = frames as usize;
    if frames > w.max_block || (frames > 0 && (input.is_null() || output.is_null())) {
        return report(Err(PluginError::invalid_argument("block larger than max_block, or null buffer")), err);
    }
    let (input, output): (&[f32], &mut [f32]) = if frames == 0 {
        (&[], &mut [])
    } else {
        // SAFETY: the host guarantees `frames` valid, distinct samples in
        // each buffer for the duration of the call.
        unsafe { (std::slice::from_raw_parts(input, frames), std::slice::from_raw_parts_mut(output, frames)) }
    };
    let plugin = &mut w.plugin;
    // SAFETY: `events` is null or the host's buffer, per the ABI.
    unsafe { with_events(events, |sink| guarded(err, Some(&mut w.poisoned), || plugin.process(input, output, sink))) }
}

/// Runs `f` with the host's event buffer as [`Events`], then records in it
/// how many were written and dropped.
///
/// # Safety
/// `events` is null or the host's buffer of `capacity` initialised events,
/// untouched by the host during the call, per the ABI.
unsafe fn with_events(events: *mut EventBuffer, f: impl FnOnce(&mut Events<'_>) -> i32) -> i32 {
    // SAFETY: null or the host's buffer, as the caller promises.
    let (slots, buffer): (&mut [crate::Event], Option<&mut EventBuffer>) = match unsafe { events.as_mut() } {
        Some(buf) if !buf.events.is_null() && buf.capacity > 0 => {
            // SAFETY: the host provides `capacity` initialised events.
            let slots = unsafe { std::slice::from_raw_parts_mut(buf.events, buf.capacity as usize) };
            (slots, Some(buf))
        }
        other => (&mut [], other),
    };
    let mut sink = Events::new(slots);
    let status = f(&mut sink);
    if let Some(buf) = buffer {
        buf.count = sink.as_slice().len() as u32;
        buf.dropped = buf.dropped.saturating_add(sink.dropped() as u32);
    }
    status
}

unsafe extern "C" fn set_param<P: Plugin>(instance: Instance, id: u32, value: f64, err: *mut ErrorBuf) -> i32 {
    // SAFETY: the host's `err` and handle, per the ABI.
    let (err, w) = unsafe { (error_buf(err), wrapper::<P>(instance)) };
    let Some(w) = w else { return report(Err(NULL_INSTANCE), err) };
    guarded(err, Some(&mut w.poisoned), || {
        check_param(P::PARAMS, id, value)?;
        w.plugin.set_param(id, value)
    })
}

unsafe extern "C" fn get_param<P: Plugin>(instance: Instance, id: u32, value: *mut f64, err: *mut ErrorBuf) -> i32 {
    // SAFETY: the host's `err` and handle, per the ABI.
    let (err, w) = unsafe { (error_buf(err), wrapper::<P>(instance)) };
    let Some(w) = w else { return report(Err(NULL_INSTANCE), err) };
    guarded(err, Some(&mut w.poisoned), || {
        if value.is_null() {
            return Err(PluginError::new("null value pointer"));
        }
        match w.plugin.get_param(id) {
            Some(v) => {
                // SAFETY: not null (checked above); the host's writable f64.
                unsafe { *value = v };
                Ok(())
            }
            None => Err(PluginError::invalid_argument("unknown parameter id")),
        }
    })
}

unsafe extern "C" fn reset<P: Plugin>(instance: Instance, err: *mut ErrorBuf) -> i32 {
    // SAFETY: the host's `err` and handle, per the ABI.
    let (err, w) = unsafe { (error_buf(err), wrapper::<P>(instance)) };
    let Some(w) = w else { return report(Err(NULL_INSTANCE), err) };
    let status = guarded(err, None, || {
        w.plugin.reset();
        Ok(())
    });
    w.poisoned = status != Status::Ok as i32;
    status
}

unsafe extern "C" fn latency<P: Plugin>(instance: Instance) -> u32 {
    // SAFETY: the host's handle, per the ABI.
    let Some(w) = (unsafe { wrapper::<P>(instance) }) else {
        return 0;
    };
    catch_unwind(AssertUnwindSafe(|| w.plugin.latency())).unwrap_or(0)
}

unsafe extern "C" fn flush<P: Plugin>(instance: Instance, events: *mut EventBuffer, err: *mut ErrorBuf) -> i32 {
    // SAFETY: the host's `err` and handle, per the ABI.
    let (err, w) = unsafe { (error_buf(err), wrapper::<P>(instance)) };
    let Some(w) = w else { return report(Err(NULL_INSTANCE), err) };
    if w.poisoned {
        return report(Err(PluginError { status: Status::Panicked, message: "instance panicked earlier; reset it first".into() }), err);
    }
    let plugin = &mut w.plugin;
    let poisoned = &mut w.poisoned;
    // SAFETY: `events` is null or the host's buffer, per the ABI.
    unsafe {
        with_events(events, |sink| {
            // The stream is over either way: a new one starts clean.
            guarded(err, Some(poisoned), || {
                let held = plugin.flush(sink);
                plugin.reset();
                held
            })
        })
    }
}

/// The extensions `P` offers: the end-of-stream one where it flushes.
unsafe extern "C" fn get_extension<P: Plugin>(id: *const c_char) -> *const c_void {
    if id.is_null() || !P::FLUSHES {
        return std::ptr::null();
    }
    // SAFETY: a NUL-terminated string the host owns for the call, per the ABI.
    let id = unsafe { CStr::from_ptr(id) };
    if id != FLUSH_EXTENSION_ID {
        return std::ptr::null();
    }
    let extension: &'static FlushExtension = const { &FlushExtension { struct_size: std::mem::size_of::<FlushExtension>() as u32, flush: Some(flush::<P>) } };
    (extension as *const FlushExtension).cast()
}

#[cfg(test)]
// Tests poke at foreign memory on purpose; the production code says why each unsafe block is sound.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;
    use crate::abi::Event;
    use crate::EventKind;
    use std::ffi::CStr;

    /// Holds one onset back until the stream ends; panics there when told.
    struct Holder {
        held: bool,
        panic_at_end: bool,
    }

    impl Plugin for Holder {
        const ID: &'static CStr = c"org.example.holder";
        const NAME: &'static CStr = c"Holder";
        const VERSION: &'static CStr = c"1.0.0";
        const DESCRIPTION: &'static CStr = c"Holds an event back until the end";
        const PARAMS: &'static [ParamDescriptor] = &[];
        const FLUSHES: bool = true;

        fn new(_: f64, _: usize) -> Result<Self, PluginError> {
            Ok(Holder { held: false, panic_at_end: false })
        }
        fn process(&mut self, input: &[f32], output: &mut [f32], _: &mut Events<'_>) -> Result<(), PluginError> {
            output.copy_from_slice(input);
            self.held = true;
            Ok(())
        }
        fn set_param(&mut self, _: u32, _: f64) -> Result<(), PluginError> {
            Err(PluginError::new("none"))
        }
        fn get_param(&self, _: u32) -> Option<f64> {
            None
        }
        fn reset(&mut self) {
            self.held = false;
        }
        fn flush(&mut self, events: &mut Events<'_>) -> Result<(), PluginError> {
            assert!(!self.panic_at_end, "told to");
            if self.held {
                events.push(-3, EventKind::S1, 72.0);
            }
            Ok(())
        }
    }

    /// The same without the extension.
    struct Plain;

    impl Plugin for Plain {
        const ID: &'static CStr = c"org.example.plain";
        const NAME: &'static CStr = c"Plain";
        const VERSION: &'static CStr = c"1.0.0";
        const DESCRIPTION: &'static CStr = c"Holds nothing";
        const PARAMS: &'static [ParamDescriptor] = &[];

        fn new(_: f64, _: usize) -> Result<Self, PluginError> {
            Ok(Plain)
        }
        fn process(&mut self, _: &[f32], _: &mut [f32], _: &mut Events<'_>) -> Result<(), PluginError> {
            Ok(())
        }
        fn set_param(&mut self, _: u32, _: f64) -> Result<(), PluginError> {
            Err(PluginError::new("none"))
        }
        fn get_param(&self, _: u32) -> Option<f64> {
            None
        }
        fn reset(&mut self) {}
    }

    fn extension<P: Plugin>(id: &CStr) -> Option<&'static FlushExtension> {
        let get = descriptor::<P>().get_extension.unwrap();
        unsafe { get(id.as_ptr()).cast::<FlushExtension>().as_ref() }
    }

    #[test]
    fn the_end_of_stream_extension_is_offered_by_plugins_that_flush_and_only_under_its_id() {
        let ext = extension::<Holder>(FLUSH_EXTENSION_ID).expect("offered");
        assert_eq!(ext.struct_size as usize, std::mem::size_of::<FlushExtension>());
        assert!(ext.flush.is_some());
        assert!(extension::<Holder>(c"auscult.flush/2").is_none());
        assert!(extension::<Plain>(FLUSH_EXTENSION_ID).is_none());
        assert!(unsafe { get_extension::<Holder>(std::ptr::null()) }.is_null());
    }

    #[test]
    fn flush_reports_what_was_held_back_then_resets_and_a_panic_there_poisons() {
        let flush = extension::<Holder>(FLUSH_EXTENSION_ID).unwrap().flush.unwrap();
        let mut instance: Instance = std::ptr::null_mut();
        let mut err = ErrorBuf::default();
        assert_eq!(unsafe { create::<Holder>(4000.0, 64, &mut instance, &mut err) }, Status::Ok as i32);
        let (input, mut output) = ([0.5f32; 8], [0.0f32; 8]);
        let mut slots = [Event::default(); 4];
        let mut buffer = EventBuffer { events: slots.as_mut_ptr(), capacity: 4, count: 0, dropped: 0 };
        assert_eq!(unsafe { process::<Holder>(instance, input.as_ptr(), output.as_mut_ptr(), 8, &mut buffer, &mut err) }, Status::Ok as i32);
        assert_eq!(buffer.count, 0, "held back while the stream runs");

        assert_eq!(unsafe { flush(instance, &mut buffer, &mut err) }, Status::Ok as i32);
        assert_eq!(buffer.count, 1);
        assert_eq!((slots[0].offset, slots[0].kind, slots[0].value), (-3, EventKind::S1 as u32, 72.0));
        let mut buffer = EventBuffer { events: slots.as_mut_ptr(), capacity: 4, count: 0, dropped: 0 };
        assert_eq!(unsafe { flush(instance, &mut buffer, &mut err) }, Status::Ok as i32);
        assert_eq!(buffer.count, 0, "reset after the first flush: nothing held");

        unsafe { wrapper::<Holder>(instance) }.unwrap().plugin.panic_at_end = true;
        assert_eq!(unsafe { flush(instance, &mut buffer, &mut err) }, Status::Panicked as i32);
        assert!(err.message().contains("told to"), "{}", err.message());
        assert_eq!(unsafe { process::<Holder>(instance, input.as_ptr(), output.as_mut_ptr(), 8, &mut buffer, &mut err) }, Status::Panicked as i32);
        assert_eq!(unsafe { flush(std::ptr::null_mut(), &mut buffer, &mut err) }, Status::Error as i32);
        unsafe { destroy::<Holder>(instance) };
    }
}
