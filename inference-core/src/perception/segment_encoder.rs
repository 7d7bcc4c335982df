//! Streaming perception: audio in, one pooled vector (and token) per finished segment out.
//!
//! [`SegmentEncoderCore`] is the whole computation, single-threaded: segmentation at the working
//! rate, band-limited resampling to 16 kHz, and for each finished segment one encoder call on a
//! *context window*: up to `context_s` seconds of past audio followed by the segment itself,
//! z-scored as a whole. The segment's vector is the masked mean of the frames whose centres fall
//! inside the segment. The encoder never sees audio after the segment's end.
//!
//! Offline code (codebook fitting, evaluation) runs the very same core over a whole file with
//! [`encode_clip`], so the vectors a codebook is fitted on are exactly those quantised live.
//!
//! [`SegmentEncoder`] runs the core on a worker thread, fed by [`AudioCapture`] from the audio
//! thread through a lock-free ring buffer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::codebook::Codebook;
use super::encoder::{FrameEncoder, RECEPTIVE_FIELD};
use super::error::{PerceptionError, Result};
use super::normalize::zscore_in_place;
use super::pooling::pool_span;
use super::resample::{check_rate, to_encoder_rate, StreamResampler, ENCODER_RATE};
use super::segmentation::{Segment, SegmentationConfig, Segmenter};

/// Default past context in front of each segment, in seconds.
pub const DEFAULT_CONTEXT_S: f64 = 1.5;
/// Longest allowed past context, in seconds.
pub const MAX_CONTEXT_S: f64 = 10.0;

/// Shortest allowed reaction window, in seconds (about two encoder frames).
pub const MIN_REACTION_S: f64 = 0.04;
/// Longest allowed reaction window, in seconds.
pub const MAX_REACTION_S: f64 = 0.4;

/// Settings of the segment encoder.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentEncoderConfig {
    /// How the stream is cut into segments.
    pub segmentation: SegmentationConfig,
    /// Seconds of past audio the encoder sees in front of each segment (0 to [`MAX_CONTEXT_S`]).
    pub context_s: f64,
    /// The reaction window W in seconds (0: none, else [`MIN_REACTION_S`] to [`MAX_REACTION_S`]): the first W
    /// seconds of each segment are also encoded, with the same past context, as soon as they
    /// have arrived, and come out as a [partial](EncodedSegment::partial) segment before the
    /// whole one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reaction_s: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Default for SegmentEncoderConfig {
    fn default() -> Self {
        Self {
            segmentation: SegmentationConfig::default(),
            context_s: DEFAULT_CONTEXT_S,
            reaction_s: 0.0,
        }
    }
}

/// One encoded segment.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedSegment {
    /// Where the segment lies, at the working rate. For a partial segment: the reaction window
    /// at the start of segment `index`.
    pub segment: Segment,
    /// Whether this is only the reaction window of the segment (see
    /// [`SegmentEncoderConfig::reaction_s`]); the whole segment comes out later.
    pub partial: bool,
    /// Whether this is a reaction window that starts at a guide onset within segment `index`
    /// rather than at its start ([`SegmentEncoderCore::request_window`]; `partial` too).
    pub onset: bool,
    /// The pooled vector (empty when skipped).
    pub vector: Vec<f32>,
    /// The nearest codebook centre, when a codebook is set (none when skipped).
    pub token: Option<u32>,
    /// How many encoder frames were pooled (0: skipped by
    /// [`SegmentEncoderCore::push_skipping`]).
    pub frames: usize,
}

impl<E: FrameEncoder + ?Sized> FrameEncoder for &mut E {
    fn hidden_size(&self) -> usize {
        (**self).hidden_size()
    }

    fn encode(&mut self, audio: &[f32]) -> Result<crate::perception::encoder::Frames> {
        (**self).encode(audio)
    }
}

impl FrameEncoder for Box<dyn FrameEncoder> {
    fn hidden_size(&self) -> usize {
        (**self).hidden_size()
    }

    fn encode(&mut self, audio: &[f32]) -> Result<crate::perception::encoder::Frames> {
        (**self).encode(audio)
    }
}

