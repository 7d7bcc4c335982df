//! The offline pipeline, stage by stage: encode the stems the streaming way ([`encode`]), fit
//! the codebook ([`fit_codebook`], [`kmeans`]), tokenise ([`tokenise`]), train the decision model
//! ([`train`]), evaluate it on held-out pieces ([`evaluate`]), and pack a preset with its corpus
//! ([`corpus`], [`build_preset`]) with the relation's character ([`character`]). [`preset_runtime`] loads a built preset's pieces back for
//! offline use (eval, recorpus, sweep, benches).

pub mod build_preset;
pub mod character;
pub mod corpus;
pub mod encode;
mod error;
pub mod evaluate;
pub mod fit_codebook;
pub mod kmeans;
pub mod preset_runtime;
pub mod tokenise;
pub mod train;

pub use error::PipelineError;
