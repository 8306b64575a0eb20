//! Audio in and out: decoding files and writing WAV.

pub mod decode;
pub mod resample;
pub mod wav;

pub use decode::{decode_file, DecodeError, Decoded};
