//! A plugin built against an ABI major version the host does not speak.
//!
//! Its descriptor has a correct layout but claims the next major version.
//! Every function in it aborts the process: a host that calls anything
//! before checking the version kills the test that loads it.

use std::ffi::{c_char, c_void};

use auscult_plugin_api::abi::{AbiVersion, ErrorBuf, EventBuffer, Instance, ParamDescriptor, PluginDescriptor, ABI_VERSION};

unsafe extern "C" fn create(_: f64, _: u32, _: *mut Instance, _: *mut ErrorBuf) -> i32 {
    std::process::abort()
}
unsafe extern "C" fn destroy(_: Instance) {
    std::process::abort()
}
unsafe extern "C" fn process(_: Instance, _: *const f32, _: *mut f32, _: u32, _: *mut EventBuffer, _: *mut ErrorBuf) -> i32 {
    std::process::abort()
}
unsafe extern "C" fn set_param(_: Instance, _: u32, _: f64, _: *mut ErrorBuf) -> i32 {
    std::process::abort()
}
unsafe extern "C" fn get_param(_: Instance, _: u32, _: *mut f64, _: *mut ErrorBuf) -> i32 {
    std::process::abort()
}
unsafe extern "C" fn reset(_: Instance, _: *mut ErrorBuf) -> i32 {
    std::process::abort()
}
unsafe extern "C" fn latency(_: Instance) -> u32 {
    std::process::abort()
}
unsafe extern "C" fn get_extension(_: *const c_char) -> *const c_void {
    std::process::abort()
}

static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    abi_version: AbiVersion { major: ABI_VERSION.major + 1, minor: 0, patch: 0 },
    struct_size: std::mem::size_of::<PluginDescriptor>() as u32,
    param_struct_size: std::mem::size_of::<ParamDescriptor>() as u32,
    id: c"org.auscult.test.old-abi".as_ptr(),
    name: c"Wrong ABI".as_ptr(),
    version: c"9.9.9".as_ptr(),
    description: c"Claims the next ABI major version (for tests)".as_ptr(),
    param_count: 0,
    params: std::ptr::null(),
    create: Some(create),
    destroy: Some(destroy),
    process: Some(process),
    set_param: Some(set_param),
    get_param: Some(get_param),
    reset: Some(reset),
    latency: Some(latency),
    get_extension: Some(get_extension),
};

/// The entry point, as `export_plugin!` would write it.
#[unsafe(no_mangle)]
pub extern "C" fn auscult_plugin_entry() -> *const PluginDescriptor {
    &DESCRIPTOR
}
