//! The guide's recent audio and the notes sounding in it, for the navigator's harmony (worker
//! thread).
//!
//! Every decision asks what the guide plays over a stretch it has heard (the reaction window,
//! the segment, or the window at a new onset). The stretch is given in guide frames of the
//! worker's clock, so the answer does not depend on how the host cut the audio into blocks.

use crate::perception::{PitchAnalyser, Pitches};

/// How much of the guide is kept, in seconds: more than a segment, a host block and the
/// encoder's delay.
const KEEP_S: f64 = 4.0;

/// The last [`KEEP_S`] of the guide, and a pitch analyser at its rate. Worker thread.
#[derive(Debug)]
pub(super) struct GuidePitch {
    ring: Vec<f32>,
    /// Guide frames received: frame `i` is at `ring[i % len]` while `i + len > received`.
    received: u64,
    analyser: PitchAnalyser,
    stretch: Vec<f32>,
}

impl GuidePitch {
    /// Keeps the guide at `rate` Hz.
    pub(super) fn new(rate: u32) -> Self {
        let len = ((KEEP_S * f64::from(rate)).ceil() as usize).max(1);
        Self {
            ring: vec![0.0; len],
            received: 0,
            analyser: PitchAnalyser::new(rate),
            stretch: Vec::with_capacity(len),
        }
    }

    /// The guide's next frames (after the worker's clock's last).
    pub(super) fn push(&mut self, block: &[f32]) {
        let len = self.ring.len() as u64;
        for &x in block {
            self.ring[(self.received % len) as usize] = x;
            self.received += 1;
        }
    }

    /// The notes the guide plays over frames `from..until`, if that stretch has been received
    /// and is still kept, and holds a note.
    pub(super) fn pitches(&mut self, from: u64, until: u64) -> Option<Pitches> {
        let len = self.ring.len() as u64;
        if until > self.received || from + len < self.received || from >= until {
            return None;
        }
        self.stretch.clear();
        self.stretch
            .extend((from..until).map(|i| self.ring[(i % len) as usize]));
        self.analyser.analyse(&self.stretch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f32, frames: usize, rate: u32) -> Vec<f32> {
        (0..frames)
            .map(|i| 0.3 * (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn a_stretch_is_found_by_its_frames_whatever_the_blocks() {
        let rate = 48_000;
        // A4 for a second, then C5.
        let mut audio = sine(440.0, 48_000, rate);
        audio.extend(sine(523.25, 48_000, rate));
        for block in [37, 512, 4096] {
            let mut guide = GuidePitch::new(rate);
            for chunk in audio.chunks(block) {
                guide.push(chunk);
            }
            let first = guide.pitches(20_000, 22_880).and_then(|p| p.first());
            let second = guide.pitches(60_000, 62_880).and_then(|p| p.first());
            assert_eq!((first, second), (Some(69), Some(72)), "blocks of {block}");
            assert_eq!(guide.pitches(95_000, 96_001), None, "not received yet");
        }
    }

    #[test]
    fn what_is_no_longer_kept_is_unknown() {
        let rate = 8_000;
        let mut guide = GuidePitch::new(rate);
        guide.push(&sine(440.0, 5 * 8_000, rate));
        assert_eq!(guide.pitches(0, 800), None);
        assert_eq!(
            guide.pitches(39_000, 40_000).and_then(|p| p.first()),
            Some(69)
        );
    }
}
