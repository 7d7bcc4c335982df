//! Counterpart's offline side: datasets of paired stems, codebook fitting, training, evaluation.
//!
//! * [`dataset`]: paired-token datasets, split by piece, random windows, synthetic data.
//! * [`train`]: training the decision model (AdamW, warm-up + cosine, clipping, early stopping).
//! * [`metrics`]: TPP, LCP, baselines and generation for evaluation.

pub mod dataset;
pub mod metrics;
pub mod train;
