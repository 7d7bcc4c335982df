//! Errors of the decision module.

/// What can go wrong while building, loading, running or sampling the decision model.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// The configuration is inconsistent (the message says which field).
    #[error("invalid decision config: {0}")]
    InvalidConfig(String),
    /// A token id is outside the model's vocabulary.
    #[error("token {token} is out of range (the model has {vocab} content labels and {specials} special tokens)")]
    TokenOutOfRange {
        /// The offending id.
        token: u32,
        /// Number of content labels K.
        vocab: usize,
        /// Number of special tokens after the content labels.
        specials: usize,
    },
    /// The streaming step was called out of order (the message says what was expected).
    #[error("decision stream used out of order: {0}")]
    OutOfOrder(String),
    /// Logits contained NaN or infinity.
    #[error("logits contain a non-finite value at index {0}")]
    NonFiniteLogits(usize),
    /// A logits slice of the wrong length was passed to the sampler.
    #[error("expected {expected} logits, got {got}")]
    LogitsLength {
        /// Number of content labels the sampler was built for.
        expected: usize,
        /// Length actually passed.
        got: usize,
    },
    /// The sampler's settings are out of range (the message says which).
    #[error("invalid sampler settings: {0}")]
    InvalidSettings(String),
    /// The corpus holds no label, so the constraint would allow nothing.
    #[error("the corpus label counts are empty or all zero: nothing could be sampled")]
    EmptyCorpus,
    /// Reading or writing a checkpoint failed.
    #[error("checkpoint I/O on {path}: {source}")]
    Io {
        /// The file involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The checkpoint's JSON config could not be parsed or written.
    #[error("checkpoint config: {0}")]
    Json(#[from] serde_json::Error),
    /// An error from candle (shapes, missing tensors, corrupt safetensors).
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The decision stage's result.
pub(crate) type Result<T> = std::result::Result<T, DecisionError>;
