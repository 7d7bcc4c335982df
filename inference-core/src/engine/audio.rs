//! The audio thread's side of the engine.

use std::sync::Arc;

use ringbuf::traits::Producer;
use ringbuf::HeapProd;

use super::telemetry::EngineTelemetry;
use crate::action::{GrainScheduler, ProcessError};

/// Frames handled per pass; longer host blocks are cut into passes of this size.
pub const MAX_PASS_FRAMES: usize = 4096;

/// The engine on the audio thread: captures the guide into the worker's ring buffer and renders
/// the companion track with the grain scheduler. [`AudioEngine::process`] never allocates,
/// locks, logs or does I/O.
pub struct AudioEngine {
    guide: HeapProd<f32>,
    scheduler: GrainScheduler,
    mono: Box<[f32]>,
    telemetry: Arc<EngineTelemetry>,
}

impl std::fmt::Debug for AudioEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioEngine")
            .field("position", &self.scheduler.position())
            .finish_non_exhaustive()
    }
}

impl AudioEngine {
    pub(super) fn new(
        guide: HeapProd<f32>,
        scheduler: GrainScheduler,
        telemetry: Arc<EngineTelemetry>,
    ) -> Self {
        Self {
            guide,
            scheduler,
            mono: vec![0.0; MAX_PASS_FRAMES].into_boxed_slice(),
            telemetry,
        }
    }

    /// Processes one host block: `guide` holds the guide track's channels (any number, even
    /// none; channels shorter than the block count as silence there), `out` the companion's one
    /// or two channels of equal length, which are overwritten. The guide is mixed down to mono,
    /// NaN and infinite samples become silence (and are counted), and the block goes to the
    /// worker. Any block length; real-time safe.
    pub fn process(
        &mut self,
        guide: &[&[f32]],
        out: &mut [&mut [f32]],
    ) -> Result<(), ProcessError> {
        let frames = check_out(out)?;
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(MAX_PASS_FRAMES);
            self.capture(guide, done, n);
            self.render(out, done, n)?;
            done += n;
        }
        Ok(())
    }

    /// The latency to report to the host, in samples (see [`crate::engine`]).
    pub fn latency_samples(&self) -> u32 {
        self.telemetry.latency_samples()
    }

    /// Host frames rendered so far.
    pub fn position(&self) -> u64 {
        self.scheduler.position()
    }

    /// The shared telemetry.
    pub fn telemetry(&self) -> &Arc<EngineTelemetry> {
        &self.telemetry
    }

    /// Sends guide frames `offset..offset + n` (`n ≤ MAX_PASS_FRAMES`) to the worker.
    pub(super) fn capture(&mut self, guide: &[&[f32]], offset: usize, n: usize) {
        let mono = &mut self.mono[..n];
        mono.fill(0.0);
        let channels = guide.len();
        if channels > 0 {
            let scale = 1.0 / channels as f32;
            for channel in guide {
                let available = channel.len().saturating_sub(offset).min(n);
                for (m, &x) in mono[..available].iter_mut().zip(&channel[offset..]) {
                    *m += x * scale;
                }
            }
        }
        let mut bad = 0;
        for m in mono.iter_mut() {
            if !m.is_finite() {
                *m = 0.0;
                bad += 1;
            }
        }
        if bad > 0 {
            self.telemetry.count_nonfinite(bad);
        }
        let written = self.guide.push_slice(mono);
        if written < n {
            self.telemetry.count_dropped((n - written) as u64);
        }
    }

    /// Renders frames `offset..offset + n` of `out` (checked by [`check_out`]).
    pub(super) fn render(
        &mut self,
        out: &mut [&mut [f32]],
        offset: usize,
        n: usize,
    ) -> Result<(), ProcessError> {
        let range = offset..offset + n;
        match out {
            [mono] => self.scheduler.process(&mut [&mut mono[range]]),
            [left, right, rest @ ..] => {
                for channel in rest {
                    channel[range.clone()].fill(0.0);
                }
                self.scheduler
                    .process(&mut [&mut left[range.clone()], &mut right[range]])
            }
            [] => Err(ProcessError::ChannelCount(0)),
        }
    }
}

/// The block length of `out`, checking its channels agree.
pub(super) fn check_out(out: &[&mut [f32]]) -> Result<usize, ProcessError> {
    let Some(first) = out.first() else {
        return Err(ProcessError::ChannelCount(0));
    };
    let frames = first.len();
    if out.iter().any(|channel| channel.len() != frames) {
        return Err(ProcessError::ChannelLengths);
    }
    Ok(frames)
}
