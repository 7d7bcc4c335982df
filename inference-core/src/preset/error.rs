//! Why a preset could not be read, written or trusted.

use std::path::PathBuf;

/// Why a preset could not be read, written or trusted.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The file could not be read or written.
    #[error("cannot access preset file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a Counterpart preset at all.
    #[error("not a Counterpart preset: {reason}")]
    NotAPreset {
        /// What gave it away.
        reason: String,
    },
    /// The preset was written by a newer Counterpart.
    #[error(
        "this preset uses format version {found}, but this build of Counterpart reads versions \
         up to {supported}: update Counterpart to open it"
    )]
    NewerVersion {
        /// The file's format version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The file ends early: it was cut off while copying or downloading.
    #[error(
        "the preset file is truncated: it has {found} bytes but its header announces {expected}"
    )]
    Truncated {
        /// Bytes the file should have (at least).
        expected: u64,
        /// Bytes it has.
        found: u64,
    },
    /// The file is damaged: its structure or checksum does not hold.
    #[error("the preset file is corrupt: {0}")]
    Corrupt(String),
    /// The encoder does not match the one the preset was made with.
    #[error(
        "encoder mismatch: the preset was made with encoder `{name}` whose ONNX file has \
         SHA-256 {expected}, but the encoder given has SHA-256 {found}"
    )]
    EncoderMismatch {
        /// The encoder's name, as the preset records it.
        name: String,
        /// The hash the preset records.
        expected: String,
        /// The hash of the encoder given.
        found: String,
    },
    /// The contents are inconsistent (labels beyond K, segments out of range, NaN, ...).
    #[error("invalid preset: {0}")]
    Invalid(String),
}
