//! Evaluations of what the pipeline made: the token metrics (TPP, LCP, baselines, [`metrics`]),
//! NMI ([`nmi`]), the perception evaluation against hand-made descriptors ([`perception`],
//! [`features`]), the musician's metrics of a rendered companion ([`heard`]), the K × L sweep
//! ([`sweep`]) and the plots ([`plot`]).

pub mod features;
pub mod heard;
pub mod metrics;
pub mod nmi;
pub mod perception;
pub mod plot;
pub mod sweep;

use std::path::PathBuf;

use counterpart_core::perception::PerceptionError;
use counterpart_core::preset::PresetError;

use crate::audio_file::AudioFileError;
use crate::data::DataError;
use crate::pipeline::PipelineError;
use crate::render::RenderError;

/// Why an evaluation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Notes files are missing: every one is listed.
    #[error(
        "no notes for {} file(s); eval-heard needs a <stem>.notes.json beside every guide and \
         true companion stem, and one for every corpus file of the preset under --corpus-notes \
         (<piece>/<stem>.notes.json). Missing:\n  {}",
        missing.len(),
        missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("\n  ")
    )]
    MissingNotes {
        /// The notes files that do not exist.
        missing: Vec<PathBuf>,
    },
    /// A notes file could not be read or parsed.
    #[error("cannot read notes {}: {reason}", path.display())]
    Notes {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A pipeline step (reading the stems or the preset, encoding, training) failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A guide could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The input does not allow the evaluation (the message says why).
    #[error("{0}")]
    Invalid(String),
}

/// The errors of the layers below the pipeline reach an evaluation as [`EvalError::Pipeline`].
macro_rules! through_pipeline {
    ($($error:ty),*) => {$(
        impl From<$error> for EvalError {
            fn from(e: $error) -> Self {
                Self::Pipeline(e.into())
            }
        }
    )*};
}

through_pipeline!(DataError, AudioFileError, PerceptionError, PresetError);
