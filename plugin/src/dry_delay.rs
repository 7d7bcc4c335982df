//! The dry path's delay line. A plugin that reports latency must delay its whole output: the
//! host delays every other track by the reported latency, so a dry signal passed straight
//! through would play that much early. The latency is fixed for an activation
//! ([`crate::latency`]), and so is this delay.
//!
//! Allocated in `activate` ([`DryDelay::new`]); the audio thread only reads and writes it.

/// A stereo delay line with a fixed delay. Audio thread.
#[derive(Debug)]
pub struct DryDelay {
    /// The last `delay + 1` input frames per channel, written at `write`.
    ring: [Box<[f32]>; 2],
    write: usize,
}

impl DryDelay {
    /// A delay line that delays by `delay` frames, holding silence (main thread: it
    /// allocates).
    pub fn new(delay: usize) -> Self {
        let buffer = || vec![0.0f32; delay + 1].into_boxed_slice();
        Self {
            ring: [buffer(), buffer()],
            write: 0,
        }
    }

    /// Delays `channels` (one or two, equally long) in place.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        let len = self.ring[0].len();
        let frames = channels.first().map_or(0, |c| c.len());
        for i in 0..frames {
            // The slot after the one written holds the frame written `len - 1 = delay` frames
            // ago (with no delay, the one just written).
            let read = (self.write + 1) % len;
            for (ring, channel) in self.ring.iter_mut().zip(channels.iter_mut()) {
                ring[self.write] = channel[i];
                channel[i] = ring[read];
            }
            self.write = read;
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
        let mut delay = DryDelay::new(37);
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
        let mut delay = DryDelay::new(0);
        let input = ramp(50, 0.25);
        let mut out = input.clone();
        delay.process(&mut [&mut out]);
        assert_eq!(out, input);
    }
}
