//! Subcommand implementations, at the binary's edge (anyhow errors).

pub mod devices;
pub mod features;
pub mod plugins;
pub mod process;
pub mod record;

/// Until the terminal UI lands, say what `auscult` will do and what works.
pub fn print_tui_placeholder() {
    println!(
        "auscult: the live terminal UI (spectrogram, breath cycles, predictions) is not built yet.\n\
         Available now:\n  \
         auscult plugins list                      list preprocessing plugins\n  \
         auscult plugins check LIB.so              exercise one plugin on test signals\n  \
         auscult process --chain C.toml IN OUT     run a chain offline over a recording\n  \
         auscult features mel IN --out OUT.npy     mel spectrogram as librosa computes it\n\
         See `auscult --help`."
    );
}
