//! auscult: listen to heart and lung sounds with a computer.
//!
//! The library behind the `auscult` binary. Audio flows one way:
//! [`audio`] (decode, capture) -> [`host`] (plugin chain) -> analysis -> UI.

#![deny(clippy::unwrap_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::panic))]

pub mod analysis;
pub mod audio;
pub mod beat_eval;
pub mod datasets;
pub mod dsp;
#[doc(hidden)]
pub mod fuzz;
pub mod host;
pub mod metrics;
pub mod model;
pub mod plots;
pub mod trust;
pub mod ui;
