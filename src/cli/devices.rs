//! `auscult devices`: the capture devices and what each supports.

use std::process::ExitCode;

use auscult::audio::capture;

pub fn run() -> anyhow::Result<ExitCode> {
    let inputs = capture::list_inputs()?;
    if inputs.is_empty() {
        println!("no capture devices found (auscult can still replay a file: --input FILE)");
        return Ok(ExitCode::SUCCESS);
    }
    for device in inputs {
        let default = if device.is_default { "  (default)" } else { "" };
        println!("{}{default}", device.id);
        if !device.description.is_empty() && device.description != device.id {
            println!("    {}", device.description.replace('\n', " / "));
        }
        for config in &device.configs {
            println!("    {config}");
        }
        if let Some(error) = &device.error {
            println!("    cannot read its configurations: {error}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
