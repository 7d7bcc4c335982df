//! The host's transport, as the engine follows it (audio thread): the companion fades out
//! while the transport is stopped; an engine starts on the host's segment grid (offline: where
//! `counterpart render` would have started it, waiting for its start or catching up from the
//! pre-roll); and a transport jump (a loop, a seek) puts the playing engine back on the grid.
//! Everything here is bounded and allocation-free.

use crate::handoff::Installed;
use crate::preroll::PreRoll;
use crate::ramp::ramp;

/// Transport positions closer than this many samples to where the grid expects them count as
/// on time (hosts compute positions from seconds or beats, with rounding noise).
const JUMP_TOLERANCE: u64 = 64;

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

/// The engine's gate on the host's transport.
#[derive(Debug)]
pub struct TransportGate {
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
    gain: f32,
    /// Where the host's transport should be at the next block if it plays on.
    expected_position: Option<i64>,
}

impl Default for TransportGate {
    /// A gate with no engine and the transport not playing.
    fn default() -> Self {
        Self {
            start_pending: false,
            gate: 0,
            held: false,
            was_playing: false,
            stopped: false,
            gain: 1.0,
            expected_position: None,
        }
    }
}

impl TransportGate {
    /// Reads this block's `transport` (rendered `offline` or not). Unless `play_stopped`, the
    /// companion fades out while the host reports a stopped transport, and offline an engine
    /// waits for it to play. Returns whether the transport has just started playing.
    pub fn observe(&mut self, transport: TransportInfo, play_stopped: bool, offline: bool) -> bool {
        let started = transport.playing && !self.was_playing;
        self.was_playing = transport.playing;
        // A host that reports a position and is not playing has stopped its transport.
        let stopped = !transport.playing && transport.pos_samples.is_some();
        self.stopped = stopped && !play_stopped;
        // Offline, a stopped transport has nothing to render: the engine waits for it to play,
        // so that it starts fresh with the render; unless the user asked it to play when
        // stopped (hosts with no timeline, such as pedalboard, report one stopped at 0).
        self.held = stopped && offline && !play_stopped;
        started
    }

    /// An engine arrived: it is started on the grid at the next [`Self::start_on_grid`].
    pub fn engine_arrived(&mut self) {
        self.start_pending = true;
    }

    /// Offline, starts an engine that just arrived where `counterpart render` would have
    /// started it on the guide the host renders: at the render's start when the host gives no
    /// transport, else on the first grid line of the guide's time (the host's timeline, led by
    /// the latency: [`TransportInfo::ahead`]) at or after the point the transport started from,
    /// or the session's start when the host pre-rolls from before it, as Ardour does to
    /// compensate the latency. A start still ahead is waited for (the gate); one already past
    /// is caught up with by replaying the pre-roll from there (its output was due already, and
    /// is silent: no decision plays that early). Bounded by the pre-roll's length.
    pub fn start_on_grid(
        &mut self,
        current: Option<&mut Installed>,
        preroll: &PreRoll,
        transport: TransportInfo,
        sample_rate: f32,
        scratch: &mut [Box<[f32]>; 2],
    ) {
        // Held by a stopped transport, it starts when the transport plays; an engine whose
        // worker half is still on the worker thread (real time) is started when it arrives.
        if self.held || !self.start_pending {
            return;
        }
        let Some(engine) = current.filter(|e| e.worker.is_some()) else {
            return;
        };
        self.start_pending = false;
        let recorded = preroll.frames();
        // In the guide's time: the input leads the reported position by the latency.
        let lead = i64::from(engine.latency);
        let now = transport.pos_samples.map(|p| p + lead);
        let phase = guide_phase(engine, transport, sample_rate);
        let start = match (preroll.origin(), now, phase) {
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
        if start < recorded && preroll.whole() {
            preroll.replay(engine, start, scratch);
        }
    }

    /// After a transport jump, gets the playing `engine` back on the host's grid; notes where
    /// the transport should be after this block of `frames` frames.
    pub fn follow_jumps(
        &mut self,
        engine: &mut Installed,
        transport: TransportInfo,
        frames: usize,
        sample_rate: f32,
        scratch: &mut [Box<[f32]>; 2],
    ) {
        let position = transport.pos_samples.filter(|_| transport.playing);
        let jumped = match (position, self.expected_position) {
            (Some(now), Some(expected)) => (now - expected).unsigned_abs() > JUMP_TOLERANCE,
            _ => false,
        };
        if jumped {
            align(engine, transport, sample_rate, scratch);
        }
        self.expected_position = position.map(|p| p + frames as i64);
    }

    /// How many of the next `frames` frames the engine waits through (offline: for the
    /// transport, or for its start on the grid).
    pub fn wait(&mut self, frames: usize) -> usize {
        let wait = if self.held {
            frames
        } else {
            self.gate.min(frames)
        };
        self.gate -= wait.min(self.gate);
        wait
    }

    /// Applies the transport's gain to the companion: it fades out while the transport is
    /// stopped, and back in when it plays, by `step` a frame.
    pub fn apply_gain(&mut self, left: &mut [f32], right: &mut [f32], step: f32) {
        let open = if self.stopped { 0.0 } else { 1.0 };
        if self.gain != open || open == 0.0 {
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                self.gain = ramp(self.gain, open, step);
                *l *= self.gain;
                *r *= self.gain;
            }
        }
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
pub fn align(
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
