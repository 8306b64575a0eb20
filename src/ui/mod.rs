//! The terminal UI: state + key handling (`app`), the keymap both the keys
//! and the help come from (`keymap`), drawing (`render`) and themes. The terminal loop that ties them to the analysis thread lives
//! in the binary (src/cli/tui.rs).

pub mod app;
pub mod keymap;
pub mod render;
pub mod theme;

pub use app::{App, Mode};
pub use theme::{ColorDepth, Theme};