/// The perception computation for one stream. Worker thread (or offline).
pub struct SegmentEncoderCore<E: FrameEncoder> {
    rate: u32,
    segmenter: Segmenter,
    resampler: StreamResampler,
    context16: u64,
    /// 16 kHz audio from `history_start` on.
    history: Vec<f32>,
    history_start: u64,
    pending: VecDeque<Segment>,
    last_end: u64,
    encoder: E,
    codebook: Option<Arc<Codebook>>,
    window: Vec<f32>,
    fresh: Vec<Segment>,
    /// The reaction window in working-rate frames (0: none).
    reaction: u64,
    /// The segment whose reaction window comes next, once its start is known: (index, start).
    next_partial: Option<(u64, u64)>,
    /// Reaction windows asked for at onsets within segments, in order.
    requested: VecDeque<Segment>,
}

impl<E: FrameEncoder> std::fmt::Debug for SegmentEncoderCore<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentEncoderCore")
            .field("rate", &self.rate)
            .field("segmenter", &self.segmenter)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl<E: FrameEncoder> SegmentEncoderCore<E> {
    /// A core for a stream at `rate` Hz. The codebook, when given, must match the encoder's size.
    pub fn new(
        config: &SegmentEncoderConfig,
        rate: u32,
        encoder: E,
        codebook: Option<Arc<Codebook>>,
    ) -> Result<Self> {
        check_rate(rate)?;
        if !(config.context_s.is_finite() && (0.0..=MAX_CONTEXT_S).contains(&config.context_s)) {
            return Err(PerceptionError::InvalidConfig(format!(
                "context {} s is outside 0..={MAX_CONTEXT_S} s",
                config.context_s
            )));
        }
        let reaction_ok = config.reaction_s == 0.0
            || (config.reaction_s.is_finite()
                && (MIN_REACTION_S..=MAX_REACTION_S).contains(&config.reaction_s));
        if !reaction_ok {
            return Err(PerceptionError::InvalidConfig(format!(
                "reaction window {} s is neither 0 nor within {MIN_REACTION_S}..={MAX_REACTION_S} s",
                config.reaction_s
            )));
        }
        if let Some(cb) = &codebook {
            if cb.dim() != encoder.hidden_size() {
                return Err(PerceptionError::Codebook(format!(
                    "codebook vectors have size {}, the encoder's frames {}",
                    cb.dim(),
                    encoder.hidden_size()
                )));
            }
        }
        Ok(Self {
            rate,
            segmenter: Segmenter::new(&config.segmentation, rate)?,
            resampler: StreamResampler::new(rate)?,
            context16: (config.context_s * ENCODER_RATE as f64).round() as u64,
            history: Vec::new(),
            history_start: 0,
            pending: VecDeque::new(),
            last_end: 0,
            encoder,
            codebook,
            window: Vec::new(),
            fresh: Vec::new(),
            reaction: (config.reaction_s * f64::from(rate)).round() as u64,
            next_partial: (config.reaction_s > 0.0).then_some((0, 0)),
            requested: VecDeque::new(),
        })
    }

    /// Asks for the reaction window that starts at working-rate frame `start`, a guide onset
    /// within segment `index`: it comes out of [`Self::push`] (`partial` and `onset`) as soon
    /// as its audio has arrived, encoded as the windows at segment starts are, in order with
    /// the other segments. A window whose past context has already been let go (it was asked
    /// for after its segment came out whole), or that starts before one asked for earlier, is
    /// dropped; the context of those waiting is kept. Needs a reaction window ([`SegmentEncoderConfig::reaction_s`]).
    pub fn request_window(&mut self, index: u64, start: u64) {
        let context_kept =
            to_encoder_rate(start, self.rate).saturating_sub(self.context16) >= self.history_start;
        let in_order = self.requested.back().is_none_or(|last| start > last.start);
        if self.reaction > 0 && context_kept && in_order && start >= self.last_end {
            self.requested.push_back(Segment {
                index,
                start,
                end: start + self.reaction,
            });
        }
    }

    /// The working sample rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The encoder.
    pub fn encoder(&self) -> &E {
        &self.encoder
    }

    /// Takes the next block of audio at the working rate and appends every segment that can now be
    /// encoded to `out`, in order.
    pub fn push(&mut self, audio: &[f32], out: &mut Vec<EncodedSegment>) -> Result<()> {
        self.push_skipping(audio, out, |_| false)
    }

    /// Like [`Self::push`], but the segments for which `skip` says so are not encoded: they
    /// come out in their place with no vector, no token and `frames` 0, and the encoder does
    /// not run for them (a silent guide costs next to nothing).
    pub fn push_skipping(
        &mut self,
        audio: &[f32],
        out: &mut Vec<EncodedSegment>,
        mut skip: impl FnMut(&Segment) -> bool,
    ) -> Result<()> {
        self.resampler.push(audio, &mut self.history)?;
        self.segmenter.push(audio, &mut self.fresh);
        self.pending.extend(self.fresh.drain(..));
        self.encode_ready(out, &mut skip)
    }

    /// Ends the stream: encodes the segments that were complete but waited for the resampler.
    /// The unfinished last segment is dropped, as it would be live.
    pub fn finish(mut self, out: &mut Vec<EncodedSegment>) -> Result<E> {
        let resampler = std::mem::replace(&mut self.resampler, StreamResampler::new(self.rate)?);
        resampler.finish(&mut self.history)?;
        self.encode_ready(out, &mut |_| false)?;
        Ok(self.encoder)
    }

    fn available16(&self) -> u64 {
        self.history_start + self.history.len() as u64
    }

    fn encode_ready(
        &mut self,
        out: &mut Vec<EncodedSegment>,
        skip: &mut dyn FnMut(&Segment) -> bool,
    ) -> Result<()> {
        loop {
            // Whatever is ready comes out in the order its audio ends: a window asked for at an
            // onset before the window or the whole segment that ends after it.
            let partial = self.ready_partial();
            let whole = self
                .pending
                .front()
                .copied()
                .filter(|s| self.arrived(s.end));
            let asked_first = self.requested.front().is_some_and(|w| {
                self.arrived(w.end)
                    && partial.is_none_or(|p| w.end < p.end)
                    && whole.is_none_or(|s| w.end < s.end)
            });
            if let Some(window) = asked_first.then(|| self.requested.pop_front()).flatten() {
                let mut encoded = self.encode_segment(window)?;
                encoded.partial = true;
                encoded.onset = true;
                out.push(encoded);
                continue;
            }
            if let Some(partial) = partial {
                self.next_partial = None;
                out.push(self.encode_or_skip(partial, true, skip)?);
                continue;
            }
            let Some(seg) = whole else {
                break;
            };
            self.pending.pop_front();
            self.last_end = seg.end;
            if self.reaction > 0 {
                // The next segment starts here. (A segment shorter than the window ends before
                // its window could be encoded: it has none.)
                self.next_partial = Some((seg.index + 1, seg.end));
            }
            let encoded = self.encode_or_skip(seg, false, skip);
            self.trim_history();
            out.push(encoded?);
        }
        Ok(())
    }

    /// The reaction window that comes next, if it has all arrived and its segment's whole
    /// audio has not (then the whole segment comes out, after it).
    fn ready_partial(&self) -> Option<Segment> {
        let (index, start) = self.next_partial?;
        let window = Segment {
            index,
            start,
            end: start + self.reaction,
        };
        self.arrived(window.end).then_some(window)
    }

    /// Whether the 16 kHz audio up to working-rate frame `end` has arrived.
    fn arrived(&self, end: u64) -> bool {
        to_encoder_rate(end, self.rate) <= self.available16()
    }

    /// Encodes `seg` (a reaction window when `partial`), or skips it if `skip` says so.
    fn encode_or_skip(
        &mut self,
        seg: Segment,
        partial: bool,
        skip: &mut dyn FnMut(&Segment) -> bool,
    ) -> Result<EncodedSegment> {
        if skip(&seg) {
            return Ok(EncodedSegment {
                segment: seg,
                partial,
                onset: false,
                vector: Vec::new(),
                token: None,
                frames: 0,
            });
        }
        let mut encoded = self.encode_segment(seg)?;
        encoded.partial = partial;
        Ok(encoded)
    }

    fn encode_segment(&mut self, seg: Segment) -> Result<EncodedSegment> {
        let start16 = to_encoder_rate(seg.start, self.rate);
        let end16 = to_encoder_rate(seg.end, self.rate);
        let win0 = start16
            .saturating_sub(self.context16)
            .max(self.history_start);
        let lo = (win0 - self.history_start) as usize;
        let hi = (end16 - self.history_start) as usize;
        self.window.clear();
        self.window.extend_from_slice(&self.history[lo..hi]);
        if self.window.len() < RECEPTIVE_FIELD {
            return Err(PerceptionError::InvalidConfig(format!(
                "segment {} is {} samples at 16 kHz, shorter than one encoder frame",
                seg.index,
                self.window.len()
            )));
        }
        zscore_in_place(&mut self.window)?;
        let frames = self.encoder.encode(&self.window)?;
        let mut vector = Vec::with_capacity(frames.dim());
        let n = pool_span(
            &frames,
            (start16 - win0) as usize,
            (end16 - win0) as usize,
            &mut vector,
        );
        if n == 0 {
            return Err(PerceptionError::InvalidConfig(format!(
                "segment {} owns no encoder frame",
                seg.index
            )));
        }
        let token = match &self.codebook {
            Some(cb) => Some(cb.quantise(&vector)?),
            None => None,
        };
        Ok(EncodedSegment {
            segment: seg,
            partial: false,
            onset: false,
            vector,
            token,
            frames: n,
        })
    }

    /// Drops 16 kHz audio that no pending or future segment's window can reach.
    fn trim_history(&mut self) {
        let next_start = self.pending.front().map_or(self.last_end, |s| s.start);
        let next_start = self
            .requested
            .front()
            .map_or(next_start, |w| w.start.min(next_start));
        let keep_from = to_encoder_rate(next_start, self.rate).saturating_sub(self.context16);
        if keep_from > self.history_start {
            let cut = ((keep_from - self.history_start) as usize).min(self.history.len());
            self.history.drain(..cut);
            self.history_start += cut as u64;
        }
    }
}

