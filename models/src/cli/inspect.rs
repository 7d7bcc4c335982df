//! `counterpart inspect`: what a preset holds, for people (the summary, the held-out evaluation
//! as a table, a line per trained model, the build's timing on one line; no line over 120
//! characters) or, with `--json`, its whole header for machines.

use std::path::PathBuf;

use counterpart_core::preset::Preset;

/// Arguments of `counterpart inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// The preset file.
    preset: PathBuf,
    /// Print the preset's whole JSON header (metrics included) instead.
    #[arg(long)]
    json: bool,
}

/// Prints the preset's summary, or its header with `--json`.
pub fn run(args: &InspectArgs) -> Result<(), String> {
    if args.json {
        let bytes = std::fs::read(&args.preset)
            .map_err(|e| format!("cannot read {}: {e}", args.preset.display()))?;
        let header = Preset::header_json(&bytes).map_err(|e| e.to_string())?;
        let text = serde_json::to_string_pretty(&header).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        let preset = Preset::load(&args.preset).map_err(|e| e.to_string())?;
        print!("{}", preset.summary());
    }
    Ok(())
}
