//! The dry path's delay line. A plugin that reports latency must delay its whole output: the
//! host delays every other track by the reported latency, so a dry signal passed straight
//! through would play that much early. The delay always records the input, so when the latency
//! changes (another look-ahead, segment length or engine) its read tap moves at once, with a
//! short crossfade from the old tap to the new one instead of a click.
//!
//! Allocated off the audio thread ([`DryDelay::new`]: in `activate`, or by the worker for an
//! engine whose latency does not fit); the audio thread only reads and writes it.

/// A stereo delay line with a movable, crossfaded tap. Audio thread.
#[derive(Debug)]
pub struct DryDelay {
    /// The last `capacity` input frames per channel, written at `write`.
    ring: [Box<[f32]>; 2],
    write: usize,
    /// The delay in frames (0: the input itself).
    tap: usize,
    /// The tap being faded out, and the frames of fade it has left.
    old_tap: usize,
    fading: usize,
    fade_frames: usize,
    /// Whether any audio went through yet (until then a new tap needs no crossfade).
    heard: bool,
}

impl DryDelay {
    /// A delay line that can delay by up to `max_delay` frames, with taps that crossfade over
    /// `fade_frames` (main or worker thread: it allocates). It starts at a delay of 0, holding
    /// silence.
    pub fn new(max_delay: usize, fade_frames: usize) -> Self {
        let buffer = || vec![0.0f32; max_delay + 1].into_boxed_slice();
        Self {
            ring: [buffer(), buffer()],
            write: 0,
            tap: 0,
            old_tap: 0,
            fading: 0,
            fade_frames: fade_frames.max(1),
            heard: false,
        }
    }

    /// The longest delay it can give, in frames.
    pub fn max_delay(&self) -> usize {
        self.ring[0].len() - 1
    }

    /// Moves the tap to `frames` of delay (clamped to [`Self::max_delay`]), crossfading from the
    /// old one once audio has gone through. A no-op when the delay does not change.
    pub fn set_delay(&mut self, frames: usize) {
        let frames = frames.min(self.max_delay());
        if !self.heard {
            self.jump_to(frames);
        } else if frames != self.tap {
            self.old_tap = self.tap;
            self.tap = frames;
            self.fading = self.fade_frames;
        }
    }

    /// Moves the tap to `frames` of delay (clamped) at once, without a crossfade: for a line
    /// that holds only silence yet.
    pub fn jump_to(&mut self, frames: usize) {
        self.tap = frames.min(self.max_delay());
        self.fading = 0;
    }

    /// Takes over `older`'s recorded input and delay (the most recent frames, as many as fit),
    /// so that a longer line replaces it without a gap. Bounded by the two lines' lengths.
    pub fn continue_from(&mut self, older: &DryDelay) {
        let frames = older.max_delay().min(self.max_delay());
        for (new, old) in self.ring.iter_mut().zip(&older.ring) {
            for k in 0..frames {
                let from = (older.write + old.len() - frames + k) % old.len();
                new[k] = old[from];
            }
        }
        self.write = frames % self.ring[0].len();
        self.tap = older.tap;
        self.old_tap = older.old_tap;
        self.fading = older.fading;
        self.fade_frames = older.fade_frames;
        self.heard = older.heard;
    }

    /// Delays `channels` (one or two, equally long) in place.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        let len = self.ring[0].len();
        let frames = channels.first().map_or(0, |c| c.len());
        self.heard |= frames > 0;
        for i in 0..frames {
            let new = (self.write + len - self.tap) % len;
            let old = (self.write + len - self.old_tap) % len;
            let fade = self.fading as f32 / self.fade_frames as f32;
            for (ring, channel) in self.ring.iter_mut().zip(channels.iter_mut()) {
                ring[self.write] = channel[i];
                channel[i] = if self.fading > 0 {
                    ring[new] * (1.0 - fade) + ring[old] * fade
                } else {
                    ring[new]
                };
            }
            self.fading = self.fading.saturating_sub(1);
            self.write = (self.write + 1) % len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize, from: f32) -> Vec<f32> {
        (0..n).map(|i| from + i as f32).collect()
    }

    #[test]
    fn a_fixed_delay_is_exact_across_blocks() {
        let mut delay = DryDelay::new(100, 8);
        // Before any audio, the tap moves at once.
        delay.set_delay(37);
        let input = ramp(500, 1.0);
        let mut left = input.clone();
        let mut right: Vec<f32> = input.iter().map(|x| -x).collect();
        for (l, r) in left.chunks_mut(29).zip(right.chunks_mut(29)) {
            delay.process(&mut [l, r]);
        }
        for i in 0..500 {
            let expected = if i < 37 { 0.0 } else { input[i - 37] };
            assert_eq!(left[i], expected, "left at {i}");
            assert_eq!(right[i], -expected, "right at {i}");
        }
    }

    #[test]
    fn no_delay_passes_the_input_bit_for_bit() {
        let mut delay = DryDelay::new(10, 4);
        let input = ramp(50, 0.25);
        let mut out = input.clone();
        delay.process(&mut [&mut out]);
        assert_eq!(out, input);
    }

    #[test]
    fn a_new_tap_is_crossfaded_then_exact() {
        let mut delay = DryDelay::new(64, 16);
        let mut warm = vec![1.0f32; 64];
        delay.process(&mut [&mut warm]);
        delay.set_delay(10);
        let mut out = vec![1.0f32; 40];
        delay.process(&mut [&mut out]);
        // A constant input stays constant through the fade: no click.
        assert!(out.iter().all(|&x| (x - 1.0).abs() < 1e-6), "{out:?}");
        let mut impulse = vec![0.0f32; 64];
        delay.process(&mut [&mut vec![0.0; 64]]);
        impulse[3] = 1.0;
        delay.process(&mut [&mut impulse]);
        assert_eq!(impulse.iter().position(|&x| x == 1.0), Some(13));
    }

    #[test]
    fn a_longer_line_continues_the_shorter_one() {
        let mut short = DryDelay::new(20, 1);
        short.set_delay(5);
        let mut first = ramp(30, 1.0);
        short.process(&mut [&mut first]);
        let mut long = DryDelay::new(200, 1);
        long.continue_from(&short);
        let mut a = ramp(40, 31.0);
        let mut b = a.clone();
        short.process(&mut [&mut a]);
        long.process(&mut [&mut b]);
        assert_eq!(a, b);
    }
}
