//! The data side: stems sets (manifest, layouts, health check) and the paired-token datasets
//! made from them.

pub mod check;
pub mod dataset;
pub mod layout;
pub mod stems;

use std::path::PathBuf;

use crate::audio_file::AudioFileError;

/// Why a stems set or a dataset could not be read, built or written.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A manifest or notes file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system error.
        source: std::io::Error,
    },
    /// A manifest or notes file is malformed JSON.
    #[error("bad JSON in {path}: {source}")]
    BadJson {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A folder could not be listed, or a token corpus file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The system error.
        source: std::io::Error,
    },
    /// A token corpus file could not be parsed or serialised.
    #[error("{path}: {source}")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// An audio file could not be read.
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    /// The stems set's layout is not one Counterpart reads.
    #[error("{0}")]
    Layout(String),
    /// The stems set does not have what was asked of it (the message says what).
    #[error("{0}")]
    Invalid(String),
    /// A pair names a track that the piece does not have.
    #[error("piece {piece}: no tokens for track {track}")]
    MissingTrack {
        /// Piece id.
        piece: String,
        /// Track key (stem name, or stem names joined by `+`).
        track: String,
    },
    /// The two tracks of a pair have different lengths (they must be segmented alike).
    #[error("piece {piece}: {guide} has {a} segments but {response} has {b}")]
    LengthMismatch {
        /// Piece id.
        piece: String,
        /// Guide track key.
        guide: String,
        /// Response track key.
        response: String,
        /// Guide length.
        a: usize,
        /// Response length.
        b: usize,
    },
    /// A token is not a content label `0..vocab_size`.
    #[error("piece {piece}, track {track}: token {token} ≥ vocab_size {vocab_size}")]
    TokenOutOfRange {
        /// Piece id.
        piece: String,
        /// Track key.
        track: String,
        /// The token.
        token: u32,
        /// Number of content labels.
        vocab_size: usize,
    },
    /// The dataset would hold no pair.
    #[error("no pair of non-empty tracks: {0}")]
    Empty(String),
}

impl DataError {
    /// A [`DataError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
