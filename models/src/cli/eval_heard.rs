//! `counterpart eval-heard`: the musician's metrics of a preset's rendered companion (see
//! [`counterpart_models::eval::heard`]).

use std::path::PathBuf;

use counterpart_core::decision::DEFAULT_TEMPERATURE;
use counterpart_core::engine::{EngineConfig, EngineSettings, Margin};
use counterpart_models::eval::heard::{
    evaluate_heard, plot::PIANO_ROLL_KEY, plot_first_piece, HeardOptions, PieceChoice,
};

use super::pairs::PairArgs;
use super::timing_args::TimingArgs;

/// Arguments of `counterpart eval-heard`. The engine's settings and their defaults are those of
/// `counterpart render`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvalHeardArgs {
    /// The preset: a file, or the name of a preset of the library (`counterpart presets`).
    #[arg(long)]
    preset: PathBuf,
    /// A stems set whose guides are rendered (<piece>/<stem>.<ext> with <stem>.notes.json).
    stems_dir: PathBuf,
    /// The folder holding the notes of the preset's corpus files (<piece>/<stem>.notes.json):
    /// for the default preset, the stems-dev folder.
    #[arg(long)]
    corpus_notes: PathBuf,
    #[command(flatten)]
    pairs: PairArgs,
    /// Score these pieces (comma-separated ids) instead of those the preset's build held out.
    #[arg(long, value_delimiter = ',', conflicts_with = "all_pieces")]
    pieces: Vec<String>,
    /// Score every piece of the stems set instead of those the preset's build held out.
    #[arg(long)]
    all_pieces: bool,
    /// Look-ahead in segments: plays the preset's model for it (the preset's preferred model
    /// when left out). With 1 the companion is shifted back by the latency the plugin reports.
    #[arg(long)]
    lookahead: Option<usize>,
    /// Sampling temperature (0: arg-max).
    #[arg(long, default_value_t = DEFAULT_TEMPERATURE)]
    temperature: f32,
    /// Nucleus mass (1: off).
    #[arg(long, default_value_t = 0.9)]
    top_p: f32,
    /// Seed of the sampler, the navigator and the random reference.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    timing: TimingArgs,
    /// Frames per block, as a host would call the plugin with (the worker margin is fitted to
    /// it).
    #[arg(long, default_value_t = 512)]
    block_size: usize,
    /// A folder to look for the preset's encoder in first.
    #[arg(long)]
    encoder_dir: Vec<PathBuf>,
    /// Print the scores as one JSON object.
    #[arg(long)]
    json: bool,
    /// Write a piano roll of the first piece (guide, true companion, rendered companion) here
    /// (PNG).
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Runs `counterpart eval-heard`.
pub fn run(args: &EvalHeardArgs) -> Result<(), String> {
    let pieces = if args.all_pieces {
        PieceChoice::All
    } else if args.pieces.is_empty() {
        PieceChoice::HeldOut
    } else {
        PieceChoice::Named(args.pieces.clone())
    };
    let options = HeardOptions {
        preset: super::presets::resolve(&args.preset)?,
        stems_dir: args.stems_dir.clone(),
        corpus_notes: args.corpus_notes.clone(),
        selection: args.pairs.selection(),
        pieces,
        config: EngineConfig {
            lookahead: args.lookahead,
            seed: args.seed,
            settings: args.timing.apply(EngineSettings {
                temperature: args.temperature,
                top_p: args.top_p,
                ..EngineSettings::default()
            }),
            worker_margin: Margin::Host {
                max_block: args.block_size,
            },
            ..EngineConfig::default()
        },
        block_size: args.block_size,
        encoder_dirs: args.encoder_dir.clone(),
    };
    let (report, first) = evaluate_heard(&options).map_err(|e| e.to_string())?;
    if let Some(path) = &args.plot {
        plot_first_piece(path, &first).map_err(|e| e.to_string())?;
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
        if let Some(path) = &args.plot {
            println!(
                "piano roll of {}: {} ({PIANO_ROLL_KEY})",
                report.pairs[0].piece,
                path.display()
            );
        }
    }
    Ok(())
}
