//! The worker's side of the grain scheduler: timed commands in, retired corpora out.

use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer, Producer};
use ringbuf::{HeapCons, HeapProd};

use super::telemetry::SchedulerTelemetry;
use crate::action::corpus::{CorpusMemory, Provenance, SegmentId};

/// A command from the worker to the audio thread. Timed commands are in host frames.
#[derive(Debug)]
pub(crate) enum SchedulerCommand {
    /// At host frame `at`, start `segment` `offset` frames into it (crossfaded when it does
    /// not continue the audio).
    Play {
        at: u64,
        segment: SegmentId,
        offset: u32,
    },
    /// At host frame `at`, fade to silence.
    Silence { at: u64 },
    /// Use crossfades of `frames` frames from now on.
    Crossfade { frames: u32 },
    /// Fade out the current corpus and play `corpus` from now on.
    Corpus {
        corpus: Arc<CorpusMemory>,
        generation: u32,
    },
}

/// Why a command could not be queued.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// The command queue is full: the audio thread is not consuming (is it running?).
    #[error("the scheduler's command queue is full")]
    QueueFull,
    /// No corpus has been loaded yet.
    #[error("no corpus is loaded")]
    NoCorpus,
    /// The segment does not exist in the loaded corpus.
    #[error("segment {segment} does not exist; the corpus has {count} segments")]
    UnknownSegment {
        /// The segment index.
        segment: u32,
        /// Number of segments in the corpus.
        count: usize,
    },
    /// A play offset lies outside its segment.
    #[error("offset {offset} is outside a segment of {len} frames")]
    Offset {
        /// The offset asked for.
        offset: u32,
        /// The segment's length.
        len: u64,
    },
    /// Timed commands must be sent in time order.
    #[error("command at frame {at} comes before an earlier command at frame {previous}")]
    OutOfOrder {
        /// The command's time.
        at: u64,
        /// The time of the previous timed command.
        previous: u64,
    },
    /// The corpus was built for another sample rate.
    #[error("the corpus is at {corpus} Hz but the scheduler runs at {host} Hz")]
    SampleRate {
        /// The corpus's rate.
        corpus: u32,
        /// The host rate.
        host: u32,
    },
    /// The crossfade length is not in `(0, 1]` seconds.
    #[error("the crossfade must last between 0 and 1 s, got {0} s")]
    Crossfade(f32),
    /// The scheduler configuration is invalid.
    #[error("invalid scheduler configuration: {0}")]
    Config(&'static str),
}

/// Sends commands to a [`GrainScheduler`](super::GrainScheduler) and disposes of the corpora it
/// retires. Lives on the worker thread.
pub struct SchedulerHandle {
    commands: HeapProd<SchedulerCommand>,
    retired: HeapCons<Arc<CorpusMemory>>,
    corpus: Option<Arc<CorpusMemory>>,
    generation: u32,
    sample_rate: u32,
    last_at: u64,
    telemetry: Arc<SchedulerTelemetry>,
}

impl SchedulerHandle {
    pub(crate) fn new(
        commands: HeapProd<SchedulerCommand>,
        retired: HeapCons<Arc<CorpusMemory>>,
        sample_rate: u32,
        telemetry: Arc<SchedulerTelemetry>,
    ) -> Self {
        Self {
            commands,
            retired,
            corpus: None,
            generation: 0,
            sample_rate,
            last_at: 0,
            telemetry,
        }
    }

    /// Makes `corpus` the one played from now on; voices of the previous corpus fade out.
    pub fn load_corpus(&mut self, corpus: Arc<CorpusMemory>) -> Result<(), ScheduleError> {
        if corpus.sample_rate() != self.sample_rate {
            return Err(ScheduleError::SampleRate {
                corpus: corpus.sample_rate(),
                host: self.sample_rate,
            });
        }
        self.collect_retired();
        let generation = self.generation.wrapping_add(1).max(1);
        self.push(SchedulerCommand::Corpus {
            corpus: Arc::clone(&corpus),
            generation,
        })?;
        self.generation = generation;
        self.corpus = Some(corpus);
        Ok(())
    }

