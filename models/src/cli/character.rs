//! `counterpart character`: the relation's character (how the companion part moves against the
//! guide: onset coincidence, note rate, presence, changes within a beat) of the pairs of a
//! stems set, measured on their note annotations without building a preset. `build-preset`
//! stores the same figures, measured on its training pairs.

use std::path::PathBuf;

use counterpart_models::data::layout::StemsSet;
use counterpart_models::pipeline::character::{manifest_tempi, measure_set, Tempi};

use super::pairs::PairArgs;

/// Arguments of `counterpart character`.
#[derive(clap::Args, Debug, Clone)]
pub struct CharacterArgs {
    /// A stems folder whose stems have notes (<piece>/<stem>.notes.json beside each stem).
    stems_dir: PathBuf,
    #[command(flatten)]
    pairs: PairArgs,
    /// Quarter-note tempo for the pieces whose manifest gives none (beats are counted only
    /// with a tempo).
    #[arg(long)]
    bpm: Option<f64>,
    /// Print the character as JSON, as a preset stores it.
    #[arg(long)]
    json: bool,
}

/// Measures and prints the character of the set's pairs.
pub fn run(args: &CharacterArgs) -> Result<(), String> {
    if args.bpm.is_some_and(|b| !(b.is_finite() && b > 0.0)) {
        return Err("--bpm must be a positive number".into());
    }
    let set = StemsSet::open(&args.stems_dir).map_err(|e| e.to_string())?;
    let tempi = Tempi {
        by_piece: manifest_tempi(&args.stems_dir).map_err(|e| e.to_string())?,
        fallback_bpm: args.bpm,
    };
    let counts =
        measure_set(&set, None, &args.pairs.selection(), &tempi).map_err(|e| e.to_string())?;
    if counts.pairs == 0 {
        return Err(format!(
            "no pair in {}: check --pairs, --guide and --target",
            args.stems_dir.display()
        ));
    }
    let character = counts.character();
    if args.json {
        let text = serde_json::to_string_pretty(&character).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{character}");
    }
    Ok(())
}
