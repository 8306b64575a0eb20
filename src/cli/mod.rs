//! Subcommand implementations, at the binary's edge (anyhow errors).

pub mod analyze;
mod corpus;
pub mod devices;
pub mod eval;
pub mod features;
pub mod plugins;
pub mod process;
pub mod record;
pub mod train;
pub mod tui;
