//! Why the engine could not be built or could not go on: the one error of the engine's layer,
//! from loading a preset to playing it.

use std::path::PathBuf;

use crate::action::{CorpusError, LabelDistanceError, NavigatorError, ProcessError, ScheduleError};
use crate::decision::DecisionError;
use crate::perception::PerceptionError;
use crate::preset::PresetError;

/// Why the engine could not be built or could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A setting is out of range or does not fit the preset (the message says which).
    #[error("engine configuration: {0}")]
    Config(String),
    /// Perception failed, or refused the preset's codebook, segmentation or encoder.
    #[error("perception: {0}")]
    Perception(#[from] PerceptionError),
    /// The decision model could not be built, or it or the sampler failed.
    #[error("decision: {0}")]
    Decision(#[from] DecisionError),
    /// The navigator refused a setting or a label.
    #[error("navigator: {0}")]
    Navigator(#[from] NavigatorError),
    /// The scheduler refused a command.
    #[error("scheduler: {0}")]
    Schedule(#[from] ScheduleError),
    /// The audio buffers have the wrong shape.
    #[error("audio buffers: {0}")]
    Process(#[from] ProcessError),

    /// The preset itself is inconsistent, or its encoder does not match.
    #[error(transparent)]
    Preset(#[from] PresetError),
    /// The encoder the preset names was not found in any search folder.
    #[error(
        "the preset needs encoder `{name}` (SHA-256 {sha256}), which it does not embed and which \
         is not in any of these folders: {}",
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    EncoderNotFound {
        /// The encoder's name, as the preset records it.
        name: String,
        /// The hash the preset records.
        sha256: String,
        /// The folders searched.
        searched: Vec<PathBuf>,
    },
    /// An encoder file could not be read.
    #[error("cannot read encoder {}: {source}", path.display())]
    EncoderIo {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The preset has no decision model for the wanted look-ahead.
    #[error(
        "the preset has no decision model for look-ahead {wanted} (it has look-ahead {}): \
         rebuild it with that look-ahead, or choose one it has",
        available.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    NoModelForLookahead {
        /// The look-ahead asked for.
        wanted: usize,
        /// The look-aheads the preset has models for.
        available: Vec<usize>,
    },
    /// The corpus audio could not be turned into a corpus memory.
    #[error("corpus file `{file}`: {source}")]
    Corpus {
        /// The corpus file.
        file: String,
        /// What the corpus builder reported.
        #[source]
        source: CorpusError,
    },
    /// The caller cancelled the work (see [`super::recut`]).
    #[error("cancelled")]
    Cancelled,
    /// The codebook centres could not give label distances.
    #[error("label distances: {0}")]
    LabelDistances(#[from] LabelDistanceError),
    /// The parts do not fit together (the message says which).
    #[error("the preset's parts do not fit together: {0}")]
    Mismatch(String),
}
