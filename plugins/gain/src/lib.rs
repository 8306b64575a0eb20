//! Gain: multiplies the signal by a gain given in decibels.
//!
//! The simplest useful plugin, and the template for writing one: implement
//! [`Plugin`], then `export_plugin!`.

use std::ffi::CStr;

use auscult_plugin_api::{export_plugin, param, Events, ParamDescriptor, ParamScale, Plugin, PluginError};

const GAIN_DB: u32 = 0;

pub struct Gain {
    gain_db: f64,
    factor: f32,
}

impl Plugin for Gain {
    const ID: &'static CStr = c"org.auscult.gain";
    const NAME: &'static CStr = c"Gain";
    const VERSION: &'static CStr = c"1.0.0";
    const DESCRIPTION: &'static CStr = c"Multiplies the signal by a gain in dB";
    const PARAMS: &'static [ParamDescriptor] = &[param(GAIN_DB, c"gain_db", c"dB", -60.0, 40.0, 0.0, ParamScale::Linear)];

    fn new(_sample_rate: f64, _max_block: usize) -> Result<Self, PluginError> {
        Ok(Gain { gain_db: 0.0, factor: 1.0 })
    }

    fn process(&mut self, input: &[f32], output: &mut [f32], _: &mut Events<'_>) -> Result<(), PluginError> {
        for (o, i) in output.iter_mut().zip(input) {
            *o = i * self.factor;
        }
        Ok(())
    }

    fn set_param(&mut self, id: u32, value: f64) -> Result<(), PluginError> {
        match id {
            GAIN_DB => {
                self.gain_db = value;
                self.factor = 10f64.powf(value / 20.0) as f32;
                Ok(())
            }
            _ => Err(PluginError::new("unknown parameter")),
        }
    }

    fn get_param(&self, id: u32) -> Option<f64> {
        (id == GAIN_DB).then_some(self.gain_db)
    }

    fn reset(&mut self) {}
}

export_plugin!(Gain);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_six_db_halves() {
        let mut g = Gain::new(4000.0, 8).unwrap();
        g.set_param(GAIN_DB, -20.0 * 2f64.log10()).unwrap();
        let mut out = [0.0; 3];
        g.process(&[1.0, -0.5, 0.0], &mut out, &mut Events::new(&mut [])).unwrap();
        assert!((out[0] - 0.5).abs() < 1e-6 && (out[1] + 0.25).abs() < 1e-6 && out[2] == 0.0);
    }
}

#[cfg(test)]
auscult_plugin_api::no_alloc_test!(Gain);
