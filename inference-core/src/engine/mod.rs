//! The streaming engine: the live pipeline the plugin runs, and that `counterpart render` runs
//! offline, block by block.
//!
//! # Threads
//! [`build`] returns an [`Engine`]: three parts, one per thread, that share only lock-free
//! queues and atomics.
//! * [`AudioEngine`] (audio thread): mixes the guide to mono, replaces NaN/infinite samples by
//!   silence, writes it to an SPSC ring buffer, and renders the companion with the
//!   [`GrainScheduler`]. No allocation, lock, I/O or logging.
//! * [`EngineWorker`] (worker thread, `worker.rs`): reads the ring and orchestrates three parts.
//!   The guide listener (`guide/`) hears the guide's rests, onsets and notes. At every segment
//!   boundary the pipeline (`pipeline.rs`) segments, encodes (Wav2Vec 2.0 with past context,
//!   resampled to 16 kHz), quantises, steps the decision Transformer, samples B's label and asks
//!   the navigator for a corpus segment. The companion planner (`planner.rs`, with
//!   `onset_follower.rs`) turns each decision into grains for the scheduler's handle. It also
//!   frees the corpora the audio thread retires.
//! * [`EngineControl`] (GUI or parameter thread): sends new [`EngineSettings`] (lock-free,
//!   allocation-free) and new presets (a channel; not for the audio thread).
//! * [`EngineTelemetry`] (any thread, read-only): late decisions, worker load, current tokens,
//!   the label distribution, what is playing, the latency to report.
//!
//! # Timing
//! Let `S` be the segment length in host samples and `L` the look-ahead. Guide segment `t`
//! covers host samples `[tS, (t+1)S)`. Companion slot `t` is meant to line up with it, and its
//! label `b_t` needs guide tokens up to `a_{t−1+L}`, whose segment is complete at host time
//! `(t+L)S`. The worker still needs time after that: the audio block that carries the boundary
//! (up to one host block), the resampler's chunk and filter delay, the worker's polling and its
//! encoder and decision compute, the block the answer starts in (the audio thread takes a
//! decision in when a block begins), and half a crossfade, because a jump's crossfade is
//! centred on the slot's start. That time is the **worker margin** `M`
//! ([`EngineConfig::worker_margin`], fitted to the host's largest block by [`WorkerMargin`]),
//! so slot `t` is scheduled at host position `(t+L)S + M`:
//! * `L = 0` (live): B trails its own grid by `M`. Nothing can be done about it without
//!   seeing the future, so the reported latency is 0 and B answers A as fast as it can.
//! * `L = 1` (aligned): slot `t` plays at `(t+1)S + M + H`, exactly `S + M + H` after guide
//!   segment `t`, where `H = S/2` (at least the onset detector's delay) is the onset shift;
//!   reporting a latency of `S + M + H` ([`AudioEngine::latency_samples`]) makes the host delay
//!   everything else by that much, so B lines up with A. The shift exists for onset following
//!   ([`EngineSettings::follow_onsets`], see `onset_follower.rs`): a guide onset at `g` is answered with
//!   the decision of the slot whose segment holds `g + H`, i.e. most of the note it starts, and
//!   that decision is ready `H` after the segment ends.
//!
//! A decision that reaches the audio thread after its crossfade should have begun is counted
//! as late ([`EngineTelemetry::late_decisions`]); the scheduler then continues the corpus
//! audio until the command arrives. With tempo-synced presets `S` follows the note value and
//! the tempo ([`EngineConfig::tempo_bpm`], the host's, or else the preset's) and need not be a
//! whole number of samples: boundary `k` is `round(k·S)`.
//!
//! # Offline
//! [`OfflineRenderer`] drives the same two halves on one thread: for each block it captures the
//! guide, runs the worker until all captured audio is processed, then renders. Every decision is
//! therefore on time, and the output depends only on the guide, the preset, the settings and
//! the seed: not on the block size, nor on the machine's speed. The plugin does the same when
//! the host renders offline.
//!
//! # Changing things while playing
//! Settings go through a small lock-free queue to the worker, which applies them at its next
//! step. A new preset (built off the audio thread with [`LoadedPreset::load`]) is sent over a
//! channel; the worker restarts perception and decision from its current position and swaps the
//! corpus through the scheduler, which fades the old one out and hands it back to the worker to
//! be freed.

mod audio;
mod config;
mod error;
mod guide;
mod latency;
mod loaded_preset;
mod offline;
mod onset_follower;
mod pipeline;
mod planner;
mod progress;
mod recut;
mod recut_cache;
mod telemetry;
mod worker;

use std::sync::Arc;

use crossbeam_channel::Sender;
use ringbuf::traits::{Producer, Split};
use ringbuf::{HeapProd, HeapRb};