    /// At host frame `at`, plays `segment`: contiguous audio when it is the successor of the
    /// segment playing, otherwise an equal-power crossfade centred on `at`.
    pub fn play(&mut self, at: u64, segment: SegmentId) -> Result<(), ScheduleError> {
        self.play_from(at, segment, 0)
    }

    /// At host frame `at`, plays `segment` from `offset` frames into it: the frame at `offset`
    /// sounds at `at`, in the middle of an equal-power crossfade (an attack there lands on
    /// time). With `offset` 0 this is [`Self::play`].
    pub fn play_from(
        &mut self,
        at: u64,
        segment: SegmentId,
        offset: u32,
    ) -> Result<(), ScheduleError> {
        let corpus = self.corpus.as_ref().ok_or(ScheduleError::NoCorpus)?;
        let Some(found) = corpus.segment(segment) else {
            return Err(ScheduleError::UnknownSegment {
                segment: segment.0,
                count: corpus.segment_count(),
            });
        };
        if u64::from(offset) >= found.len() {
            return Err(ScheduleError::Offset {
                offset,
                len: found.len(),
            });
        }
        self.timed(
            at,
            SchedulerCommand::Play {
                at,
                segment,
                offset,
            },
        )
    }

    /// At host frame `at`, fades to silence.
    pub fn silence(&mut self, at: u64) -> Result<(), ScheduleError> {
        self.timed(at, SchedulerCommand::Silence { at })
    }

    /// Sets the crossfade length for the following jumps (each jump still fades over at most
    /// half of the segments involved).
    pub fn set_crossfade(&mut self, seconds: f32) -> Result<(), ScheduleError> {
        let frames = crossfade_frames(seconds, self.sample_rate)?;
        self.push(SchedulerCommand::Crossfade { frames })
    }

    /// Drops, here on the worker, the corpora the audio thread has finished with. Returns how
    /// many were released.
    pub fn collect_retired(&mut self) -> usize {
        let mut released = 0;
        while let Some(corpus) = self.retired.try_pop() {
            drop(corpus);
            released += 1;
        }
        released
    }

    /// The corpus commands refer to.
    pub fn corpus(&self) -> Option<&Arc<CorpusMemory>> {
        self.corpus.as_ref()
    }

    /// The scheduler's shared telemetry (clone the `Arc` to hand it to a GUI).
    pub fn telemetry(&self) -> &Arc<SchedulerTelemetry> {
        &self.telemetry
    }

    /// The segment playing now and where it comes from, if it belongs to the loaded corpus.
    pub fn now_playing(&self) -> Option<(SegmentId, Provenance<'_>)> {
        let now = self.telemetry.now_playing()?;
        let corpus = self.corpus.as_ref()?;
        (now.generation == self.generation)
            .then(|| corpus.provenance(now.segment).map(|p| (now.segment, p)))
            .flatten()
    }

    /// The time of the last timed command sent (0 before any): later ones may not come
    /// before it.
    pub fn last_at(&self) -> u64 {
        self.last_at
    }

    /// Free places in the command queue.
    pub fn free_slots(&self) -> usize {
        self.commands.vacant_len()
    }

    fn timed(&mut self, at: u64, command: SchedulerCommand) -> Result<(), ScheduleError> {
        if at < self.last_at {
            return Err(ScheduleError::OutOfOrder {
                at,
                previous: self.last_at,
            });
        }
        self.push(command)?;
        self.last_at = at;
        Ok(())
    }

    fn push(&mut self, command: SchedulerCommand) -> Result<(), ScheduleError> {
        self.commands
            .try_push(command)
            .map_err(|_| ScheduleError::QueueFull)
    }
}

/// Converts a crossfade length to frames, checking it is in `(0, 1]` seconds.
pub(crate) fn crossfade_frames(seconds: f32, sample_rate: u32) -> Result<u32, ScheduleError> {
    if !(seconds > 0.0 && seconds <= 1.0) {
        return Err(ScheduleError::Crossfade(seconds));
    }
    Ok(((f64::from(seconds) * f64::from(sample_rate)).round() as u32).max(1))
}
