//! Counterpart's offline side: datasets of paired stems, codebook fitting, training, evaluation.

pub mod audio_file;
pub mod eval_perception;
pub mod features;
pub mod fit_codebook;
pub mod kmeans;
pub mod nmi;
pub mod stems;
