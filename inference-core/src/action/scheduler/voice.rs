//! One read head over the corpus memory, with its crossfade state (audio thread).

use std::ops::Range;

use crate::action::corpus::CorpusMemory;
use crate::action::crossfade::EqualPowerCurve;

/// Which corpus a voice reads: the current one or the one being faded out after a swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CorpusSlot {
    Current,
    Retiring,
}

/// Where a voice is in its gain envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fade {
    /// Gain 1.
    Steady,
    /// Rising: the next sample has gain `curve(position, length)`.
    In { position: u32, length: u32 },
    /// Falling: the next sample has gain `curve(position, length)`; silent at 0.
    Out { position: u32, length: u32 },
}

/// A read head playing corpus audio from `read` onwards, silent outside `bounds` (its
/// recording), so crossfade tails read the audio around a segment but never another recording.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Voice {
    pub(crate) active: bool,
    pub(crate) slot: CorpusSlot,
    /// Memory frame played at the next output sample (negative before the memory start).
    pub(crate) read: i64,
    pub(crate) bounds_start: i64,
    pub(crate) bounds_end: i64,
    pub(crate) fade: Fade,
    /// Bound on `|sample|` over the frames this voice plays while it overlaps other voices,
    /// capped at 1: used to keep overlapping crossfades of normalised audio from clipping.
    pub(crate) peak: f32,
}

impl Voice {
    pub(crate) const IDLE: Self = Self {
        active: false,
        slot: CorpusSlot::Current,
        read: 0,
        bounds_start: 0,
        bounds_end: 0,
        fade: Fade::Steady,
        peak: 1.0,
    };

    /// A voice fading in over `length` frames, reading `read` first, within `bounds`.
    pub(crate) fn fading_in(read: i64, bounds: Range<u64>, length: u32) -> Self {
        Self {
            active: true,
            slot: CorpusSlot::Current,
            read,
            bounds_start: bounds.start as i64,
            bounds_end: bounds.end as i64,
            fade: Fade::In {
                position: 0,
                length,
            },
            peak: 1.0,
        }
    }

    /// Starts (or shortens) a fade-out that ends within `length` frames, continuing from the
    /// current gain. A voice already silent becomes idle.
    pub(crate) fn fade_out(&mut self, length: u32) {
        let length = length.max(1);
        let position = match self.fade {
            Fade::Steady => length,
            Fade::In {
                position,
                length: old,
            }
            | Fade::Out {
                position,
                length: old,
            } => {
                if old <= length && matches!(self.fade, Fade::Out { .. }) {
                    return;
                }
                rescale(position, old, length)
            }
        };
        if position == 0 {
            self.active = false;
        } else {
            self.fade = Fade::Out { position, length };
        }
    }

    /// Frames until the fade changes state (ends, or reaches full gain); `u64::MAX` if steady.
    pub(crate) fn frames_to_fade_event(&self) -> u64 {
        match self.fade {
            Fade::Steady => u64::MAX,
            Fade::In { position, length } => u64::from(length - position),
            Fade::Out { position, .. } => u64::from(position),
        }
    }

    /// Gain of the sample `offset` frames from now (within the current fade).
    #[inline]
    pub(crate) fn gain(&self, curve: &EqualPowerCurve, offset: u32) -> f32 {
        match self.fade {
            Fade::Steady => 1.0,
            Fade::In { position, length } => curve.gain(position + offset, length),
            Fade::Out { position, length } => curve.gain(position - offset, length),
        }
    }

    /// Moves the voice `frames` frames on (never past a fade event).
    pub(crate) fn advance(&mut self, frames: u32) {
        self.read += i64::from(frames);
        match self.fade {
            Fade::Steady => {}
            Fade::In { position, length } => {
                let position = position + frames;
                self.fade = if position >= length {
                    Fade::Steady
                } else {
                    Fade::In { position, length }
                };
            }
            Fade::Out { position, length } => {
                let position = position.saturating_sub(frames);
                if position == 0 {
                    self.active = false;
                } else {
                    self.fade = Fade::Out { position, length };
                }
            }
        }
    }

    /// The output frames `0..frames` from now that read inside the recording.
    #[inline]
    pub(crate) fn audible(&self, frames: usize) -> Range<usize> {
        let frames = frames as i64;
        let first = (self.bounds_start - self.read).clamp(0, frames);
        let last = (self.bounds_end - self.read).clamp(0, frames);
        first as usize..last.max(first) as usize
    }

    /// Recomputes [`Voice::peak`] over the next `frames` frames.
    pub(crate) fn measure_peak(&mut self, corpus: &CorpusMemory, frames: u32) {
        let start = self.read.max(self.bounds_start);
        let end = (self.read + i64::from(frames)).min(self.bounds_end);
        self.peak = corpus.peak_between(start, end).min(1.0);
    }
}

/// `position / old` expressed over `new`, rounded to the nearest frame.
fn rescale(position: u32, old: u32, new: u32) -> u32 {
    let old = u64::from(old.max(1));
    ((u64::from(position) * u64::from(new) + old / 2) / old) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fade_out_continues_from_the_current_gain() {
        let curve = EqualPowerCurve::new();
        let mut voice = Voice::fading_in(0, 0..1_000, 100);
        voice.advance(40);
        let before = voice.gain(&curve, 0);
        voice.fade_out(200);
        assert_eq!(
            voice.fade,
            Fade::Out {
                position: 80,
                length: 200
            }
        );
        assert!((voice.gain(&curve, 0) - before).abs() < 1e-6);
        voice.advance(80);
        assert!(!voice.active);
    }

    #[test]
    fn audible_range_stops_at_the_recording_edges() {
        let mut voice = Voice::fading_in(-10, 0..100, 10);
        assert_eq!(voice.audible(64), 10..64);
        voice.read = 90;
        assert_eq!(voice.audible(64), 0..10);
        voice.read = 200;
        assert_eq!(voice.audible(64), 0..0);
    }
}
