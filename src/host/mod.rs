//! The plugin host: loading (with ABI and permission checks), the chain that
//! runs plugins with fault containment, and chain files.
//!
//! Data flows one way: audio in -> [`Chain`] -> mel extractor -> model -> UI.

pub mod abi;
pub mod chain;
pub mod config;
pub mod discovery;
pub mod instance;
pub mod ladspa;
pub mod library;

pub use abi::{ParamInfo, PluginInfo};
pub use auscult_plugin_api::EventKind;
pub use chain::{Chain, ChainEvent, CycleTracker, Fault, FaultKind, Slot, SlotStats};
pub use config::{ChainConfig, ConfigError};
pub use discovery::SearchPath;
pub use instance::{CallError, PluginInstance};
pub use library::{LoadError, PluginLibrary};
