//! Errors of the perception module.

use std::path::PathBuf;

/// Why perception could not do what was asked. Every variant says what went wrong and with what.
#[derive(Debug, thiserror::Error)]
pub enum PerceptionError {
    /// A configuration value is out of its allowed range.
    #[error("invalid perception setting: {0}")]
    InvalidConfig(String),
    /// The working sample rate cannot be converted to the encoder rate.
    #[error(
        "unsupported sample rate {rate} Hz: Counterpart accepts 8000 to 384000 Hz at a ratio to \
         16000 Hz whose reduced input side is at most {max_reduced} (44100, 48000, 22050, 96000 and \
         the other common rates qualify)"
    )]
    UnsupportedSampleRate {
        /// The rate that was asked for.
        rate: u32,
        /// The largest reduced input side of the ratio that is accepted.
        max_reduced: u32,
    },
    /// The audio holds NaN or infinite samples.
    #[error("audio contains a non-finite sample (NaN or infinity) at index {index}")]
    NonFinite {
        /// Index of the first bad sample in the buffer that was checked.
        index: usize,
    },
    /// The band-limited resampler failed.
    #[error("resampler error: {0}")]
    Resampler(String),
    /// ONNX Runtime could not be loaded.
    #[error(transparent)]
    Runtime(#[from] crate::onnx_runtime::RuntimeError),
    /// ONNX Runtime failed to load or run the encoder.
    #[error("ONNX Runtime error with encoder {model}: {reason}")]
    Onnx {
        /// The model file.
        model: PathBuf,
        /// What ONNX Runtime said.
        reason: String,
    },
    /// The encoder model does not follow the encoder contract (see [`crate::perception::encoder`]).
    #[error("encoder {model} breaks the encoder contract: {reason}")]
    Contract {
        /// The model file.
        model: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system error.
        source: std::io::Error,
    },
    /// An encoder description (sidecar JSON or model metadata) is malformed.
    #[error("bad encoder description {path}: {source}")]
    Spec {
        /// Where the description came from.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A codebook is malformed or does not fit the vectors given to it.
    #[error("codebook error: {0}")]
    Codebook(String),
    /// The segment-encoder worker thread stopped.
    #[error("the segment encoder's worker thread has stopped")]
    WorkerStopped,
}

/// Result of perception operations.
pub type Result<T> = std::result::Result<T, PerceptionError>;

/// Returns an error naming the first non-finite sample of `audio`, if any.
pub fn check_finite(audio: &[f32]) -> Result<()> {
    match audio.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(PerceptionError::NonFinite { index }),
        None => Ok(()),
    }
}
