//! Synchronous, deterministic rendering: both halves of the engine on one thread.

use super::audio::{check_out, AudioEngine, MAX_PASS_FRAMES};
use super::worker::EngineWorker;
use super::EngineError;

/// Drives an [`AudioEngine`] and its [`EngineWorker`] on one thread, block by block: capture the
/// guide, let the worker process all of it, render. No decision is ever late, and the output is
/// the same for any block size (see [`crate::engine`]).
#[derive(Debug)]
pub struct OfflineRenderer {
    audio: AudioEngine,
    worker: EngineWorker,
}

impl OfflineRenderer {
    /// Joins the two halves of one engine.
    pub fn new(audio: AudioEngine, worker: EngineWorker) -> Self {
        Self { audio, worker }
    }

    /// Processes one block of any length, like [`AudioEngine::process`], but runs the worker
    /// after capturing each pass and before rendering it.
    pub fn process(&mut self, guide: &[&[f32]], out: &mut [&mut [f32]]) -> Result<(), EngineError> {
        Self::drive(&mut self.audio, &mut self.worker, guide, out)
    }

    /// [`Self::process`] for halves held apart: the plugin keeps an engine's worker half on
    /// the worker thread while the host plays in real time, and moves it to the audio thread
    /// (and back) when the host starts (or stops) rendering faster than real time.
    pub fn drive(
        audio: &mut AudioEngine,
        worker: &mut EngineWorker,
        guide: &[&[f32]],
        out: &mut [&mut [f32]],
    ) -> Result<(), EngineError> {
        let frames = check_out(out)?;
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(MAX_PASS_FRAMES);
            audio.capture(guide, done, n);
            while worker.step()? {}
            audio.render(out, done, n)?;
            done += n;
        }
        Ok(())
    }

    /// The audio half.
    pub fn audio(&self) -> &AudioEngine {
        &self.audio
    }

    /// The worker half (for telemetry, settings and the record of played slots).
    pub fn worker_mut(&mut self) -> &mut EngineWorker {
        &mut self.worker
    }

    /// Splits the renderer back into its halves (the plugin returns to threaded operation).
    pub fn into_parts(self) -> (AudioEngine, EngineWorker) {
        (self.audio, self.worker)
    }
}
