//! Perception: audio to segments to encoder frames to pooled vectors to one token per segment.
//!
//! The chain, in the order the audio goes through it:
//! 1. [`segmentation`]: uniform or tempo-synced segments at exact sample positions of the working
//!    rate, optionally snapped to onsets;
//! 2. [`resample`]: band-limited conversion to 16 kHz (rubato);
//! 3. [`normalize`]: z-scoring of each context window;
//! 4. [`encoder`]: a Wav2Vec 2.0 ONNX export that follows the encoder contract;
//! 5. [`pooling`]: frame-to-segment assignment by timestamp and masked mean;
//! 6. [`codebook`]: nearest-centre quantisation.
//!
//! Beside the chain, [`pitch`] estimates the notes sounding in a stretch of audio (the guide's,
//! and each corpus segment's), for the navigator's harmony.
//!
//! [`segment_encoder`] strings them together, live on a worker thread or offline over a file.

pub mod codebook;
pub mod encoder;
pub mod error;
pub mod normalize;
pub mod pitch;
pub mod pooling;
pub mod resample;
pub mod segment_encoder;
pub mod segmentation;

pub use codebook::{perplexity, Codebook, ALLOWED_K};
pub use encoder::{EncoderOptions, EncoderSpec, FrameEncoder, Frames, OnnxEncoder};
pub use error::{PerceptionError, Result};
pub use pitch::{PitchAnalyser, Pitches, CONSONANT_INTERVALS};
pub use segment_encoder::{
    encode_clip, AudioCapture, EncodedSegment, SegmentEncoder, SegmentEncoderConfig,
    SegmentEncoderCore, MAX_REACTION_S, MIN_REACTION_S,
};
pub use segmentation::{
    NoteValue, OnsetDetector, OnsetPredictor, OnsetSnap, Pulse, Segment, SegmentLength,
    SegmentationConfig,
};
