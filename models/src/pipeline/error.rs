//! The error of the offline pipeline (encode, fit the codebook, tokenise, train, evaluate,
//! build-preset).

use std::path::PathBuf;

use counterpart_core::decision::DecisionError;
use counterpart_core::perception::PerceptionError;
use counterpart_core::preset::PresetError;

use crate::audio_file::AudioFileError;
use crate::data::DataError;

/// Why a step of the offline pipeline failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The stems set or a dataset could not be read or built.
    #[error(transparent)]
    Data(#[from] DataError),
    /// An audio file could not be read.
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    /// Encoding or quantising failed, or k-means centres did not make a codebook.
    #[error(transparent)]
    Perception(#[from] PerceptionError),
    /// The decision model failed (bad config, checkpoint).
    #[error(transparent)]
    Decision(#[from] DecisionError),
    /// A tensor operation of the training failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// The preset could not be built, read or written.
    #[error(transparent)]
    Preset(#[from] PresetError),
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system error.
        source: std::io::Error,
    },
    /// The k-means settings or data do not allow a fit.
    #[error("k-means: {0}")]
    KMeans(String),
    /// The training options or datasets do not fit together.
    #[error("invalid training setup: {0}")]
    TrainSetup(String),
    /// The training loss became NaN or infinite.
    #[error("loss diverged (non-finite) at step {0}")]
    Diverged(usize),
    /// The input does not allow the requested step.
    #[error("{0}")]
    Invalid(String),
    /// `counterpart check` found errors in the stems set.
    #[error("the stems set has {0} error(s); run `counterpart check` for the explanations")]
    Check(usize),
}

impl PipelineError {
    /// A [`PipelineError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
