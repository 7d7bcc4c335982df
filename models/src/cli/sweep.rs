//! `counterpart sweep`: train and evaluate a preset for each alphabet size and look-ahead on a
//! stems set, and write the table of their scores.

use std::path::PathBuf;

use counterpart_models::eval::sweep::{sweep, SweepOptions};

use super::build_settings::{build_options, CommonBuildArgs};

/// Arguments of `counterpart sweep`.
#[derive(clap::Args, Debug, Clone)]
pub struct SweepArgs {
    /// A stems folder.
    stems_dir: PathBuf,
    /// Alphabet sizes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![16usize, 64, 256])]
    k: Vec<usize>,
    /// Look-aheads.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0usize, 1])]
    lookahead: Vec<usize>,
    /// Markdown table output (copy the tables into docs/results/decision.md by hand).
    #[arg(long, default_value = "target/sweep/table.md")]
    out: PathBuf,
    /// Folder for the presets of the sweep.
    #[arg(long, default_value = "target/sweep")]
    presets: PathBuf,
    /// Re-evaluate the runs whose preset is already in `--presets` instead of training them
    /// again (finishes an interrupted sweep; rescores after an evaluation change).
    #[arg(long)]
    reuse: bool,
    #[command(flatten)]
    common: CommonBuildArgs,
}

/// Runs the sweep, writes its table and prints it.
pub fn run(args: &SweepArgs) -> Result<(), String> {
    let table = sweep(
        &args.stems_dir,
        &SweepOptions {
            ks: args.k.clone(),
            lookaheads: args.lookahead.clone(),
            out: args.out.clone(),
            presets: args.presets.clone(),
            base: build_options(&args.common, 16, 0),
            reuse: args.reuse,
        },
    )
    .map_err(|e| e.to_string())?;
    print!("{table}");
    Ok(())
}
