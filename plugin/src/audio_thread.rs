//! The plugin's state on the audio thread: the engine playing now, the one fading out, the
//! hand-off rings, the dry path's delay and pre-allocated buffers. Nothing here allocates,
//! locks, logs or does I/O (offline renders excepted, where the audio thread also runs the
//! engine's worker half: see [`Installed::worker`]).
//!
//! When the host renders faster than real time (it said so at activation, or the
//! [`FreewheelDetector`] sees it), the audio thread takes the engine's worker half from the
//! worker thread and runs it itself, block by block, waiting for engines being built: every
//! decision is then on time and the output is exactly what `counterpart render` gives. The
//! guide heard before an engine arrived is kept (the pre-roll) and replayed into it. When the
//! host returns to real time, the worker half goes back to the worker thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use counterpart_core::engine::EngineSettings;
use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};

use crate::dry_delay::DryDelay;
use crate::freewheel::FreewheelDetector;
use crate::handoff::{BuildProgress, Handoff, Installed, TravellingWorker};
use crate::shared::SharedState;

/// How long an engine that is replaced keeps sounding while it fades out.
const SWAP_FADE_SECONDS: f32 = 0.05;
/// How long the companion fades in or out when an engine starts or stops.
const PRESENCE_FADE_SECONDS: f32 = 0.05;
/// Transport positions closer than this many samples to where the grid expects them count as
/// on time (hosts compute positions from seconds or beats, with rounding noise).
const JUMP_TOLERANCE: u64 = 64;
/// The longest an offline render waits for its engine to load.
const OFFLINE_WAIT: Duration = Duration::from_secs(120);
/// How much of the guide is kept while no engine plays yet, to be replayed into the first
/// engine of an offline render.
const PREROLL_SECONDS: f32 = 2.0;
/// The dry delay line's length at activation; an engine with a longer latency brings a longer
/// one.
pub const DRY_DELAY_SECONDS: f32 = 4.0;

/// The audio thread's side of the plugin.
pub struct AudioSide {
    handoff: HeapCons<Handoff>,
    returned: HeapProd<Box<Installed>>,
    /// Worker halves from the worker thread, and back to it.
    travel_in: HeapCons<TravellingWorker>,
    travel_out: HeapProd<TravellingWorker>,
    /// A worker half that could not go back yet (its ring was full).
    stray: Option<TravellingWorker>,
    progress: Arc<BuildProgress>,
    shared: Arc<SharedState>,
    /// The host announced an offline render at activation.
    announced_offline: bool,
    detector: FreewheelDetector,
    /// The host consumes audio faster than real time without having said so.
    freewheeling: bool,
    sample_rate: f32,
    /// The dry path, delayed by the latency last reported.
    dry: DryDelay,
    /// The guide since activation or the last reset, while no engine plays yet.
    preroll: [Box<[f32]>; 2],
    preroll_frames: usize,
    preroll_channels: usize,
    /// Whether the pre-roll still holds all of the guide since activation or the last reset.
    preroll_whole: bool,
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
            .field("offline", &self.offline())
            .field("playing", &self.current.is_some())
            .finish_non_exhaustive()
    }
}

/// The audio side's links to the other threads.
pub struct AudioLinks {
    /// Engines from the worker thread.
    pub handoff: HeapCons<Handoff>,
    /// Engines back to the worker thread, to be freed there.
    pub returned: HeapProd<Box<Installed>>,
    /// Worker halves from the worker thread (offline).
    pub travel_in: HeapCons<TravellingWorker>,
    /// Worker halves back to the worker thread (real time again, or no longer wanted).
    pub travel_out: HeapProd<TravellingWorker>,
    /// Build counters (an offline render waits for builds).
    pub progress: Arc<BuildProgress>,
    /// State shared with the worker and the GUI.
    pub shared: Arc<SharedState>,
}

/// The host's audio setup, as the audio side needs it.
#[derive(Debug, Clone, Copy)]
pub struct AudioSetup {
    /// The host's sample rate in Hz.
    pub sample_rate: f32,
    /// The longest block the host sends.
    pub max_block: usize,
    /// Whether the host announced an offline render.
    pub offline: bool,
    /// The latency the host was last told, in samples.
    pub latency: u32,
}