pub use audio::{AudioEngine, MAX_PASS_FRAMES};
pub use config::{
    EngineConfig, EngineSettings, Margin, MissingLabel, WorkerMargin, COMPUTE_ALLOWANCE_S,
    DEFAULT_HOST_BLOCK, DEFAULT_REST_HOLD_S, WORKER_POLL,
};
pub use error::EngineError;
pub use guide::{ENTRY_DB, PEAK_SECONDS, SILENCE_DBFS, SOUND_DBFS, TAIL_DB};
pub use latency::announced_latency;
pub use loaded_preset::{
    segmentation_config, CorpusOrigins, EncoderSearch, LoadedPreset, SegmentOrigin,
};
pub use offline::OfflineRenderer;
pub use planner::PlayedSlot;
pub use progress::Progress;
pub use recut::{recut, recut_cached};
pub use recut_cache::{RecutCache, DEFAULT_CAP_BYTES};
pub use telemetry::{EngineTelemetry, NowPlaying, MAX_LABELS};
pub use worker::EngineWorker;

use crate::action::{GrainScheduler, SchedulerConfig};

/// Settings changes that may wait in the queue to the worker.
const SETTINGS_QUEUE: usize = 64;

/// The engine's three parts, for the audio thread, the worker thread and the control thread.
#[derive(Debug)]
pub struct Engine {
    /// For the audio thread.
    pub audio: AudioEngine,
    /// For the worker thread.
    pub worker: EngineWorker,
    /// For the GUI or parameter thread.
    pub control: EngineControl,
}

/// Builds the engine for `preset` at `host_rate` Hz (off the audio thread: it allocates).
pub fn build(
    preset: LoadedPreset,
    config: &EngineConfig,
    host_rate: u32,
) -> Result<Engine, EngineError> {
    if preset.corpus.sample_rate() != host_rate {
        return Err(EngineError::Config(format!(
            "the preset was loaded for {} Hz but the engine runs at {host_rate} Hz",
            preset.corpus.sample_rate()
        )));
    }
    if !(config.ring_seconds.is_finite() && (0.1..=60.0).contains(&config.ring_seconds)) {
        return Err(EngineError::Config(format!(
            "ring of {} s must hold between 0.1 and 60 s",
            config.ring_seconds
        )));
    }
    let (guide_tx, guide_rx) =
        HeapRb::<f32>::new((config.ring_seconds * f64::from(host_rate)).ceil() as usize).split();
    let (settings_tx, settings_rx) = HeapRb::<EngineSettings>::new(SETTINGS_QUEUE).split();
    let (preset_tx, preset_rx) = crossbeam_channel::unbounded();
    let (scheduler, handle) = GrainScheduler::new(SchedulerConfig {
        crossfade_seconds: config.settings.crossfade_seconds,
        ..SchedulerConfig::new(host_rate)
    })?;
    let telemetry = Arc::new(EngineTelemetry::default());
    let worker = EngineWorker::new(
        worker::WorkerParts {
            guide: guide_rx,
            settings_rx,
            presets: preset_rx,
            handle,
            telemetry: Arc::clone(&telemetry),
        },
        preset,
        config,
        host_rate,
    )?;
    Ok(Engine {
        audio: AudioEngine::new(guide_tx, scheduler, Arc::clone(&telemetry)),
        worker,
        control: EngineControl {
            settings: settings_tx,
            presets: preset_tx,
            telemetry,
        },
    })
}

/// Changes what the engine does while it plays. Owned by one thread at a time.
pub struct EngineControl {
    settings: HeapProd<EngineSettings>,
    presets: Sender<LoadedPreset>,
    telemetry: Arc<EngineTelemetry>,
}

impl std::fmt::Debug for EngineControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineControl").finish_non_exhaustive()
    }
}

impl EngineControl {
    /// Queues new settings for the worker. Lock-free and allocation-free (the audio thread may
    /// call it); returns `false` when the queue is full (try again later). Check them first with
    /// [`EngineSettings::validate`]: the worker reports bad ones as an error.
    pub fn set_settings(&mut self, settings: EngineSettings) -> bool {
        self.settings.try_push(settings).is_ok()
    }

    /// Sends a preset (loaded for the engine's host rate) to the worker, which switches to it at
    /// its next step. Not for the audio thread. Returns the preset if the worker is gone.
    pub fn load_preset(&self, preset: LoadedPreset) -> Result<(), Box<LoadedPreset>> {
        self.presets
            .send(preset)
            .map_err(|error| Box::new(error.into_inner()))
    }

    /// The shared telemetry.
    pub fn telemetry(&self) -> &Arc<EngineTelemetry> {
        &self.telemetry
    }
}
