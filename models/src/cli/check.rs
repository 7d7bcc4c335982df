//! `counterpart check`: a health check of a stems set (formats, rates, channels, lengths,
//! alignment, silence, duration), a line per problem and a summary; errors make it fail.

use std::path::PathBuf;

use counterpart_models::data::check::{check, CheckOptions};
use counterpart_models::data::layout::StemsSet;

use super::pairs::PairArgs;

/// Arguments of `counterpart check`.
#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// A stems folder (manifest.json, <piece>/<stem>.<ext> or <piece>/<instrument>/*.<ext>).
    stems_dir: PathBuf,
    #[command(flatten)]
    pairs: PairArgs,
    /// Shortest usable piece, in seconds.
    #[arg(long, default_value_t = 5.0)]
    min_seconds: f64,
}

/// Checks the stems set and prints its diagnostics and a summary; fails when there are errors.
pub fn run(args: &CheckArgs) -> Result<(), String> {
    let set = StemsSet::open(&args.stems_dir).map_err(|e| e.to_string())?;
    let report = check(
        &set,
        &CheckOptions {
            min_seconds: args.min_seconds,
            selection: args.pairs.selection(),
        },
    );
    for d in &report.diagnostics {
        println!("{d}");
    }
    println!(
        "{} pieces, {} files, {:.1} min of pieces: {} error(s), {} warning(s)",
        report.pieces,
        report.files,
        report.seconds / 60.0,
        report.errors(),
        report.warnings()
    );
    if report.errors() > 0 {
        Err(format!(
            "{} error(s) in {}",
            report.errors(),
            args.stems_dir.display()
        ))
    } else {
        Ok(())
    }
}
