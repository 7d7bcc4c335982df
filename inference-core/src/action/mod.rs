//! Action: corpus memory, continuity-aware navigation and the real-time grain scheduler.
//!
//! Thread ownership:
//! - [`CorpusMemory`] is built on a worker thread and shared read-only through an `Arc`;
//! - the [`Navigator`] runs on the worker and picks a corpus segment for each predicted label;
//! - a corpus of the user's own [`Recording`]s is read and checked on a worker thread;
//! - the [`GrainScheduler`] runs on the audio thread and renders the chosen segments with
//!   crossfades; the worker drives it through its [`SchedulerHandle`].

mod corpus;
mod crossfade;
mod label_distance;
mod navigator;
mod recording_rate;
mod recordings;
mod scheduler;

pub use corpus::{
    CorpusError, CorpusMemory, CorpusSegment, Label, Provenance, SegmentId, SourceInfo,
    SourceRecording,
};
pub(crate) use corpus::{ATTACK_S, NEXT_NOTE_S};
pub use crossfade::EqualPowerCurve;
pub use label_distance::{LabelDistanceError, LabelDistances};
pub use navigator::{
    Decision, MissingLabelPolicy, Navigator, NavigatorConfig, NavigatorError, NavigatorStats, Route,
};
pub use recording_rate::{convert_position, resample_channels, ResampleFailure};
pub use recordings::{
    default_name, find_recordings, with_recordings, Recording, RecordingPath, SILENT_DBFS,
};
pub use scheduler::{
    GrainScheduler, PlayingSegment, ProcessError, ScheduleError, SchedulerConfig,
    SchedulerCounters, SchedulerHandle, SchedulerTelemetry, MAX_VOICES,
};
