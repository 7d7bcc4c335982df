//! `counterpart build-preset`: a corpus preset from a stems set (check, encode, fit the
//! codebook, tokenise, train, evaluate on held-out pieces, pack), with a report of each trained
//! model.

use std::path::PathBuf;

use counterpart_core::preset::PresetInfo;
use counterpart_models::pipeline::build_preset::build_preset;

use super::build_settings::{build_options, CommonBuildArgs};

/// Arguments of `counterpart build-preset`.
#[derive(clap::Args, Debug, Clone)]
pub struct BuildPresetArgs {
    /// A stems folder.
    stems_dir: PathBuf,
    /// Output preset file.
    #[arg(short = 'o', long = "out")]
    out: PathBuf,
    /// Corpus recordings (default: the target stems of the training pieces).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Alphabet size K.
    #[arg(long, default_value_t = 16)]
    k: usize,
    /// Look-aheads L in segments (0 = live, 1 = aligned), comma-separated: one decision model
    /// is trained for each, the first being the preset's preferred one.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1u8, 0],
          value_parser = clap::value_parser!(u8).range(0..=1))]
    lookahead: Vec<u8>,
    /// Preset name.
    #[arg(long, default_value = "Untitled corpus")]
    name: String,
    /// Author.
    #[arg(long, default_value = "")]
    author: String,
    /// Description.
    #[arg(long, default_value = "")]
    description: String,
    /// Licence of the preset and its corpus audio (SPDX identifier).
    #[arg(long, default_value = "CC0-1.0")]
    licence: String,
    /// Keep the checkpoint and loss log here.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[command(flatten)]
    common: CommonBuildArgs,
}

/// Builds the preset, writes it and prints its summary, then how each model trained and scored.
pub fn run(args: &BuildPresetArgs) -> Result<(), String> {
    let mut options = build_options(&args.common, args.k, 0);
    options.lookaheads = args.lookahead.iter().map(|&l| usize::from(l)).collect();
    options.corpus = args.corpus.clone();
    options.work_dir = args.work_dir.clone();
    options.info = PresetInfo {
        name: args.name.clone(),
        author: args.author.clone(),
        description: args.description.clone(),
        licence: args.licence.clone(),
        created: String::new(),
    };
    let outcome = build_preset(&args.stems_dir, &options).map_err(|e| e.to_string())?;
    outcome.preset.save(&args.out).map_err(|e| e.to_string())?;
    let s = outcome.preset.summary();
    println!("wrote {}", args.out.display());
    println!("{s}");
    for m in &outcome.models {
        println!(
            "L = {}: {} epochs in {:.0} s, best {} (val loss {:.4}, accuracy {:.2}%), {:.0} \
             tokens/s",
            m.lookahead,
            m.train.epochs.len(),
            m.train_s,
            m.train.best_epoch,
            m.train.best_val_loss,
            m.train.best_val_accuracy * 100.0,
            m.train.tokens_per_second
        );
        for e in &m.eval {
            println!(
                "L = {}, held-out pieces {}:\n{}",
                m.lookahead,
                outcome.split[2].join(", "),
                e.table()
            );
        }
    }
    Ok(())
}
