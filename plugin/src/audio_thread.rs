//! The plugin's state on the audio thread: the engine playing now, the one fading out, the
//! hand-off rings, and pre-allocated buffers. Nothing here allocates, locks, logs or does I/O
//! (offline renders excepted: see [`PlayingEngine::Offline`](crate::handoff::PlayingEngine)).

use std::sync::Arc;
use std::time::{Duration, Instant};

use counterpart_core::engine::EngineSettings;
use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};

use crate::handoff::{BuildProgress, Handoff, Installed, PlayingEngine};

/// How long an engine that is replaced keeps sounding while it fades out.
const SWAP_FADE_SECONDS: f32 = 0.05;
/// How long the companion fades in or out when an engine starts or stops.
const PRESENCE_FADE_SECONDS: f32 = 0.05;
/// Transport positions closer than this many samples to where the grid expects them count as
/// on time (hosts compute positions from seconds or beats, with rounding noise).
const JUMP_TOLERANCE: u64 = 64;
/// The longest an offline render waits for its engine to load.
const OFFLINE_WAIT: Duration = Duration::from_secs(120);

/// The audio thread's side of the plugin.
pub struct AudioSide {
    handoff: HeapCons<Handoff>,
    returned: HeapProd<Box<Installed>>,
    progress: Arc<BuildProgress>,
    offline: bool,
    sample_rate: f32,
    current: Option<Box<Installed>>,
    /// The replaced engine and the frames of fade it has left.
    fading: Option<(Box<Installed>, usize)>,
    /// An engine that could not go back yet (the return ring was full).
    unreturned: Option<Box<Installed>>,
    /// The reset count the playing engine (or the failure) was built after.
    epoch: Option<u64>,
    /// Resets the host asked for.
    resets: u64,
    /// Settings last sent to the playing engine.
    sent: EngineSettings,
    /// Where the host's transport should be at the next block if it plays on.
    expected_position: Option<i64>,
    /// The companion's share of the mix: ramps to 1 while an engine plays, to 0 otherwise.
    level: f32,
    presence: Box<[f32]>,
    wet: [Box<[f32]>; 2],
    fade: [Box<[f32]>; 2],
}

impl std::fmt::Debug for AudioSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioSide")
            .field("offline", &self.offline)
            .field("playing", &self.current.is_some())
            .finish_non_exhaustive()
    }
}

/// What one block's transport says, as far as the engine cares.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransportInfo {
    /// Whether the host is playing.
    pub playing: bool,
    /// Position in samples.
    pub pos_samples: Option<i64>,
    /// Position in quarter notes.
    pub pos_beats: Option<f64>,
    /// Tempo in BPM.
    pub tempo: Option<f64>,
}

impl AudioSide {
    /// Sets up the audio side with buffers for blocks of up to `max_block` frames (main
    /// thread, in `activate`).
    pub fn new(
        handoff: HeapCons<Handoff>,
        returned: HeapProd<Box<Installed>>,
        progress: Arc<BuildProgress>,
        sample_rate: f32,
        max_block: usize,
        offline: bool,
    ) -> Self {
        let chunk = max_block.clamp(64, 8192);
        let buffer = || vec![0.0f32; chunk].into_boxed_slice();
        Self {
            handoff,
            returned,
            progress,
            offline,
            sample_rate,
            current: None,
            fading: None,
            unreturned: None,
            epoch: None,
            resets: 0,
            sent: EngineSettings::default(),
            expected_position: None,
            level: 0.0,
            presence: buffer(),
            wet: [buffer(), buffer()],
            fade: [buffer(), buffer()],
        }
    }

    /// Longest span [`Self::render`] handles at once.
    pub fn chunk(&self) -> usize {
        self.wet[0].len()
    }

    /// Counts a host reset: the worker builds a fresh engine, which an offline render waits
    /// for.
    pub fn note_reset(&mut self) {
        self.resets += 1;
    }

