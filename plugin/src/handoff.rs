//! What travels between the worker thread and the audio thread, lock-free.
//!
//! The worker builds an engine (which allocates) and sends it to the audio thread through an
//! SPSC ring ([`Handoff`]); the audio thread sends every engine it is done with back through a
//! second ring, so that its memory is freed on the worker, never on the audio thread.

use std::sync::atomic::{AtomicU64, Ordering};

use counterpart_core::engine::{
    AudioEngine, EngineControl, EngineSettings, EngineWorker, OfflineRenderer,
};

/// Engines the handoff ring holds: one playing change and one more.
pub const HANDOFF_CAPACITY: usize = 2;
/// Engines the return ring holds.
pub const RETURN_CAPACITY: usize = 4;

/// An engine ready to play, with what the audio thread needs around it.
#[derive(Debug)]
pub struct Installed {
    /// Tells engines apart, so that a worker half travelling between threads finds its audio
    /// half.
    pub id: u64,
    /// The engine's audio half.
    pub audio: AudioEngine,
    /// Its worker half, when the audio thread runs it: the host renders offline, or consumes
    /// audio faster than real time. `None` while the worker thread runs it.
    pub worker: Option<EngineWorker>,
    /// Its settings queue (lock-free; the audio thread forwards parameter changes).
    pub control: EngineControl,
    /// Its segment grid, to line the first segment up with the host's.
    pub grid: SegmentGrid,
    /// The latency to report to the host, in samples.
    pub latency: u32,
    /// The settings it was built with.
    pub settings: EngineSettings,
    /// The reset count it was built after (see [`BuildProgress`]).
    pub epoch: u64,
}

impl Installed {
    /// Host frames the engine has rendered since it started.
    pub fn position(&self) -> u64 {
        self.audio.position()
    }

    /// Captures `guide` and renders the companion into `out` (audio thread); `false` when the
    /// engine refused the buffers or its worker failed (the block is then partly silent).
    /// With its worker half here, runs it too, which allocates: allowed, since the host is not
    /// waiting; its errors are logged.
    pub fn process(&mut self, guide: &[&[f32]], out: &mut [&mut [f32]]) -> bool {
        match &mut self.worker {
            None => self.audio.process(guide, out).is_ok(),
            Some(worker) => nice_plug::util::permit_alloc(|| {
                OfflineRenderer::drive(&mut self.audio, worker, guide, out).map_or_else(
                    |error| {
                        self.audio.telemetry().count_error();
                        nice_plug::nice_error!("offline render: {error}");
                        false
                    },
                    |()| true,
                )
            }),
        }
    }
}

/// Where segment boundaries fall, in host terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentGrid {
    /// Segment length in host samples.
    pub period_samples: f64,
    /// For tempo-synced presets: segment length in quarter notes.
    pub period_beats: Option<f64>,
}

impl SegmentGrid {
    /// How far past its last grid line the host position is, in samples, given the
    /// transport's position in samples and in quarter notes (`None` when unknown).
    pub fn phase_samples(
        &self,
        pos_samples: Option<i64>,
        pos_beats: Option<f64>,
        tempo: Option<f64>,
        sample_rate: f64,
    ) -> Option<usize> {
        let phase = match (self.period_beats, pos_beats, tempo) {
            (Some(beats), Some(pos), Some(bpm)) if beats > 0.0 && bpm > 0.0 => {
                pos.rem_euclid(beats) * 60.0 / bpm * sample_rate
            }
            _ => (pos_samples? as f64).rem_euclid(self.period_samples),
        };
        (phase.is_finite() && phase >= 0.0)
            .then(|| (phase.round() as usize).min(self.period_samples.ceil() as usize))
    }
}

/// A message from the worker to the audio thread.
#[derive(Debug)]
pub enum Handoff {
    /// Play this engine from now on (the old one fades out).
    Install(Box<Installed>),
    /// Stop playing (loading failed): pass dry audio. Carries the reset count, as
    /// [`Installed::epoch`].
    Clear(u64),
}

/// Counters that let an offline render wait for the engine it needs, so that its output does
/// not depend on how long loading took.
#[derive(Debug, Default)]
pub struct BuildProgress {
    started: AtomicU64,
    finished: AtomicU64,
}

impl BuildProgress {
    /// Marks a build as begun (worker, or the main thread before spawning the worker).
    pub fn start(&self) {
        self.started.fetch_add(1, Ordering::AcqRel);
    }

    /// Marks a build as done, after its [`Handoff`] was sent (worker).
    pub fn finish(&self) {
        self.finished.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether a build is under way.
    pub fn pending(&self) -> bool {
        self.finished.load(Ordering::Acquire) < self.started.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phase_follows_samples_or_beats() {
        let grid = SegmentGrid {
            period_samples: 24_000.0,
            period_beats: None,
        };
        assert_eq!(
            grid.phase_samples(Some(50_000), None, None, 48_000.0),
            Some(2_000)
        );
        assert_eq!(grid.phase_samples(None, None, None, 48_000.0), None);
        // An eighth note at 120 BPM: 0.5 quarter notes, 12 000 samples at 48 kHz.
        let tempo = SegmentGrid {
            period_samples: 12_000.0,
            period_beats: Some(0.5),
        };
        assert_eq!(
            tempo.phase_samples(Some(0), Some(10.25), Some(120.0), 48_000.0),
            Some(6_000)
        );
    }

    #[test]
    fn progress_counts_pending_builds() {
        let progress = BuildProgress::default();
        assert!(!progress.pending());
        progress.start();
        assert!(progress.pending());
        progress.finish();
        assert!(!progress.pending());
    }
}
