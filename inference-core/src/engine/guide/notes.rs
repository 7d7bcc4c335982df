//! The guide's recent audio and the notes sounding in it, for the navigator's harmony (worker
//! thread).
//!
//! Every decision asks what the guide plays over a stretch it has heard (the reaction window,
//! the segment, or the window at a new onset). The stretch is given in guide frames of the
//! worker's clock, so the answer does not depend on how the host cut the audio into blocks.
//!
//! Live, the guide's note is also tracked as it streams: every [`TRACK_HOP_S`] (on a grid of
//! guide frames from the stream's start) the notes of the last [`TRACK_S`] are estimated, and a
//! new pitch class heard at two hops in a row is a [`NoteChange`]: about 30–40 ms after the
//! note starts, half the onset detector's delay, and whether or not the change has an attack
//! (legato, slurs).

use crate::perception::{PitchAnalyser, Pitches};

/// How much of the guide is kept, in seconds: more than a segment, a host block and the
/// encoder's delay.
const KEEP_S: f64 = 4.0;
/// Hop of the note tracker, in seconds.
const TRACK_HOP_S: f64 = 0.01;
/// Stretch the tracker estimates the notes of at each hop, in seconds.
const TRACK_S: f64 = 0.03;

/// The guide moved to a new note (pitch class), heard at two hops in a row up to guide frame
/// `at`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(in crate::engine) struct NoteChange {
    /// The tracker's hop (guide frame) that heard it the second time.
    pub at: u64,
    /// The notes heard over the [`TRACK_S`] before `at`.
    pub pitches: Pitches,
}

/// The last [`KEEP_S`] of the guide, a pitch analyser at its rate and the note tracker. Worker
/// thread.
#[derive(Debug)]
pub(super) struct GuideNotes {
    ring: Vec<f32>,
    /// Guide frames received: frame `i` is at `ring[i % len]` while `i + len > received`.
    received: u64,
    analyser: PitchAnalyser,
    stretch: Vec<f32>,
    hop: u64,
    track: u64,
    /// The strongest note at the last hop, and the note last reported.
    previous: Option<u8>,
    settled: Option<u8>,
    changes: Vec<NoteChange>,
}

impl GuideNotes {
    /// Keeps the guide at `rate` Hz.
    pub(super) fn new(rate: u32) -> Self {
        let rate = f64::from(rate);
        let len = ((KEEP_S * rate).ceil() as usize).max(1);
        Self {
            ring: vec![0.0; len],
            received: 0,
            analyser: PitchAnalyser::new(rate as u32),
            stretch: Vec::with_capacity(len),
            hop: ((TRACK_HOP_S * rate).round() as u64).max(1),
            track: ((TRACK_S * rate).round() as u64).max(1),
            previous: None,
            settled: None,
            changes: Vec::new(),
        }
    }

    /// Frames from the last received to the tracker's next hop (at least one): the worker cuts
    /// the guide there, so that it answers a note change at the same point of its clock
    /// whatever the host's blocks.
    pub(super) fn until_hop(&self) -> usize {
        (self.hop - self.received % self.hop) as usize
    }

    /// The guide's next frames (after the worker's clock's last), at most up to the next hop
    /// ([`Self::until_hop`]). With `track`, a hop reached is analysed for a note change.
    pub(super) fn push(&mut self, block: &[f32], track: bool) {
        let len = self.ring.len() as u64;
        for &x in block {
            self.ring[(self.received % len) as usize] = if x.is_finite() { x } else { 0.0 };
            self.received += 1;
        }
        if track && self.received.is_multiple_of(self.hop) && self.received >= self.track {
            let at = self.received;
            let heard = self.pitches(at - self.track, at);
            let note = heard.and_then(|p| p.first());
            if let (Some(note), Some(pitches)) = (note, heard) {
                let new = self.settled.is_none_or(|settled| settled % 12 != note % 12);
                if new && self.previous == Some(note) {
                    self.changes.push(NoteChange { at, pitches });
                    self.settled = Some(note);
                }
            }
            self.previous = note;
        }
    }

    /// The note changes found since the last call, in order.
    pub(super) fn take_changes(&mut self) -> impl Iterator<Item = NoteChange> + '_ {
        self.changes.drain(..)
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
            let mut guide = GuideNotes::new(rate);
            for chunk in audio.chunks(block) {
                let mut rest = chunk;
                while !rest.is_empty() {
                    let (now, later) = rest.split_at(guide.until_hop().min(rest.len()));
                    guide.push(now, false);
                    rest = later;
                }
            }
            let first = guide.pitches(20_000, 22_880).and_then(|p| p.first());
            let second = guide.pitches(60_000, 62_880).and_then(|p| p.first());
            assert_eq!((first, second), (Some(69), Some(72)), "blocks of {block}");
            assert_eq!(guide.pitches(95_000, 96_001), None, "not received yet");
        }
    }

    #[test]
    fn note_changes_are_heard_within_40_ms_at_every_block_size() {
        let rate = 48_000;
        // A4, C5 (a third up), C5 an octave down (same pitch class), then E5, 0.3 s each.
        let mut audio = Vec::new();
        for hz in [440.0, 523.25, 261.63, 659.26] {
            audio.extend(sine(hz, 14_400, rate));
        }
        let mut found = None;
        for block in [37, 512, 4096] {
            let mut guide = GuideNotes::new(rate);
            let mut changes = Vec::new();
            for chunk in audio.chunks(block) {
                let mut rest = chunk;
                while !rest.is_empty() {
                    let (now, later) = rest.split_at(guide.until_hop().min(rest.len()));
                    guide.push(now, true);
                    changes.extend(guide.take_changes().map(|c| (c.at, c.pitches.first())));
                    rest = later;
                }
            }
            let notes: Vec<_> = changes.iter().map(|&(_, note)| note).collect();
            assert_eq!(notes, [Some(69), Some(72), Some(76)], "blocks of {block}");
            for (&(at, _), start) in changes[1..].iter().zip([14_400u64, 43_200]) {
                let after = (at - start) as f64 / f64::from(rate);
                assert!(
                    (0.0..=0.04).contains(&after),
                    "heard {after} s after the note"
                );
            }
            assert!(found.is_none_or(|f| f == changes), "blocks of {block}");
            found = Some(changes);
        }
    }

    #[test]
    fn what_is_no_longer_kept_is_unknown() {
        let rate = 8_000;
        let mut guide = GuideNotes::new(rate);
        guide.push(&sine(440.0, 5 * 8_000, rate), false);
        assert_eq!(guide.pitches(0, 800), None);
        assert_eq!(
            guide.pitches(39_000, 40_000).and_then(|p| p.first()),
            Some(69)
        );
    }
}
