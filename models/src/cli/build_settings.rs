//! The build settings `build-preset` and `sweep` share (pairs, segmentation, reaction window,
//! training, encoder, codebook fit) and the build options they make.

use std::path::PathBuf;

use counterpart_core::decision::DecisionConfig;
use counterpart_core::perception::SegmentEncoderConfig;
use counterpart_core::preset::PresetInfo;
use counterpart_models::pipeline::build_preset::{
    default_model, minutes, BuildOptions, CodebookFit,
};
use counterpart_models::pipeline::encode::EncodingSettings;
use counterpart_models::pipeline::train::TrainConfig;

use super::encoding::{segment_config, RunArgs, DEFAULT_ENCODER};
use super::pairs::PairArgs;

/// Settings shared by build-preset and sweep.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonBuildArgs {
    #[command(flatten)]
    pairs: PairArgs,
    /// Segment length in seconds.
    #[arg(long, default_value_t = 0.5)]
    segment: f64,
    /// Past context of the encoder, in seconds.
    #[arg(long, default_value_t = 1.5)]
    context: f64,
    /// The live model's reaction window W in milliseconds (0: none): the decision for each
    /// segment also hears the guide's first W ms of it. See docs/results/live.md for the choice.
    #[arg(long, default_value_t = 60.0)]
    reaction_ms: f64,
    /// Training time limit, in minutes.
    #[arg(long, default_value_t = 30.0)]
    minutes_limit: f64,
    /// Most training epochs.
    #[arg(long, default_value_t = 60)]
    max_epochs: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Model width (d_model).
    #[arg(long, default_value_t = 128)]
    d_model: usize,
    /// Encoder and decoder layers (each).
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Feed-forward width.
    #[arg(long, default_value_t = 512)]
    ffn: usize,
    /// Seed of the split, k-means and training.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Probability of replacing each label of B's past by a random one while training (against
    /// the model copying B's past and ignoring A when it generates: when it plays, B's past is
    /// its own output, which says nothing about the true B). See docs/results/decision.md.
    #[arg(long, default_value_t = 0.95)]
    history_noise: f64,
    /// Share in [0, 1] of the initial label embeddings drawn from the codebook centres (0:
    /// random), so that labels with close centres start close. See docs/results/decision.md.
    #[arg(long, default_value_t = 0.8)]
    label_init: f64,
    /// The encoder.
    #[arg(long, default_value = DEFAULT_ENCODER)]
    encoder: PathBuf,
    /// Skip the stems check.
    #[arg(long)]
    skip_check: bool,
    /// More stems sets for training and validation only (repeatable): never held out, never in
    /// the corpus. Their piece ids must differ from the main set's.
    #[arg(long = "extra-stems")]
    extra_stems: Vec<PathBuf>,
    /// Fit the codebook on the training pairs' target tracks (the corpus side) or on every
    /// track.
    #[arg(long, default_value = "targets", value_parser = ["targets", "all"])]
    codebook_fit: String,
    #[command(flatten)]
    run: RunArgs,
}

/// The build options of these settings for alphabet size `k` and look-ahead `lookahead`, as a
/// sweep run uses them: `build-preset` completes them with its own arguments.
pub fn build_options(c: &CommonBuildArgs, k: usize, lookahead: usize) -> BuildOptions {
    BuildOptions {
        selection: c.pairs.selection(),
        corpus: None,
        k,
        kmeans_restarts: 4,
        codebook_fit: if c.codebook_fit == "all" {
            CodebookFit::AllTracks
        } else {
            CodebookFit::Targets
        },
        extra_training: c.extra_stems.clone(),
        encoding: EncodingSettings {
            encoder: c.encoder.clone(),
            layer: None,
            config: SegmentEncoderConfig {
                reaction_s: c.reaction_ms / 1000.0,
                ..segment_config(c.segment, c.context)
            },
            threads: c.run.threads,
            cache: c.run.cache(),
            show_progress: true,
        },
        model: DecisionConfig {
            d_model: c.d_model,
            encoder_layers: c.layers,
            decoder_layers: c.layers,
            ffn_dim: c.ffn,
            ..default_model(k, lookahead)
        },
        lookaheads: vec![lookahead],
        train: TrainConfig {
            batch_size: c.batch_size,
            max_epochs: c.max_epochs,
            seed: c.seed,
            history_noise: c.history_noise,
            time_budget: Some(minutes(c.minutes_limit)),
            ..TrainConfig::default()
        },
        test_fraction: 0.15,
        val_fraction: 0.15,
        seed: c.seed,
        info: PresetInfo {
            name: "sweep".into(),
            author: String::new(),
            description: String::new(),
            licence: "CC0-1.0".into(),
            created: String::new(),
        },
        work_dir: None,
        skip_check: c.skip_check,
        label_init: c.label_init,
    }
}