/// The dry delay line's length, in frames, for a host at `sample_rate` Hz and an engine with
/// `latency` samples of latency: [`DRY_DELAY_SECONDS`], or longer when the latency needs it.
pub fn dry_delay_frames(sample_rate: f32, latency: u32) -> usize {
    ((DRY_DELAY_SECONDS * sample_rate) as usize).max(latency as usize)
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
    /// thread, in `activate`). The dry path starts delayed by `latency`, the latency the host
    /// was last told.
    pub fn new(links: AudioLinks, setup: AudioSetup) -> Self {
        let chunk = setup.max_block.clamp(64, 8192);
        let buffer = |frames: usize| vec![0.0f32; frames].into_boxed_slice();
        let preroll = (PREROLL_SECONDS * setup.sample_rate) as usize;
        let mut dry = DryDelay::new(
            dry_delay_frames(setup.sample_rate, setup.latency),
            (SWAP_FADE_SECONDS * setup.sample_rate) as usize,
        );
        dry.jump_to(setup.latency as usize);
        Self {
            handoff: links.handoff,
            returned: links.returned,
            travel_in: links.travel_in,
            travel_out: links.travel_out,
            stray: None,
            progress: links.progress,
            shared: links.shared,
            announced_offline: setup.offline,
            detector: FreewheelDetector::new(setup.sample_rate),
            freewheeling: false,
            sample_rate: setup.sample_rate,
            dry,
            preroll: [buffer(preroll), buffer(preroll)],
            preroll_frames: 0,
            preroll_channels: 0,
            preroll_whole: true,
            current: None,
            fading: None,
            unreturned: None,
            epoch: None,
            resets: 0,
            sent: EngineSettings::default(),
            expected_position: None,
            level: 0.0,
            presence: buffer(chunk),
            wet: [buffer(chunk), buffer(chunk)],
            fade: [buffer(chunk), buffer(chunk)],
        }
    }

    /// Whether the host renders faster than real time, announced or not.
    fn offline(&self) -> bool {
        self.announced_offline || self.freewheeling
    }

    /// Longest span [`Self::render`] handles at once.
    pub fn chunk(&self) -> usize {
        self.wet[0].len()
    }

    /// Counts a host reset: the worker builds a fresh engine, which an offline render waits
    /// for.
    pub fn note_reset(&mut self) {
        self.resets += 1;
        self.preroll_frames = 0;
        self.preroll_whole = true;
    }

    /// Takes engines the worker sent, starts the fade of the one they replace, hands finished
    /// engines back, forwards `settings` when they changed, and realigns the engine with the
    /// host's grid after a transport jump (`frames`: this block's length). Offline (announced,
    /// or seen from the host's pace), first takes the engine's worker half and waits (the host
    /// is not waiting in real time) until the engine being built has arrived, so that the
    /// render does not depend on how long loading took. Returns the latency to report when it
    /// changed; the dry path is then delayed by as much.
    pub fn poll(
        &mut self,
        settings: EngineSettings,
        transport: TransportInfo,
        frames: usize,
    ) -> Option<u32> {
        self.freewheeling = self.detector.block_started(Instant::now(), frames);
        self.shared.set_freewheeling(self.offline());
        let started = self.offline().then(Instant::now);
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
                        if let Some(mut longer) = engine.dry_delay.take() {
                            longer.continue_from(&self.dry);
                            std::mem::swap(&mut self.dry, &mut longer);
                            // The shorter line is freed with the engine, on the worker.
                            engine.dry_delay = Some(longer);
                        }
                        align(&mut engine, transport, self.sample_rate, &mut self.fade);
                        let epoch = engine.epoch;
                        (Some(engine), epoch)
                    }
                    Handoff::Clear(epoch) => {
                        latency = Some(0);
                        (None, epoch)
                    }
                };
                self.epoch = Some(epoch);
                self.sent = next.as_ref().map_or(self.sent, |engine| engine.settings);
                if let Some(old) = std::mem::replace(&mut self.current, next) {
                    if self.offline() {
                        self.unreturned = Some(old);
                        self.give_back();
                    } else {
                        let frames = (SWAP_FADE_SECONDS * self.sample_rate) as usize;
                        self.fading = Some((old, frames.max(1)));
                    }
                }
            }
            self.move_worker();
            match started {
                Some(started) if self.waiting() && started.elapsed() <= OFFLINE_WAIT => {}
                _ => break,
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some(latency) = latency {
            self.dry.set_delay(latency as usize);
        }
        self.replay_preroll();
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

    /// Notes the end of the host's process call (for the [`FreewheelDetector`]).
    pub fn block_finished(&mut self) {
        self.detector.block_finished(Instant::now());
    }

    /// Delays the dry signal `channels` in place by the latency last reported.
    pub fn delay_dry(&mut self, channels: &mut [&mut [f32]]) {
        self.dry.process(channels);
    }

    /// Offline, takes the playing engine's worker half from the worker thread; in real time,
    /// sends it back. Worker halves of engines no longer playing go back to be freed.
    fn move_worker(&mut self) {
        let offline = self.offline();
        while self.stray.is_none() {
            let Some(travelling) = self.travel_in.try_pop() else {
                break;
            };
            match &mut self.current {
                Some(engine)
                    if engine.id == travelling.id && engine.worker.is_none() && offline =>
                {
                    engine.worker = Some(travelling.worker);
                }
                _ => self.stray = Some(travelling),
            }
            self.send_stray();
        }
        if !offline && self.stray.is_none() {
            if let Some(engine) = &mut self.current {
                if let Some(worker) = engine.worker.take() {
                    self.stray = Some(TravellingWorker {
                        id: engine.id,
                        worker,
                    });
                }
            }
        }
        self.send_stray();
    }

    /// Sends a worker half back to the worker thread, if one is waiting to go.
    fn send_stray(&mut self) {
        if let Some(travelling) = self.stray.take() {
            if let Err(travelling) = self.travel_out.try_push(travelling) {
                self.stray = Some(travelling);
            }
        }
    }

    /// Offline, replays the guide heard before the first engine arrived into it (its output
    /// was already due, and is silent: no decision plays that early), so that it has heard
    /// the whole guide, as `counterpart render` does. Bounded by the pre-roll's length.
    fn replay_preroll(&mut self) {
        let Some(engine) = self.current.as_mut() else {
            return;
        };
        if engine.worker.is_some() && self.preroll_whole {
            let [left, right] = &mut self.fade;
            let chunk = left.len();
            let mut done = 0;
            while done < self.preroll_frames {
                let n = (self.preroll_frames - done).min(chunk);
                let [a, b] = &self.preroll;
                let guide = [&a[done..done + n], &b[done..done + n]];
                engine.process(
                    &guide[..self.preroll_channels],
                    &mut [&mut left[..n], &mut right[..n]],
                );
                done += n;
            }
        }
        // Once an engine plays, the pre-roll no longer starts where the engine's input does.
        self.preroll_frames = 0;
        self.preroll_whole = false;
    }

    /// Keeps `guide` in the pre-roll while no engine plays.
    fn record_preroll(&mut self, guide: &[&[f32]], frames: usize) {
        if !self.preroll_whole {
            return;
        }
        let channels = guide.len().min(2);
        let fits = self.preroll_frames + frames <= self.preroll[0].len();
        if !fits || (self.preroll_frames > 0 && channels != self.preroll_channels) {
            self.preroll_frames = 0;
            self.preroll_whole = false;
            return;
        }
        self.preroll_channels = channels;
        for (kept, channel) in self.preroll.iter_mut().zip(guide) {
            kept[self.preroll_frames..self.preroll_frames + frames]
                .copy_from_slice(&channel[..frames]);
        }
        self.preroll_frames += frames;
    }

    /// Whether an engine is being built that an offline render must wait for.
    fn waiting(&self) -> bool {
        self.progress.pending()
            || self.epoch.is_none_or(|epoch| epoch < self.resets)
            || self.current.as_ref().is_some_and(|e| e.worker.is_none())
    }

    /// Renders the companion for `guide` (`frames ≤ self.chunk()`) into the wet buffers, and
    /// the companion's share of the mix (0 when no engine plays, ramped) into the presence
    /// buffer; read both with [`Self::output`].
    pub fn render(&mut self, guide: &[&[f32]], frames: usize) {
        if self.current.is_none() {
            self.record_preroll(guide, frames);
        }
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
    if !transport.playing || engine.worker.is_some() {
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
