//! Counterpart's engine.
//!
//! Everything that turns a live guide track **A** into a companion track **B** lives here, with no
//! plugin or GUI dependency: ONNX Runtime discovery, perception (segmentation, encoder, codebook),
//! decision (the causal Transformer and its sampler), action (corpus memory, navigator and the
//! real-time grain scheduler), the corpus preset file that carries a trained setup from the
//! offline tools to the plugin, and reading recordings (WAV, FLAC, Ogg, MP3) for corpora.

pub mod action;
pub mod audio_file;
pub mod decision;
pub mod engine;
pub mod onnx_runtime;
pub mod perception;
pub mod preset;
