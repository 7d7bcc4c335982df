//! The plugin's state on the audio thread: the engine playing now, the one fading out, the
//! hand-off rings, the dry path's delay and pre-allocated buffers. Nothing here allocates,
//! locks, logs or does I/O (offline renders excepted, where the audio thread also runs the
//! engine's worker half: see [`Installed::worker`]).
//!
//! When the host says that it renders offline (CLAP's render extension; VST3's
//! `ProcessData::processMode`, per process call), the audio thread takes the engine's worker
//! half from the worker thread and runs it itself, block by block, waiting for engines being
//! built: every decision is then on time and the output is exactly what `counterpart render`
//! gives for the guide the host renders. A bounce that starts mid-activation gets a fresh
//! engine; a fresh engine starts on the host's grid where the render starts, and catches up
//! from the guide kept since the render started (the pre-roll: since activation, a reset or
//! the transport's start) if it arrives later. When the host returns to real time, the worker
//! half goes back to the worker thread.
//!
//! The host's word is the only way in: a host that says nothing, or says it plays in real
//! time, however fast it calls (anticipative processing renders ahead in bursts), never gets
//! inference or a wait on its audio thread. [`AudioSide::poll`] waits and runs the worker
//! half only while `offline` holds, and `offline` is the mode the host gave for the call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use counterpart_core::engine::EngineSettings;
use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};

use crate::dry_delay::DryDelay;
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
/// How much of the guide is kept from the start of a render (activation, reset, transport
/// start), to be replayed into an engine that arrives after it began.
const PREROLL_SECONDS: f32 = 2.0;

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
    /// Whether the host said, for the block being processed, that it renders offline.
    offline: bool,
    sample_rate: f32,
    /// The dry path, delayed by the latency reported at activation.
    dry: DryDelay,
    /// The guide since the last start: activation, a reset or the transport starting to play.
    preroll: [Box<[f32]>; 2],
    preroll_frames: usize,
    preroll_channels: usize,
    /// Whether the pre-roll still holds all of the guide since the last start.
    preroll_whole: bool,
    /// The host position of the pre-roll's first frame, when the transport played from there.
    preroll_origin: Option<i64>,
    /// Whether the pre-roll restarted and takes its origin from the next block's transport.
    origin_pending: bool,
    /// Whether an engine arrived that has not been started on the render's grid yet.
    start_pending: bool,
    /// Frames the engine waits for before it starts (offline: it starts on the host's grid).
    gate: usize,
    /// Offline with the transport stopped: the engine waits for the transport to play.
    held: bool,
    /// Whether the transport played in the last block.
    was_playing: bool,
    /// Whether the host's transport is stopped and the companion must be silent.
    stopped: bool,
    /// The companion's gain for the transport, ramped between 0 (stopped) and 1.
    transport_gain: f32,
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
    /// The latency reported to the host at activation, in samples.
    pub latency: u32,
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

impl TransportInfo {
    /// The transport `frames` later (the beat position moved on at the current tempo).
    ///
    /// A host that compensates a plugin's latency feeds the plugin's input that much early and
    /// reports the position where its output will be heard (Ardour does, checked by the Ardour
    /// test): the guide in the input lies `latency` frames after the reported position, and
    /// the segment grid follows the guide's time, `transport.ahead(latency, rate)`.
    pub fn ahead(self, frames: u32, sample_rate: f32) -> Self {
        let seconds = f64::from(frames) / f64::from(sample_rate);
        Self {
            pos_samples: self.pos_samples.map(|p| p + i64::from(frames)),
            pos_beats: self
                .pos_beats
                .zip(self.tempo)
                .map(|(beats, bpm)| beats + seconds * bpm / 60.0),
            ..self
        }
    }
}

