//! Subcommand implementations, at the binary's edge (anyhow errors).

/// `println!` that returns an error instead of panicking when stdout is
/// gone (`auscult plugins list | head -1`): `main` ends quietly on a broken
/// pipe. For functions that return `anyhow::Result`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub mod analyze;
mod corpus;
pub mod devices;
pub mod eval;
pub mod eval_beats;
pub mod features;
pub mod folds;
mod inputs;
pub mod plugins;
pub mod process;
pub mod record;
pub mod train;
pub mod tui;
pub mod tune_bias;

/// An error as one line: the outermost message and each cause the messages
/// before it do not already hold. The library's errors name their file and
/// carry their cause in their own text (so they read whole in the TUI and
/// in logs); anyhow's `{:#}` would print that cause a second time.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}

/// Whether the error is a write to a pipe whose reader has gone (Rust
/// ignores SIGPIPE, so the write fails instead of ending the process).
/// The csv crate's errors hold their I/O error without exposing it as a
/// source, so they are looked into too.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| match cause.downcast_ref::<csv::Error>()?.kind() {
            csv::ErrorKind::Io(io) => Some(io),
            _ => None,
        });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
