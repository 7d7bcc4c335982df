//! The error of the offline pipeline (check, tokenise, build-preset, eval, sweep).

use std::path::PathBuf;

use counterpart_core::decision::DecisionError;
use counterpart_core::perception::PerceptionError;
use counterpart_core::preset::PresetError;

use crate::audio_file::AudioFileError;
use crate::dataset::DatasetError;
use crate::kmeans::KMeansError;
use crate::stems::StemsError;
use crate::train::TrainError;

/// Why a step of the offline pipeline failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The stems set's manifest could not be read.
    #[error(transparent)]
    Stems(#[from] StemsError),
    /// An audio file could not be read.
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    /// Encoding or quantising failed.
    #[error(transparent)]
    Perception(#[from] PerceptionError),
    /// k-means failed.
    #[error(transparent)]
    KMeans(#[from] KMeansError),
    /// The paired dataset could not be built.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The decision model failed.
    #[error(transparent)]
    Decision(#[from] DecisionError),
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
    /// The stems set's layout is not one Counterpart reads.
    #[error("{0}")]
    Layout(String),
    /// The input does not allow the requested step.
    #[error("{0}")]
    Invalid(String),
    /// `counterpart check` found errors in the stems set.
    #[error("the stems set has {0} error(s); run `counterpart check` for the explanations")]
    Check(usize),
}

impl PipelineError {
    /// An [`PipelineError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
