//! Counters and "now playing" state the audio thread publishes for the worker and the GUI.
//!
//! The audio thread stores plain values into atomics once per block; any thread may read them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::action::corpus::SegmentId;

/// Packed value of [`SchedulerTelemetry::now_playing`] when nothing plays.
const NOTHING: u64 = u32::MAX as u64;

/// What the scheduler is playing: a segment of the corpus loaded as `generation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayingSegment {
    /// Which corpus load the segment belongs to (the first corpus loaded is generation 1).
    pub generation: u32,
    /// The segment.
    pub segment: SegmentId,
}

/// A snapshot of the scheduler's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerCounters {
    /// Host frames rendered so far: the sample clock commands are timed against.
    pub position: u64,
    /// Segment boundaries reached with no command queued: the worker was late and the
    /// scheduler continued with the successor (or faded out at the end of a recording).
    pub late_fallbacks: u64,
    /// Commands applied after the moment their crossfade should have started.
    pub late_commands: u64,
    /// Commands dropped: their slot was already over, or their segment or corpus was unknown.
    pub dropped_commands: u64,
    /// Voices cut short because every voice was busy.
    pub stolen_voices: u64,
}

/// Shared, lock-free telemetry of a grain scheduler.
#[derive(Debug)]
pub struct SchedulerTelemetry {
    position: AtomicU64,
    now_playing: AtomicU64,
    late_fallbacks: AtomicU64,
    late_commands: AtomicU64,
    dropped_commands: AtomicU64,
    stolen_voices: AtomicU64,
}

impl Default for SchedulerTelemetry {
    fn default() -> Self {
        Self {
            position: AtomicU64::new(0),
            now_playing: AtomicU64::new(NOTHING),
            late_fallbacks: AtomicU64::new(0),
            late_commands: AtomicU64::new(0),
            dropped_commands: AtomicU64::new(0),
            stolen_voices: AtomicU64::new(0),
        }
    }
}

impl SchedulerTelemetry {
    /// The latest counters.
    pub fn counters(&self) -> SchedulerCounters {
        SchedulerCounters {
            position: self.position.load(Ordering::Acquire),
            late_fallbacks: self.late_fallbacks.load(Ordering::Relaxed),
            late_commands: self.late_commands.load(Ordering::Relaxed),
            dropped_commands: self.dropped_commands.load(Ordering::Relaxed),
            stolen_voices: self.stolen_voices.load(Ordering::Relaxed),
        }
    }

    /// Host frames rendered so far.
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// The segment playing at the end of the last block, if any.
    pub fn now_playing(&self) -> Option<PlayingSegment> {
        let packed = self.now_playing.load(Ordering::Relaxed);
        (packed != NOTHING).then_some(PlayingSegment {
            generation: (packed >> 32) as u32,
            segment: SegmentId(packed as u32),
        })
    }

    /// Publishes the audio thread's state (audio thread only; real-time safe).
    pub(crate) fn publish(
        &self,
        counters: &SchedulerCounters,
        now_playing: Option<PlayingSegment>,
    ) {
        let packed = now_playing.map_or(NOTHING, |now| {
            (u64::from(now.generation) << 32) | u64::from(now.segment.0)
        });
        self.now_playing.store(packed, Ordering::Relaxed);
        self.late_fallbacks
            .store(counters.late_fallbacks, Ordering::Relaxed);
        self.late_commands
            .store(counters.late_commands, Ordering::Relaxed);
        self.dropped_commands
            .store(counters.dropped_commands, Ordering::Relaxed);
        self.stolen_voices
            .store(counters.stolen_voices, Ordering::Relaxed);
        self.position.store(counters.position, Ordering::Release);
    }
}
