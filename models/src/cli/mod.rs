//! Subcommands that keep their arguments beside their code.

pub mod eval_heard;
pub mod inspect;
pub mod recorpus;
pub mod timing;