impl AudioSide {
    /// Sets up the audio side with buffers for blocks of up to `max_block` frames (main
    /// thread, in `activate`). The dry path is delayed by `latency`, the latency reported.
    pub fn new(links: AudioLinks, setup: AudioSetup) -> Self {
        let chunk = setup.max_block.clamp(64, 8192);
        let buffer = |frames: usize| vec![0.0f32; frames].into_boxed_slice();
        let preroll = (PREROLL_SECONDS * setup.sample_rate) as usize;
        Self {
            handoff: links.handoff,
            returned: links.returned,
            travel_in: links.travel_in,
            travel_out: links.travel_out,
            stray: None,
            progress: links.progress,
            shared: links.shared,
            offline: false,
            sample_rate: setup.sample_rate,
            dry: DryDelay::new(setup.latency as usize),
            preroll: [buffer(preroll), buffer(preroll)],
            preroll_frames: 0,
            preroll_channels: 0,
            preroll_whole: true,
            preroll_origin: None,
            origin_pending: true,
            start_pending: false,
            gate: 0,
            held: false,
            was_playing: false,
            stopped: false,
            transport_gain: 1.0,
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

    /// Whether the host said, for the block being processed, that it renders offline.
    fn offline(&self) -> bool {
        self.offline
    }

    /// Longest span [`Self::render`] handles at once.
    pub fn chunk(&self) -> usize {
        self.wet[0].len()
    }

    /// Counts a host reset: the worker builds a fresh engine, which an offline render waits
    /// for.
    pub fn note_reset(&mut self) {
        self.restart_preroll();
        self.ask_fresh_engine();
    }

    /// Asks the worker for a fresh engine (an offline render waits for it).
    fn ask_fresh_engine(&mut self) {
        self.resets += 1;
        self.shared.request_reset();
    }

    /// Starts keeping the guide afresh: what follows is the start of a render. Its host
    /// position is taken from the next block.
    fn restart_preroll(&mut self) {
        self.preroll_frames = 0;
        self.preroll_whole = true;
        self.origin_pending = true;
    }

    /// Takes engines the worker sent, starts the fade of the one they replace, hands finished
    /// engines back, forwards `settings` when they changed, and realigns the engine with the
    /// host's grid after a transport jump (`frames`: this block's length). When the host says
    /// it renders this block `offline`, first takes the engine's worker half and waits (the
    /// host is not waiting in real time) until the engine being built has arrived, so that the
    /// render does not depend on how long loading took. Unless `play_stopped`, the companion
    /// fades out (50 ms) while the host reports a stopped transport.
    pub fn poll(
        &mut self,
        settings: EngineSettings,
        transport: TransportInfo,
        frames: usize,
        play_stopped: bool,
        offline: bool,
    ) {
        let was_offline = self.offline();
        self.offline = offline;
        self.shared.set_offline(offline);
        if transport.playing && !self.was_playing {
            self.restart_preroll();
        }
        if std::mem::take(&mut self.origin_pending) {
            self.preroll_origin = transport.pos_samples.filter(|_| transport.playing);
        }
        self.was_playing = transport.playing;
        // A host that reports a position and is not playing has stopped its transport.
        let stopped = !transport.playing && transport.pos_samples.is_some();
        self.stopped = stopped && !play_stopped;
        // Offline, a stopped transport has nothing to render: the engine waits for it to play,
        // so that it starts fresh with the render; unless the user asked it to play when
        // stopped (hosts with no timeline, such as pedalboard, report one stopped at 0).
        self.held = stopped && self.offline() && !play_stopped;
        let fresh_start = !transport.playing || self.preroll_whole;
        if !was_offline && self.offline() && self.current.is_some() && fresh_start {
            // A bounce has begun (or begins when the transport plays): render it with a fresh
            // engine that hears it from its start, as `counterpart render` does (replayed from
            // the pre-roll). Deep into a play, the engine that plays goes on, now on time.
            self.ask_fresh_engine();
        }
        let started = self.offline().then(Instant::now);
        loop {
            self.give_back();
            while self.fading.is_none() && self.unreturned.is_none() {
                let Some(handoff) = self.handoff.try_pop() else {
                    break;
                };
                let (next, epoch) = match handoff {
                    Handoff::Install(mut engine) => {
                        self.start_pending = true;
                        align(&mut engine, transport, self.sample_rate, &mut self.fade);
                        let epoch = engine.epoch;
                        (Some(engine), epoch)
                    }
                    Handoff::Clear(epoch) => (None, epoch),
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
        self.start_on_grid(transport);
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
    }

    /// Delays the dry signal `channels` in place by the latency reported.
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

    /// Offline, starts an engine that just arrived where `counterpart render` would have
    /// started it on the guide the host renders: at the render's start when the host gives no
    /// transport, else on the first grid line of the guide's time (the host's timeline, led by
    /// the latency: [`TransportInfo::ahead`]) at or after the point the transport started from,
    /// or the session's start when the host pre-rolls from before it, as Ardour does to
    /// compensate the latency. A start
    /// still ahead is waited for (the gate); one already past is caught up with by replaying
    /// the pre-roll from there (its output was due already, and is silent: no decision plays
    /// that early). Bounded by the pre-roll's length.
    fn start_on_grid(&mut self, transport: TransportInfo) {
        // Held by a stopped transport, it starts when the transport plays; an engine whose
        // worker half is still on the worker thread (real time) is started when it arrives.
        if self.held || !self.start_pending {
            return;
        }
        let Some(engine) = self.current.as_mut().filter(|e| e.worker.is_some()) else {
            return;
        };
        self.start_pending = false;
        let recorded = self.preroll_frames;
        // In the guide's time: the input leads the reported position by the latency.
        let lead = i64::from(engine.latency);
        let now = transport.pos_samples.map(|p| p + lead);
        let phase = guide_phase(engine, transport, self.sample_rate);
        let start = match (self.preroll_origin, now, phase) {
            (Some(origin), Some(now), Some(phase)) if transport.playing => {
                let period = engine.grid.period_samples;
                // Nothing plays before the session's start: hosts that compensate latency in a
                // bounce pre-roll from before it.
                let target = (origin + lead).max(0);
                let phase = (phase as f64 + (target - now) as f64).rem_euclid(period);
                let line = target as f64 + (period - phase) % period;
                (line.round() as i64 - lead - origin).max(0) as usize
            }
            _ => 0,
        };
        self.gate = start.saturating_sub(recorded);
        if start < recorded && self.preroll_whole {
            let [left, right] = &mut self.fade;
            let chunk = left.len();
            let mut done = start;
            while done < recorded {
                let n = (recorded - done).min(chunk);
                let [a, b] = &self.preroll;
                let guide = [&a[done..done + n], &b[done..done + n]];
                engine.process(
                    &guide[..self.preroll_channels],
                    &mut [&mut left[..n], &mut right[..n]],
                );
                done += n;
            }
        }
    }

    /// Keeps `guide` in the pre-roll, until it is full.
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
        self.record_preroll(guide, frames);
        let [left, right] = &mut self.wet;
        let (left, right) = (&mut left[..frames], &mut right[..frames]);
        left.fill(0.0);
        right.fill(0.0);
        let target = if self.current.is_some() { 1.0 } else { 0.0 };
        // Frames the engine waits through (offline: for the transport, or its start).
        let wait = if self.held {
            frames
        } else {
            self.gate.min(frames)
        };
        self.gate -= wait.min(self.gate);
        if let Some(engine) = self.current.as_mut().filter(|_| wait < frames) {
            let tail = [
                guide.first().map_or(&[][..], |c| &c[wait..frames]),
                guide.get(1).map_or(&[][..], |c| &c[wait..frames]),
            ];
            let (left, right) = (&mut left[wait..], &mut right[wait..]);
            if !engine.process(&tail[..guide.len().min(2)], &mut [&mut *left, &mut *right]) {
                left.fill(0.0);
                right.fill(0.0);
            }
        }
        // The transport's and the presence's ramps both take PRESENCE_FADE_SECONDS.
        let step = 1.0 / (PRESENCE_FADE_SECONDS * self.sample_rate).max(1.0);
        // The companion fades out while the transport is stopped, and back in when it plays.
        let open = if self.stopped { 0.0 } else { 1.0 };
        if self.transport_gain != open || open == 0.0 {
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                self.transport_gain = ramp(self.transport_gain, open, step);
                *l *= self.transport_gain;
                *r *= self.transport_gain;
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
        for presence in &mut self.presence[..frames] {
            self.level = ramp(self.level, target, step);
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

/// `value` moved one `step` towards `target`, without passing it.
fn ramp(value: f32, target: f32, step: f32) -> f32 {
    if value < target {
        (value + step).min(target)
    } else {
        (value - step).max(target)
    }
}

/// How far past its last grid line the guide is at the start of this block, in samples: the
/// grid taken in the guide's time, the host's position led by the latency
/// ([`TransportInfo::ahead`]); `None` without a usable transport.
fn guide_phase(engine: &Installed, transport: TransportInfo, sample_rate: f32) -> Option<usize> {
    let guide_time = transport.ahead(engine.latency, sample_rate);
    engine.grid.phase_samples(
        guide_time.pos_samples,
        guide_time.pos_beats,
        guide_time.tempo,
        f64::from(sample_rate),
    )
}

/// Lines the engine's segment grid up with the host's: when the transport plays, the engine
/// runs through as much silence (its output discarded) as puts its position, modulo a segment,
/// where the guide's is (the host's position led by the latency: [`TransportInfo::ahead`]), so
/// that segments start on the guide's beats. A new engine thus starts on the grid, and one that plays through a
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
    let Some(host_phase) = guide_phase(engine, transport, sample_rate) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_time_leads_the_reported_position_by_the_latency() {
        let transport = TransportInfo {
            playing: true,
            pos_samples: Some(-30_720),
            pos_beats: Some(-1.28),
            tempo: Some(120.0),
        };
        // 29 760 frames at 48 kHz: 0.62 s, 1.24 quarter notes at 120 BPM.
        let ahead = transport.ahead(29_760, 48_000.0);
        assert_eq!(ahead.pos_samples, Some(-960));
        assert!((ahead.pos_beats.unwrap() + 0.04).abs() < 1e-12);
        assert_eq!(ahead.tempo, Some(120.0));
        assert!(ahead.playing);
        let unknown = TransportInfo {
            pos_beats: Some(2.0),
            tempo: None,
            ..transport
        };
        assert_eq!(unknown.ahead(48_000, 48_000.0).pos_beats, None);
    }
}
