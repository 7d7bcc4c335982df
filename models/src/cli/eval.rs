//! `counterpart eval`: a preset's model on a stems set, its TPP and LCP against the baselines,
//! as a table or JSON, and a plot of the mean LCP per position.

use std::path::PathBuf;

use counterpart_core::decision::SamplerSettings;
use counterpart_core::preset::Preset;
use counterpart_models::eval::plot::SERIES_COLOURS;
use counterpart_models::pipeline::evaluate::evaluate_preset;
use counterpart_models::pipeline::evaluate::{EvalCorpus, EvalSampling, BASELINES};
use counterpart_models::pipeline::preset_runtime::preset_encoding;

use super::encoding::{RunArgs, DEFAULT_ENCODER};
use super::pairs::PairArgs;

/// Arguments of `counterpart eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// The preset.
    #[arg(long)]
    preset: PathBuf,
    /// A stems folder.
    stems_dir: PathBuf,
    #[command(flatten)]
    pairs: PairArgs,
    /// Evaluate the preset's model for this look-ahead (its preferred model when left out).
    #[arg(long)]
    lookahead: Option<usize>,
    /// Sample only labels present in a corpus (see `--corpus`).
    #[arg(long)]
    constrained: bool,
    /// The corpus of `--constrained`: each pair's target track (the memory B is played
    /// from, the paper's protocol), or the preset's corpus (as in the plugin).
    #[arg(long, value_enum, default_value_t = EvalCorpus::Target)]
    corpus: EvalCorpus,
    /// Sampling temperature (0: arg-max decoding, compared with the majority-label baseline).
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Nucleus mass of the sampling.
    #[arg(long, default_value_t = 0.9)]
    top_p: f32,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
    /// PNG plot of the mean LCP per position.
    #[arg(long, default_value = "lcp.png")]
    plot: PathBuf,
    /// The encoder file (must match the preset's hash).
    #[arg(long, default_value = DEFAULT_ENCODER)]
    encoder: PathBuf,
    #[command(flatten)]
    run: RunArgs,
}

/// Evaluates the preset, writes the LCP plot and prints the scores.
pub fn run(args: &EvalArgs) -> Result<(), String> {
    let sampling = EvalSampling {
        settings: SamplerSettings {
            temperature: args.temperature,
            top_p: args.top_p,
            ..EvalSampling::new(args.constrained).settings
        },
        corpus: args.corpus,
        seed: 0,
    };
    let preset = Preset::load(&args.preset).map_err(|e| e.to_string())?;
    let encoding = preset_encoding(&preset, &args.encoder, args.run.threads, args.run.cache())
        .map_err(|e| e.to_string())?;
    let report = evaluate_preset(
        &preset,
        args.lookahead,
        &args.stems_dir,
        &args.pairs.selection(),
        &encoding,
        &sampling,
    )
    .map_err(|e| e.to_string())?;
    report.plot(&args.plot).map_err(|e| e.to_string())?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
        let key: Vec<String> = std::iter::once("model")
            .chain(
                BASELINES
                    .iter()
                    .copied()
                    .filter(|n| report.baselines.contains_key(n)),
            )
            .zip(SERIES_COLOURS)
            .map(|(n, (c, _))| format!("{n} = {c}"))
            .collect();
        println!(
            "LCP per position: {} ({})",
            args.plot.display(),
            key.join(", ")
        );
    }
    Ok(())
}
