//! From encoder frames to one vector per segment, by timestamp.
//!
//! Frame `j` of a window covers samples `[320·j, 320·j + 400)` of the window at 16 kHz, so its
//! centre is at `320·j + 200`. A segment `[start, end)` (window coordinates, 16 kHz) owns exactly
//! the frames whose centre lies inside it, and its vector is the mean of those frames. Frames are
//! never assigned by counting, so nothing drifts however long the stream or odd the segment length.

use std::ops::Range;

use super::encoder::{Frames, FRAME_HOP, RECEPTIVE_FIELD};

/// Centre of frame `j`, in samples from the window start.
pub fn frame_centre(j: usize) -> usize {
    FRAME_HOP * j + RECEPTIVE_FIELD / 2
}

/// The frames (out of `frames`) whose centre lies in `start..end`.
pub fn frames_in_span(start: usize, end: usize, frames: usize) -> Range<usize> {
    let half = RECEPTIVE_FIELD / 2;
    // First j with centre >= start, first j with centre >= end.
    let first = |pos: usize| pos.saturating_sub(half).div_ceil(FRAME_HOP);
    let lo = first(start).min(frames);
    let hi = first(end).min(frames);
    lo..hi.max(lo)
}

/// The masked mean of the frames whose centre lies in `start..end`, written to `out` (resized to
/// the frame size). Returns the number of frames pooled; `out` is all zeros when none is.
pub fn pool_span(frames: &Frames, start: usize, end: usize, out: &mut Vec<f32>) -> usize {
    out.clear();
    out.resize(frames.dim(), 0.0);
    let range = frames_in_span(start, end, frames.count());
    let n = range.len();
    for j in range {
        for (o, &v) in out.iter_mut().zip(frames.frame(j)) {
            *o += v;
        }
    }
    if n > 0 {
        let inv = 1.0 / n as f32;
        out.iter_mut().for_each(|o| *o *= inv);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_assigned_by_centre() {
        // Centres: 200, 520, 840, 1160, ...
        assert_eq!(frames_in_span(0, 200, 10), 0..0);
        assert_eq!(frames_in_span(0, 201, 10), 0..1);
        assert_eq!(frames_in_span(200, 520, 10), 0..1);
        assert_eq!(frames_in_span(201, 521, 10), 1..2);
        assert_eq!(frames_in_span(0, 8000, 100), 0..25);
        assert_eq!(frames_in_span(8000, 16000, 100), 25..50);
        // Past the last frame.
        assert_eq!(frames_in_span(5000, 9000, 10), 10..10);
    }

    #[test]
    fn every_frame_belongs_to_exactly_one_segment_of_a_tiling() {
        // 0.35 s segments at 16 kHz: 5600 samples, not a multiple of 320.
        let frames = 2000;
        let mut next = 0;
        for k in 0..100 {
            let r = frames_in_span(k * 5600, (k + 1) * 5600, frames);
            assert_eq!(r.start, next);
            next = r.end;
        }
        assert_eq!(next, frames_in_span(0, 560_000, frames).end);
    }

    #[test]
    fn pooling_is_the_mean_of_the_owned_frames() {
        let data: Vec<f32> = (0..10).flat_map(|j| [j as f32, 1.0]).collect();
        let frames = Frames::new(data, 10, 2).unwrap();
        let mut out = Vec::new();
        // Centres 840, 1160, 1480 lie in [700, 1500).
        assert_eq!(pool_span(&frames, 700, 1500, &mut out), 3);
        assert_eq!(out, vec![3.0, 1.0]);
        assert_eq!(pool_span(&frames, 4000, 5000, &mut out), 0);
        assert_eq!(out, vec![0.0, 0.0]);
    }
}