/// Encodes a whole clip at `rate` Hz the streaming way: the segments and vectors are identical to
/// those a live stream of the same audio produces. The unfinished last segment is dropped.
pub fn encode_clip<E: FrameEncoder>(
    audio: &[f32],
    rate: u32,
    config: &SegmentEncoderConfig,
    encoder: E,
    codebook: Option<Arc<Codebook>>,
) -> Result<(Vec<EncodedSegment>, E)> {
    let mut core = SegmentEncoderCore::new(config, rate, encoder, codebook)?;
    let mut out = Vec::new();
    core.push(audio, &mut out)?;
    let encoder = core.finish(&mut out)?;
    Ok((out, encoder))
}

/// The audio-thread end of a [`SegmentEncoder`]: writes the guide track into the ring buffer.
/// Lock-free and allocation-free.
pub struct AudioCapture {
    producer: HeapProd<f32>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for AudioCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioCapture")
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish()
    }
}

impl AudioCapture {
    /// Writes one block of mono samples. When the worker has fallen so far behind that the ring is
    /// full, the samples that do not fit are counted and the worker inserts as much silence, so
    /// segment positions stay on the host's timeline.
    pub fn push(&mut self, block: &[f32]) {
        let written = self.producer.push_slice(block);
        if written < block.len() {
            self.dropped
                .fetch_add((block.len() - written) as u64, Ordering::Relaxed);
        }
    }
}