    /// Takes engines the worker sent, starts the fade of the one they replace, hands finished
    /// engines back, forwards `settings` when they changed, and realigns the engine with the
    /// host's grid after a transport jump (`frames`: this block's length). Offline, first waits (the host
    /// is not waiting in real time) until the engine being built has arrived, so that the
    /// render does not depend on how long loading took. Returns the latency to report when a
    /// new engine started.
    pub fn poll(
        &mut self,
        settings: EngineSettings,
        transport: TransportInfo,
        frames: usize,
    ) -> Option<u32> {
        let started = self.offline.then(Instant::now);
        let mut latency = None;
        loop {
            self.give_back();
            while self.fading.is_none() && self.unreturned.is_none() {
                let Some(handoff) = self.handoff.try_pop() else {
                    break;
                };
                let (next, epoch) = match handoff {
                    Handoff::Install(mut engine) => {
                        latency = Some(engine.latency);
                        align(&mut engine, transport, self.sample_rate, &mut self.fade);
                        let epoch = engine.epoch;
                        (Some(engine), epoch)
                    }
                    Handoff::Clear(epoch) => (None, epoch),
                };
                self.epoch = Some(epoch);
                self.sent = next.as_ref().map_or(self.sent, |engine| engine.settings);
                if let Some(old) = std::mem::replace(&mut self.current, next) {
                    if self.offline {
                        self.unreturned = Some(old);
                        self.give_back();
                    } else {
                        let frames = (SWAP_FADE_SECONDS * self.sample_rate) as usize;
                        self.fading = Some((old, frames.max(1)));
                    }
                }
            }
            match started {
                Some(started) if self.waiting() && started.elapsed() <= OFFLINE_WAIT => {}
                _ => break,
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some(engine) = &mut self.current {
            if settings != self.sent && engine.control.set_settings(settings) {
                self.sent = settings;
            }
            // A transport jump: get back on the host's grid.
            let position = transport.pos_samples.filter(|_| transport.playing);
            let jumped = match (position, self.expected_position) {
                (Some(now), Some(expected)) => (now - expected).unsigned_abs() > JUMP_TOLERANCE,
                _ => false,
            };
            if jumped {
                align(engine, transport, self.sample_rate, &mut self.fade);
            }
            self.expected_position = position.map(|p| p + frames as i64);
        }
        latency
    }

    /// Whether an engine is being built that an offline render must wait for.
    fn waiting(&self) -> bool {
        self.progress.pending() || self.epoch.is_none_or(|epoch| epoch < self.resets)
    }

    /// Renders the companion for `guide` (`frames ≤ self.chunk()`) into the wet buffers, and
    /// the companion's share of the mix (0 when no engine plays, ramped) into the presence
    /// buffer; read both with [`Self::output`].
    pub fn render(&mut self, guide: &[&[f32]], frames: usize) {
        let [left, right] = &mut self.wet;
        let (left, right) = (&mut left[..frames], &mut right[..frames]);
        left.fill(0.0);
        right.fill(0.0);
        let target = if self.current.is_some() { 1.0 } else { 0.0 };
        if let Some(engine) = &mut self.current {
            if !engine.process(guide, &mut [&mut *left, &mut *right]) {
                left.fill(0.0);
                right.fill(0.0);
            }
        }
        if let Some((engine, remaining)) = &mut self.fading {
            let [fade_left, fade_right] = &mut self.fade;
            let (fade_left, fade_right) = (&mut fade_left[..frames], &mut fade_right[..frames]);
            if engine.process(&[], &mut [&mut *fade_left, &mut *fade_right]) {
                let total = (SWAP_FADE_SECONDS * self.sample_rate).max(1.0);
                for i in 0..frames {
                    let gain = remaining.saturating_sub(i) as f32 / total;
                    left[i] += fade_left[i] * gain;
                    right[i] += fade_right[i] * gain;
                }
            }
            *remaining = remaining.saturating_sub(frames);
            if *remaining == 0 {
                if let Some((engine, _)) = self.fading.take() {
                    self.unreturned = Some(engine);
                }
                self.give_back();
            }
        }
        let step = 1.0 / (PRESENCE_FADE_SECONDS * self.sample_rate).max(1.0);
        for presence in &mut self.presence[..frames] {
            self.level = if self.level < target {
                (self.level + step).min(target)
            } else {
                (self.level - step).max(target)
            };
            *presence = self.level;
        }
    }

    /// The companion's left and right channels and its share of the mix, for the first
    /// `frames` frames of the last [`Self::render`].
    pub fn output(&self, frames: usize) -> ([&[f32]; 2], &[f32]) {
        (
            [&self.wet[0][..frames], &self.wet[1][..frames]],
            &self.presence[..frames],
        )
    }

    /// Sends a finished engine back to the worker, to be freed there.
    fn give_back(&mut self) {
        if let Some(engine) = self.unreturned.take() {
            if let Err(engine) = self.returned.try_push(engine) {
                self.unreturned = Some(engine);
            }
        }
    }
}

/// Lines the engine's segment grid up with the host's: when the transport plays, the engine
/// runs through as much silence (its output discarded) as puts its position, modulo a segment,
/// where the host's is. A new engine thus starts on the grid, and one that plays through a
/// transport jump (a loop, a seek) gets back on it. Bounded: at most one segment of frames.
fn align(
    engine: &mut Installed,
    transport: TransportInfo,
    sample_rate: f32,
    scratch: &mut [Box<[f32]>; 2],
) {
    if !transport.playing || matches!(engine.engine, PlayingEngine::Offline(_)) {
        return;
    }
    let Some(host_phase) = engine.grid.phase_samples(
        transport.pos_samples,
        transport.pos_beats,
        transport.tempo,
        f64::from(sample_rate),
    ) else {
        return;
    };
    let period = engine.grid.period_samples;
    let engine_phase = (engine.position() as f64).rem_euclid(period);
    let delta = (host_phase as f64 - engine_phase)
        .rem_euclid(period)
        .round();
    // Hosts derive sample positions from seconds or beats: ignore rounding noise.
    let tolerance = JUMP_TOLERANCE as f64;
    if !(delta > tolerance && delta < period - tolerance) {
        return;
    }
    let mut remaining = delta as usize;
    let [left, right] = scratch;
    while remaining > 0 {
        let n = remaining.min(left.len());
        engine.process(&[], &mut [&mut left[..n], &mut right[..n]]);
        remaining -= n;
    }
}
