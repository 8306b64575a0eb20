//! A plugin built against a hypothetical ABI 1.1: the 1.0 descriptor with a
//! field added at the end, and parameter descriptors with one added too,
//! each struct's size saying so. A 1.0 host must load it, reading the
//! fields it knows (the parameters at the plugin's stride) and ignoring the
//! rest, as the ABI's minor versions promise.

use std::ffi::CStr;

use auscult_plugin_api::abi::{AbiVersion, ParamDescriptor, PluginDescriptor, ABI_VERSION};
use auscult_plugin_api::{param, shim, Events, ParamScale, Plugin, PluginError};

/// Multiplies by `gain` (linear) and adds `offset`.
pub struct Scale {
    gain: f32,
    offset: f32,
}

const GAIN: u32 = 0;
const OFFSET: u32 = 5;

impl Plugin for Scale {
    const ID: &'static CStr = c"org.auscult.test.newer-minor";
    const NAME: &'static CStr = c"Newer minor";
    const VERSION: &'static CStr = c"1.1.0";
    const DESCRIPTION: &'static CStr = c"Built against a hypothetical ABI 1.1 (for tests)";
    const PARAMS: &'static [ParamDescriptor] =
        &[param(GAIN, c"gain", c"", 0.0, 4.0, 1.0, ParamScale::Linear), param(OFFSET, c"offset", c"", -1.0, 1.0, 0.0, ParamScale::Linear)];

    fn new(_: f64, _: usize) -> Result<Self, PluginError> {
        Ok(Scale { gain: 1.0, offset: 0.0 })
    }

    fn process(&mut self, input: &[f32], output: &mut [f32], _: &mut Events<'_>) -> Result<(), PluginError> {
        for (o, i) in output.iter_mut().zip(input) {
            *o = i * self.gain + self.offset;
        }
        Ok(())
    }

    fn set_param(&mut self, id: u32, value: f64) -> Result<(), PluginError> {
        match id {
            GAIN => self.gain = value as f32,
            OFFSET => self.offset = value as f32,
            _ => return Err(PluginError::new("unknown parameter")),
        }
        Ok(())
    }

    fn get_param(&self, id: u32) -> Option<f64> {
        match id {
            GAIN => Some(f64::from(self.gain)),
            OFFSET => Some(f64::from(self.offset)),
            _ => None,
        }
    }

    fn reset(&mut self) {}
}

/// The 1.1 plugin descriptor: 1.0's, then what 1.1 added.
#[repr(C)]
pub struct DescriptorV1_1 {
    pub v1_0: PluginDescriptor,
    pub added_in_1_1: u64,
}

/// The 1.1 parameter descriptor: 1.0's, then what 1.1 added.
#[repr(C)]
pub struct ParamV1_1 {
    pub v1_0: ParamDescriptor,
    pub added_in_1_1: f64,
}

// SAFETY: plain data with pointers to static strings, never written.
unsafe impl Sync for DescriptorV1_1 {}
// SAFETY: as above.
unsafe impl Sync for ParamV1_1 {}

static PARAMS: [ParamV1_1; 2] = [ParamV1_1 { v1_0: Scale::PARAMS[0], added_in_1_1: 11.0 }, ParamV1_1 { v1_0: Scale::PARAMS[1], added_in_1_1: 12.0 }];

static DESCRIPTOR: DescriptorV1_1 = DescriptorV1_1 {
    v1_0: PluginDescriptor {
        abi_version: AbiVersion { major: ABI_VERSION.major, minor: ABI_VERSION.minor + 1, patch: 0 },
        struct_size: std::mem::size_of::<DescriptorV1_1>() as u32,
        param_struct_size: std::mem::size_of::<ParamV1_1>() as u32,
        param_count: 2,
        params: &PARAMS as *const [ParamV1_1; 2] as *const ParamDescriptor,
        ..shim::descriptor::<Scale>()
    },
    added_in_1_1: 0xA11CE,
};

/// The entry point, as `export_plugin!` would write it for a 1.1 descriptor.
#[unsafe(no_mangle)]
pub extern "C" fn auscult_plugin_entry() -> *const PluginDescriptor {
    &DESCRIPTOR.v1_0
}