/// A running segment encoder: a worker thread that owns a [`SegmentEncoderCore`]. Dropping it
/// stops and joins the worker (do that off the audio thread).
pub struct SegmentEncoder {
    results: Receiver<Result<EncodedSegment>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SegmentEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentEncoder").finish_non_exhaustive()
    }
}

impl SegmentEncoder {
    /// Starts the worker. `make_encoder` runs on the worker thread (loading an ONNX model takes
    /// time); its error, like every later one, arrives on [`SegmentEncoder::results`]. The ring
    /// holds `ring_seconds` of audio at `rate`.
    pub fn spawn<E, F>(
        config: SegmentEncoderConfig,
        rate: u32,
        ring_seconds: f64,
        codebook: Option<Arc<Codebook>>,
        make_encoder: F,
    ) -> Result<(AudioCapture, SegmentEncoder)>
    where
        E: FrameEncoder + 'static,
        F: FnOnce() -> Result<E> + Send + 'static,
    {
        check_rate(rate)?;
        if !(ring_seconds.is_finite() && ring_seconds > 0.0 && ring_seconds <= 60.0) {
            return Err(PerceptionError::InvalidConfig(format!(
                "ring of {ring_seconds} s must be longer than 0 and at most 60 s"
            )));
        }
        let capacity = (ring_seconds * rate as f64).ceil() as usize;
        let (producer, consumer) = HeapRb::<f32>::new(capacity).split();
        let dropped = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = crossbeam_channel::unbounded();
        let worker = EncodeWorker {
            consumer,
            dropped: dropped.clone(),
            stop: stop.clone(),
            tx,
        };
        let thread = std::thread::Builder::new()
            .name("counterpart-perception".into())
            .spawn(move || worker.run(config, rate, codebook, make_encoder))
            .map_err(|e| PerceptionError::InvalidConfig(format!("cannot start worker: {e}")))?;
        Ok((
            AudioCapture { producer, dropped },
            SegmentEncoder {
                results: rx,
                stop,
                thread: Some(thread),
            },
        ))
    }

