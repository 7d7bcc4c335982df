//! `counterpart fit-codebook`: a k-means codebook fitted on the pooled segment vectors of a
//! stems set, computed exactly as at run time, saved as safetensors.

use std::path::PathBuf;

use counterpart_core::perception::{EncoderOptions, OnnxEncoder};
use counterpart_models::pipeline::fit_codebook::fit_codebook;
use counterpart_models::pipeline::kmeans::KMeansConfig;

use super::encoding::{segment_config, DEFAULT_ENCODER};

/// Arguments of `counterpart fit-codebook`.
#[derive(clap::Args, Debug, Clone)]
pub struct FitCodebookArgs {
    /// A stems set (manifest.json, <piece>/<stem>.flac).
    stems_dir: PathBuf,
    /// Alphabet size: 16, 32, 64, 128, 256, 512 or 1024.
    #[arg(long, default_value_t = 64)]
    k: usize,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// The encoder.
    #[arg(long, default_value = DEFAULT_ENCODER)]
    encoder: PathBuf,
    /// Encoder layer (the encoder's default when left out).
    #[arg(long)]
    layer: Option<usize>,
    /// Segment length in seconds.
    #[arg(long, default_value_t = 0.5)]
    segment: f64,
    /// Past context in seconds.
    #[arg(long, default_value_t = 1.5)]
    context: f64,
    /// k-means restarts.
    #[arg(long, default_value_t = 4)]
    restarts: usize,
    /// k-means seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Fits the codebook, saves it and prints its size and quality.
pub fn run(args: &FitCodebookArgs) -> Result<(), String> {
    let config = segment_config(args.segment, args.context);
    let kmeans = KMeansConfig {
        restarts: args.restarts,
        seed: args.seed,
        ..KMeansConfig::new(args.k)
    };
    let options = EncoderOptions {
        layer: args.layer,
        intra_threads: 1,
    };
    let mut enc = OnnxEncoder::load(&args.encoder, &options).map_err(|e| e.to_string())?;
    let fitted = fit_codebook(&args.stems_dir, None, &config, &mut enc, &kmeans)
        .map_err(|e| e.to_string())?;
    fitted.codebook.save(&args.out).map_err(|e| e.to_string())?;
    println!(
        "wrote {}: K = {}, {} vectors, inertia {:.4e}, usage (perplexity / K) {:.3}",
        args.out.display(),
        fitted.codebook.k(),
        fitted.assignments.len(),
        fitted.inertia,
        fitted.usage()
    );
    Ok(())
}
