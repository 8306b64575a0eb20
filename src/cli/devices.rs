//! `auscult devices`: the capture devices and what each supports.

use std::process::ExitCode;

use auscult::audio::capture;

pub fn run() -> anyhow::Result<ExitCode> {
    let inputs = capture::list_inputs()?;
    if inputs.is_empty() {
        outln!("no capture devices found (auscult can still replay a file: --input FILE)");
        return Ok(ExitCode::SUCCESS);
    }
    for device in inputs {
        let default = if device.is_default { "  (default)" } else { "" };
        outln!("{}{default}", device.id);
        if !device.description.is_empty() && device.description != device.id {
            outln!("    {}", device.description.replace('\n', " / "));
        }
        for config in &device.configs {
            outln!("    {config}");
        }
        if let Some(error) = &device.error {
            outln!("    cannot read its configurations: {error}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
