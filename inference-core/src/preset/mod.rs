//! Corpus presets: one self-describing, versioned file holding everything Counterpart needs to
//! play with one corpus.
//!
//! A [`Preset`] is plain data: its info and licence, the segmentation settings, the encoder's
//! identity (optionally the encoder itself), the codebook, the decision models' configs and
//! weights (one per look-ahead), the lossless corpus audio with its labelled segments, and the training and
//! evaluation metrics, and the character of the relation it was trained on. Perception, decision and action convert their runtime types from and to
//! it. The file is a safetensors file whose metadata holds a JSON header; see [`file`](mod@file) for the
//! layout. Loading validates everything and never panics.
//!
//! Thread ownership: presets are read, written and converted on worker threads (or offline),
//! never on the audio thread.

mod data;
mod error;
pub mod file;
mod flac;
pub mod library;
mod safetensors_guard;
mod summary;
mod validate;

pub use data::{
    sha256_hex, AudioData, CodebookData, CorpusFile, DecisionData, EncoderIdentity,
    NoteValueRecord, Preset, PresetInfo, RelationCharacter, SegmentLengthRecord, SegmentRecord,
    SegmentationSettings,
};
pub use error::PresetError;
pub use file::{ModelTiming, PresetListing, PresetTiming, FORMAT_NAME, FORMAT_VERSION, MARKER_KEY};
pub use summary::{PresetSummary, EVAL_BASELINES};
pub use validate::{
    MAX_CHANNELS, MAX_CODEBOOK_DIM, MAX_CORPUS_FILES, MAX_CORPUS_SAMPLES, MAX_DECISION_MODELS,
    MAX_K, MAX_SAMPLE_RATE,
};
