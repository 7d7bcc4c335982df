//! Counterpart's engine.
//!
//! Everything that turns a live guide track **A** into a companion track **B** lives here, with no
//! plugin or GUI dependency: ONNX Runtime discovery, perception (segmentation, encoder, codebook),
//! decision (the causal Transformer and its sampler), and action (corpus memory, navigator and the
//! real-time grain scheduler).

pub mod action;
pub mod decision;
pub mod onnx_runtime;
pub mod perception;
