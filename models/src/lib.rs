//! Counterpart's offline side, by stage: datasets of paired stems, the pipeline that turns them
//! into a preset, and the evaluations of what it made.
//!
//! * [`data`]: stems sets (manifest, layouts, health check) and paired-token datasets.
//! * [`pipeline`]: encode → fit the codebook → tokenise → train → evaluate → build a preset;
//!   [`pipeline::preset_runtime`] loads a preset's runtime pieces for offline use.
//! * [`eval`]: the metrics (TPP, LCP, NMI), the musician's metrics of a rendered companion
//!   ([`eval::heard`]), the perception evaluation, the K × L sweep and their plots.
//! * [`render`]: the companion of a guide file, rendered offline by the plugin's engine.
//!
//! Each layer has one error type: [`data::DataError`], [`pipeline::PipelineError`],
//! [`eval::EvalError`] and [`render::RenderError`].

pub use counterpart_core::audio_file;
pub mod data;
pub mod eval;
pub mod pipeline;
pub mod render;
