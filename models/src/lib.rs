//! Counterpart's offline side: datasets of paired stems, codebook fitting, training, evaluation.
//!
//! * [`dataset`]: paired-token datasets, split by piece, random windows, synthetic data.
//! * [`train`]: training the decision model (AdamW, warm-up + cosine, clipping, early stopping).
//! * [`metrics`]: TPP, LCP, baselines and generation for evaluation.
//! * [`heard`]: the musician's metrics of a rendered companion (harmony, onset sync, rests).

pub use counterpart_core::audio_file;
pub mod build_preset;
pub mod check;
pub mod dataset;
pub mod eval_perception;
pub mod evaluate;
pub mod features;
pub mod fit_codebook;
pub mod heard;
pub mod kmeans;
pub mod layout;
pub mod metrics;
pub mod nmi;
pub mod pipeline_error;
pub mod plot;
pub mod render;
pub mod stems;
pub mod sweep;
pub mod tokenise;
pub mod train;
