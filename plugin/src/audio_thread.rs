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
//! inference or a wait on its audio thread ([`OfflineRender`]).
//!
//! The parts: the offline mode ([`OfflineRender`]), the pre-roll ([`PreRoll`]), the transport
//! gate ([`TransportGate`]: start on the grid, jumps, a stopped transport), the worker half's
//! road ([`AudioEnd`]) and the dry path's delay ([`DryDelay`]).

use std::sync::Arc;
use std::time::Duration;

use counterpart_core::engine::EngineSettings;
use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};

use crate::dry_delay::DryDelay;
use crate::handoff::{BuildProgress, Handoff, Installed};
use crate::offline_render::OfflineRender;
use crate::preroll::PreRoll;
use crate::ramp::ramp;
use crate::shared::SharedState;
use crate::transport_gate::{align, TransportGate, TransportInfo};
use crate::worker_migration::AudioEnd;

/// How long an engine that is replaced keeps sounding while it fades out.
const SWAP_FADE_SECONDS: f32 = 0.05;
/// How long the companion fades in or out when an engine starts or stops.
const PRESENCE_FADE_SECONDS: f32 = 0.05;

/// The audio thread's side of the plugin.
pub struct AudioSide {
    handoff: HeapCons<Handoff>,
    returned: HeapProd<Box<Installed>>,
    migration: AudioEnd,
    shared: Arc<SharedState>,
    render: OfflineRender,
    sample_rate: f32,
    /// The dry path, delayed by the latency reported at activation.
    dry: DryDelay,
    preroll: PreRoll,
    gate: TransportGate,
    current: Option<Box<Installed>>,
    /// The replaced engine and the frames of fade it has left.
    fading: Option<(Box<Installed>, usize)>,
    /// An engine that could not go back yet (the return ring was full).
    unreturned: Option<Box<Installed>>,
    /// Settings last sent to the playing engine.
    sent: EngineSettings,
    /// The companion's share of the mix: ramps to 1 while an engine plays, to 0 otherwise.
    level: f32,
    presence: Box<[f32]>,
    wet: [Box<[f32]>; 2],
    fade: [Box<[f32]>; 2],
}

impl std::fmt::Debug for AudioSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioSide")
            .field("offline", &self.render.offline())
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
    /// The worker half's road from the worker thread (offline) and back.
    pub migration: AudioEnd,
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

impl AudioSide {
    /// Sets up the audio side with buffers for blocks of up to `max_block` frames (main
    /// thread, in `activate`). The dry path is delayed by `latency`, the latency reported.
    pub fn new(links: AudioLinks, setup: AudioSetup) -> Self {
        let chunk = setup.max_block.clamp(64, 8192);
        let buffer = |frames: usize| vec![0.0f32; frames].into_boxed_slice();
        Self {
            handoff: links.handoff,
            returned: links.returned,
            migration: links.migration,
            shared: links.shared,
            render: OfflineRender::new(links.progress),
            sample_rate: setup.sample_rate,
            dry: DryDelay::new(setup.latency as usize),
            preroll: PreRoll::new(setup.sample_rate),
            gate: TransportGate::default(),
            current: None,
            fading: None,
            unreturned: None,
            sent: EngineSettings::default(),
            level: 0.0,
            presence: buffer(chunk),
            wet: [buffer(chunk), buffer(chunk)],
            fade: [buffer(chunk), buffer(chunk)],
        }
    }

    /// Longest span [`Self::render`] handles at once.
    pub fn chunk(&self) -> usize {
        self.wet[0].len()
    }

    /// Counts a host reset: the worker builds a fresh engine, which an offline render waits
    /// for.
    pub fn note_reset(&mut self) {
        self.preroll.restart();
        self.render.ask_fresh_engine(&self.shared);
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
        let bounce_began = self.render.enter_block(offline, &self.shared);
        if self.gate.observe(transport, play_stopped, offline) {
            self.preroll.restart();
        }
        self.preroll.take_origin(transport);
        let fresh_start = !transport.playing || self.preroll.whole();
        if bounce_began && self.current.is_some() && fresh_start {
            // A bounce has begun (or begins when the transport plays): render it with a fresh
            // engine that hears it from its start, as `counterpart render` does (replayed from
            // the pre-roll). Deep into a play, the engine that plays goes on, now on time.
            self.render.ask_fresh_engine(&self.shared);
        }
        self.take_engines(transport);
        self.gate.start_on_grid(
            self.current.as_deref_mut(),
            &self.preroll,
            transport,
            self.sample_rate,
            &mut self.fade,
        );
        if let Some(engine) = &mut self.current {
            if settings != self.sent && engine.control.set_settings(settings) {
                self.sent = settings;
            }
            self.gate
                .follow_jumps(engine, transport, frames, self.sample_rate, &mut self.fade);
        }
    }

    /// Takes the engines the worker sent and moves the worker half; offline, waits (sleeping
    /// a millisecond at a time) until the engine being built has arrived with its worker half.
    fn take_engines(&mut self, transport: TransportInfo) {
        let started = self.render.wait_start();
        loop {
            self.give_back();
            while self.fading.is_none() && self.unreturned.is_none() {
                let Some(handoff) = self.handoff.try_pop() else {
                    break;
                };
                self.install(handoff, transport);
            }
            self.migration
                .exchange(self.current.as_deref_mut(), self.render.offline());
            if !self.render.keeps_waiting(started, self.current.as_deref()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Installs the engine `handoff` brings (or none), lined up with the host's grid; the one
    /// it replaces fades out (offline: goes back at once).
    fn install(&mut self, handoff: Handoff, transport: TransportInfo) {
        let (next, epoch) = match handoff {
            Handoff::Install(mut engine) => {
                self.gate.engine_arrived();
                align(&mut engine, transport, self.sample_rate, &mut self.fade);
                let epoch = engine.epoch;
                (Some(engine), epoch)
            }
            Handoff::Clear(epoch) => (None, epoch),
        };
        self.render.arrived(epoch);
        self.sent = next.as_ref().map_or(self.sent, |engine| engine.settings);
        if let Some(old) = std::mem::replace(&mut self.current, next) {
            if self.render.offline() {
                self.unreturned = Some(old);
                self.give_back();
            } else {
                let frames = (SWAP_FADE_SECONDS * self.sample_rate) as usize;
                self.fading = Some((old, frames.max(1)));
            }
        }
    }

    /// Delays the dry signal `channels` in place by the latency reported.
    pub fn delay_dry(&mut self, channels: &mut [&mut [f32]]) {
        self.dry.process(channels);
    }

    /// Renders the companion for `guide` (`frames ≤ self.chunk()`) into the wet buffers, and
    /// the companion's share of the mix (0 when no engine plays, ramped) into the presence
    /// buffer; read both with [`Self::output`].
    pub fn render(&mut self, guide: &[&[f32]], frames: usize) {
        self.preroll.record(guide, frames);
        let [left, right] = &mut self.wet;
        let (left, right) = (&mut left[..frames], &mut right[..frames]);
        left.fill(0.0);
        right.fill(0.0);
        let target = if self.current.is_some() { 1.0 } else { 0.0 };
        // Frames the engine waits through (offline: for the transport, or its start).
        let wait = self.gate.wait(frames);
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
        self.gate.apply_gain(left, right, step);
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
