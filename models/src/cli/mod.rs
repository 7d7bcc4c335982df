//! Subcommands that keep their arguments beside their code.

pub mod build_preset;
pub mod build_settings;
pub mod character;
pub mod check;
pub mod doctor;
pub mod encoding;
pub mod eval;
pub mod eval_heard;
pub mod eval_perception;
pub mod fit_codebook;
pub mod inspect;
pub mod pairs;
pub mod presets;
pub mod recorpus;
pub mod render;
pub mod sweep;
pub mod timing_args;