    /// Encoded segments and errors, in order.
    pub fn results(&self) -> &Receiver<Result<EncodedSegment>> {
        &self.results
    }
}

impl Drop for SegmentEncoder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The worker thread's state.
struct EncodeWorker {
    consumer: HeapCons<f32>,
    dropped: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    tx: Sender<Result<EncodedSegment>>,
}

impl EncodeWorker {
    fn run<E, F>(
        mut self,
        config: SegmentEncoderConfig,
        rate: u32,
        codebook: Option<Arc<Codebook>>,
        make_encoder: F,
    ) where
        E: FrameEncoder,
        F: FnOnce() -> Result<E>,
    {
        let core = make_encoder().and_then(|e| SegmentEncoderCore::new(&config, rate, e, codebook));
        let mut core = match core {
            Ok(core) => core,
            Err(e) => {
                let _ = self.tx.send(Err(e));
                return;
            }
        };
        let mut block = vec![0.0f32; 4096];
        let mut out = Vec::new();
        while !self.stop.load(Ordering::Acquire) {
            let n = self.consumer.pop_slice(&mut block);
            if n == 0 {
                let lost = self.dropped.swap(0, Ordering::Relaxed);
                if lost == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                // Silence in place of what the full ring could not take.
                let mut left = lost as usize;
                while left > 0 {
                    let m = left.min(block.len());
                    block[..m].fill(0.0);
                    self.process(&mut core, &mut block[..m], &mut out);
                    left -= m;
                }
                continue;
            }
            self.process(&mut core, &mut block[..n], &mut out);
        }
    }

    fn process<E: FrameEncoder>(
        &self,
        core: &mut SegmentEncoderCore<E>,
        block: &mut [f32],
        out: &mut Vec<EncodedSegment>,
    ) {
        if let Err(e) = super::error::check_finite(block) {
            // Report bad samples once per block and carry on with them silenced.
            let _ = self.tx.send(Err(e));
            block
                .iter_mut()
                .filter(|x| !x.is_finite())
                .for_each(|x| *x = 0.0);
        }
        let result = core.push(block, out);
        for seg in out.drain(..) {
            let _ = self.tx.send(Ok(seg));
        }
        if let Err(e) = result {
            let _ = self.tx.send(Err(e));
        }
    }
}
