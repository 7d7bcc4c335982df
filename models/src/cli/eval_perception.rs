//! `counterpart eval-perception`: how much pitch class and instrument the segment tokens carry
//! (NMI), for the default encoder, the same architecture with random weights, and MFCC+chroma
//! descriptors, as a table or JSON.

use std::path::PathBuf;

use counterpart_models::eval::perception::{evaluate, held_out_pieces, EvalOptions};

use super::encoding::{segment_config, DEFAULT_ENCODER};

/// The default encoder's architecture with its random initial weights.
const RANDOM_ENCODER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/encoders/counterpart-random-init.onnx"
);

/// Arguments of `counterpart eval-perception`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvalPerceptionArgs {
    /// A stems set (manifest.json, <piece>/<stem>.flac, <stem>.notes.json).
    stems_dir: PathBuf,
    /// Alphabet sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![16usize, 64])]
    k: Vec<usize>,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
    /// The trained encoder.
    #[arg(long, default_value = DEFAULT_ENCODER)]
    encoder: PathBuf,
    /// The same architecture with random weights.
    #[arg(long, default_value = RANDOM_ENCODER)]
    random_encoder: PathBuf,
    /// Segment length in seconds.
    #[arg(long, default_value_t = 0.5)]
    segment: f64,
    /// Past context in seconds.
    #[arg(long, default_value_t = 1.5)]
    context: f64,
    /// Score every piece, not only those held out from the encoder's training.
    #[arg(long)]
    all_pieces: bool,
    /// k-means restarts.
    #[arg(long, default_value_t = 4)]
    restarts: usize,
}

/// Scores the segment tokens of the stems set and prints the scores.
pub fn run(args: &EvalPerceptionArgs) -> Result<(), String> {
    let pieces = if args.all_pieces {
        None
    } else {
        held_out_pieces(&args.encoder)
    };
    if let Some(p) = &pieces {
        eprintln!(
            "scoring the {} pieces held out from training: {}",
            p.len(),
            p.join(", ")
        );
    }
    let options = EvalOptions {
        ks: args.k.clone(),
        config: segment_config(args.segment, args.context),
        default_encoder: args.encoder.clone(),
        random_encoder: args.random_encoder.clone(),
        pieces,
        restarts: args.restarts,
        seed: 42,
    };
    let (report, n) = evaluate(&args.stems_dir, &options).map_err(|e| e.to_string())?;
    if args.json {
        let plain: serde_json::Value = serde_json::to_value(&report).expect("scores serialise");
        println!("{plain}");
    } else {
        println!("{n} scored segments");
        println!(
            "{:>5} {:<12} {:>10} {:>10} {:>8}",
            "K", "method", "pitch NMI", "instr NMI", "usage"
        );
        for (k, methods) in &report {
            for (name, s) in methods {
                println!(
                    "{:>5} {:<12} {:>10.3} {:>10.3} {:>8.3}",
                    k, name, s.pitch_class_nmi, s.instrument_nmi, s.usage
                );
            }
        }
    }
    Ok(())
}
