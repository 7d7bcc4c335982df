//! The pre-roll: the guide kept since the start of a render (activation, a reset, the
//! transport starting to play), to be replayed into an engine that arrives after the render
//! began, so that it hears the guide from where `counterpart render` would have started it.
//! Audio thread: its buffers are allocated once, at activation.

use crate::handoff::Installed;
use crate::transport_gate::TransportInfo;

/// How much of the guide is kept from the start of a render, in seconds.
const PREROLL_SECONDS: f32 = 2.0;

/// The guide since the last start, and where the host's timeline had it.
pub struct PreRoll {
    kept: [Box<[f32]>; 2],
    frames: usize,
    channels: usize,
    /// Whether it still holds all of the guide since the last start.
    whole: bool,
    /// The host position of its first frame, when the transport played from there.
    origin: Option<i64>,
    /// Whether it restarted and takes its origin from the next block's transport.
    origin_pending: bool,
}

impl std::fmt::Debug for PreRoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreRoll")
            .field("frames", &self.frames)
            .field("whole", &self.whole)
            .finish_non_exhaustive()
    }
}

impl PreRoll {
    /// An empty pre-roll for a host at `sample_rate` Hz (main thread, in `activate`).
    pub fn new(sample_rate: f32) -> Self {
        let frames = (PREROLL_SECONDS * sample_rate) as usize;
        let buffer = || vec![0.0f32; frames].into_boxed_slice();
        Self {
            kept: [buffer(), buffer()],
            frames: 0,
            channels: 0,
            whole: true,
            origin: None,
            origin_pending: true,
        }
    }

    /// Starts keeping the guide afresh: what follows is the start of a render. Its host
    /// position is taken from the next block ([`Self::take_origin`]).
    pub fn restart(&mut self) {
        self.frames = 0;
        self.whole = true;
        self.origin_pending = true;
    }

    /// After a restart, takes the pre-roll's host position from this block's `transport`.
    pub fn take_origin(&mut self, transport: TransportInfo) {
        if std::mem::take(&mut self.origin_pending) {
            self.origin = transport.pos_samples.filter(|_| transport.playing);
        }
    }

    /// Whether it still holds all of the guide since the last start.
    pub fn whole(&self) -> bool {
        self.whole
    }

    /// Guide frames kept.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The host position of its first frame, when the transport played from there.
    pub fn origin(&self) -> Option<i64> {
        self.origin
    }

    /// Keeps `guide` (`frames` frames), until it is full.
    pub fn record(&mut self, guide: &[&[f32]], frames: usize) {
        if !self.whole {
            return;
        }
        let channels = guide.len().min(2);
        let fits = self.frames + frames <= self.kept[0].len();
        if !fits || (self.frames > 0 && channels != self.channels) {
            self.frames = 0;
            self.whole = false;
            return;
        }
        self.channels = channels;
        for (kept, channel) in self.kept.iter_mut().zip(guide) {
            kept[self.frames..self.frames + frames].copy_from_slice(&channel[..frames]);
        }
        self.frames += frames;
    }

    /// Plays the guide kept from frame `from` on into `engine` (its output, in `scratch`, is
    /// discarded: it was due already).
    pub fn replay(&self, engine: &mut Installed, from: usize, scratch: &mut [Box<[f32]>; 2]) {
        let [left, right] = scratch;
        let chunk = left.len();
        let mut done = from;
        while done < self.frames {
            let n = (self.frames - done).min(chunk);
            let [a, b] = &self.kept;
            let guide = [&a[done..done + n], &b[done..done + n]];
            engine.process(
                &guide[..self.channels],
                &mut [&mut left[..n], &mut right[..n]],
            );
            done += n;
        }
    }
}
