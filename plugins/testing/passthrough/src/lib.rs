//! Pass-through: copies input to output. Measures the host's own overhead
//! (benches/chain.rs) and serves as the plain well-behaved plugin in tests.

use std::ffi::CStr;

use auscult_plugin_api::{export_plugin, Events, ParamDescriptor, Plugin, PluginError};

pub struct PassThrough;

impl Plugin for PassThrough {
    const ID: &'static CStr = c"org.auscult.test.passthrough";
    const NAME: &'static CStr = c"Pass-through";
    const VERSION: &'static CStr = c"1.0.0";
    const DESCRIPTION: &'static CStr = c"Copies input to output (for tests and benchmarks)";
    const PARAMS: &'static [ParamDescriptor] = &[];

    fn new(_: f64, _: usize) -> Result<Self, PluginError> {
        Ok(PassThrough)
    }

    fn process(&mut self, input: &[f32], output: &mut [f32], _: &mut Events<'_>) -> Result<(), PluginError> {
        output.copy_from_slice(input);
        Ok(())
    }

    fn set_param(&mut self, _: u32, _: f64) -> Result<(), PluginError> {
        Err(PluginError::new("no parameters"))
    }

    fn get_param(&self, _: u32) -> Option<f64> {
        None
    }

    fn reset(&mut self) {}
}

export_plugin!(PassThrough);
