//! The grain scheduler: concatenative synthesis on the audio thread.
//!
//! [`GrainScheduler::new`] returns the pair: the [`GrainScheduler`], owned by the audio thread,
//! and its [`SchedulerHandle`], owned by the worker. The worker sends timed commands ("at host
//! frame P, start segment S") through a lock-free SPSC queue; the scheduler renders block by
//! block against its own sample clock (frames rendered so far), so any host, or the offline
//! renderer, drives it the same way.
//!
//! Rendering rules:
//! - A segment that is the successor of the one playing just continues the same read head:
//!   contiguous runs rebuild the corpus bit-exactly.
//! - Any other segment starts a new voice with an equal-power crossfade centred on its start
//!   time: the incoming voice reads the corpus audio before its segment and the outgoing one the
//!   audio after its segment, as in the paper. A jump fades over the configured length (default
//!   40 ms), at most half of either segment.
//! - When overlapping voices could exceed full scale, their gains are scaled down together
//!   (using per-block peaks of the audio they read), so normalised audio never clips.
//! - When a segment ends with no command queued, the worker is late: the scheduler continues
//!   with the successor segment and counts the event.
//! - Voices are a fixed array; corpora are swapped by message and handed back to the worker to
//!   be freed, so the audio thread never allocates or frees.

mod handle;
mod telemetry;
mod voice;

use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

pub use handle::{ScheduleError, SchedulerHandle};
pub use telemetry::{PlayingSegment, SchedulerCounters, SchedulerTelemetry};

use self::handle::{crossfade_frames, SchedulerCommand};
use self::voice::{CorpusSlot, Fade, Voice};
use super::corpus::{CorpusMemory, SegmentId};
use super::crossfade::EqualPowerCurve;

/// Voices that can sound at once: a jump needs two; more only overlap when jumps come faster
/// than the crossfade.
pub const MAX_VOICES: usize = 8;

/// Frames mixed per pass while several voices overlap (sizes the stack scratch buffers).
const MIX_CHUNK: usize = 64;

/// Largest sum of gain-weighted peaks overlapping voices may reach: just under full scale, so
/// rounding cannot push a sample past 1.
const HEADROOM: f32 = 0.999_999;

/// Longest stretch rendered without re-checking events (keeps frame counts in `u32`).
const MAX_SPAN: usize = 1 << 16;

/// Corpora awaiting disposal on the worker.
const RETIRED_CAPACITY: usize = 4;

/// Grain scheduler settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulerConfig {
    /// Host sample rate, in Hz; corpora must be built for it.
    pub sample_rate: u32,
    /// Crossfade length for jumps, in seconds, in `(0, 1]` (default 0.04).
    pub crossfade_seconds: f32,
    /// Capacity of the command queue (default 256).
    pub command_capacity: usize,
}

impl SchedulerConfig {
    /// Default settings at `sample_rate`.
    pub fn new(sample_rate: u32) -> Self {
        Self {
            sample_rate,
            crossfade_seconds: 0.04,
            command_capacity: 256,
        }
    }
}

/// Why a block could not be rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// The output has neither one nor two channels.
    #[error("the output must have 1 or 2 channels, got {0}")]
    ChannelCount(usize),
    /// The output channels differ in length.
    #[error("the output channels have different lengths")]
    ChannelLengths,
}

/// The segment the primary voice is playing.
#[derive(Debug, Clone, Copy)]
struct Primary {
    voice: usize,
    segment: SegmentId,
    /// Memory frame where the segment ends.
    end: i64,
}

/// Renders the companion track from corpus segments. Lives on the audio thread.
pub struct GrainScheduler {
    commands: HeapCons<SchedulerCommand>,
    retired: HeapProd<Arc<CorpusMemory>>,
    corpus: Option<Arc<CorpusMemory>>,
    retiring: Option<Arc<CorpusMemory>>,
    generation: u32,
    voices: [Voice; MAX_VOICES],
    primary: Option<Primary>,
    /// A command asked for the successor of the primary segment: its boundary is not late.
    successor_requested: bool,
    /// The primary segment was entered without a command (it may be asked for late).
    entered_uncommanded: bool,
    crossfade: u32,
    curve: EqualPowerCurve,
    counters: SchedulerCounters,
    telemetry: Arc<SchedulerTelemetry>,
}

impl GrainScheduler {
    /// Creates the scheduler (for the audio thread) and its handle (for the worker), with all
    /// memory allocated up front.
    pub fn new(config: SchedulerConfig) -> Result<(Self, SchedulerHandle), ScheduleError> {
        if config.sample_rate == 0 {
            return Err(ScheduleError::Config("the sample rate must be positive"));
        }
        if config.command_capacity == 0 {
            return Err(ScheduleError::Config(
                "the command queue needs room for one command",
            ));
        }
        let crossfade = crossfade_frames(config.crossfade_seconds, config.sample_rate)?;
        let (command_tx, command_rx) = HeapRb::new(config.command_capacity).split();
        let (retired_tx, retired_rx) = HeapRb::new(RETIRED_CAPACITY).split();
        let telemetry = Arc::new(SchedulerTelemetry::default());
        let scheduler = Self {
            commands: command_rx,
            retired: retired_tx,
            corpus: None,
            retiring: None,
            generation: 0,
            voices: [Voice::IDLE; MAX_VOICES],
            primary: None,
            successor_requested: false,
            entered_uncommanded: false,
            crossfade,
            curve: EqualPowerCurve::new(),
            counters: SchedulerCounters::default(),
            telemetry: Arc::clone(&telemetry),
        };
        let handle = SchedulerHandle::new(command_tx, retired_rx, config.sample_rate, telemetry);
        Ok((scheduler, handle))
    }

    /// Host frames rendered so far (the clock commands are timed against).
    pub fn position(&self) -> u64 {
        self.counters.position
    }

    /// The counters as of now.
    pub fn counters(&self) -> SchedulerCounters {
        self.counters
    }

    /// The shared telemetry.
    pub fn telemetry(&self) -> &Arc<SchedulerTelemetry> {
        &self.telemetry
    }

    /// Renders the next block into `out` (one or two channels of equal length, any length),
    /// overwriting it. Real-time safe: no allocation, lock or system call.
    pub fn process(&mut self, out: &mut [&mut [f32]]) -> Result<(), ProcessError> {
        if !(1..=2).contains(&out.len()) {
            return Err(ProcessError::ChannelCount(out.len()));
        }
        let frames = out[0].len();
        if out.iter().any(|channel| channel.len() != frames) {
            return Err(ProcessError::ChannelLengths);
        }
        let mut done = 0;
        while done < frames {
            let now = self.counters.position;
            self.apply_due_commands(now);
            self.cross_boundary();
            let span = self.frames_to_next_event(now, frames - done);
            self.render(out, done, span);
            for voice in self.voices.iter_mut().filter(|voice| voice.active) {
                voice.advance(span as u32);
            }
            self.release_retired();
            self.counters.position += span as u64;
            done += span;
        }
        let now_playing = self.primary.map(|primary| PlayingSegment {
            generation: self.generation,
            segment: primary.segment,
        });
        self.telemetry.publish(&self.counters, now_playing);
        Ok(())
    }

    /// Crossfade length for a jump to `segment` (`offset` frames into it): the configured
    /// length, at most half of what is left of the incoming segment and half of the segment
    /// playing.
    fn jump_length(&self, corpus: &CorpusMemory, segment: SegmentId, offset: u32) -> u32 {
        let mut length = u64::from(self.crossfade);
        if let Some(incoming) = corpus.segment(segment) {
            length = length.min(incoming.len().saturating_sub(u64::from(offset)) / 2);
        }
        if let Some(current) = self.primary.and_then(|p| corpus.segment(p.segment)) {
            length = length.min(current.len() / 2);
        }
        length.max(1) as u32
    }

    /// The crossfade into `segment`, due to start at frame `at`, seen from frame `now`: its
    /// first frame and its length. It is centred on `at` where the audio allows; it starts
    /// later when the incoming recording has less audio before the segment, and is shortened to
    /// end where the outgoing recording runs out, so neither voice ever fades through the abrupt
    /// edge of a recording. (It never starts earlier for that: the command may arrive only half
    /// a crossfade ahead, and the window must not depend on when it arrives.)
    fn jump_window(
        &self,
        corpus: &CorpusMemory,
        now: u64,
        at: u64,
        segment: SegmentId,
        offset: u32,
    ) -> (u64, u32) {
        let mut length = u64::from(self.jump_length(corpus, segment, offset));
        let mut earliest = 0;
        if let Some(incoming) = corpus.segment(segment) {
            let before = incoming.start + u64::from(offset) - corpus.source_frames(incoming).start;
            earliest = at.saturating_sub(before);
        }
        let start = at.saturating_sub(length / 2).max(earliest);
        if let Some(primary) = self.primary {
            let voice = &self.voices[primary.voice];
            let outgoing_end = now + (voice.bounds_end - voice.read).max(0) as u64;
            let begin = start.max(now);
            if outgoing_end > begin && begin + length > outgoing_end {
                length = outgoing_end - begin;
            }
        }
        (start, length.max(1) as u32)
    }

    /// Length of a fade to silence.
    fn silence_length(&self) -> u32 {
        let current = self
            .primary
            .zip(self.corpus.as_deref())
            .and_then(|(primary, corpus)| corpus.segment(primary.segment))
            .map_or(u64::MAX, |segment| segment.len() / 2);
        u64::from(self.crossfade).min(current).max(1) as u32
    }

    /// The frame at which the queued command `command` must be applied, or `None` while it
    /// has to wait (a corpus swap waits for the previous swap's fade-out to finish).
    fn due_frame(&self, command: &SchedulerCommand, now: u64) -> Option<u64> {
        match command {
            SchedulerCommand::Play {
                at,
                segment,
                offset,
            } => Some(match self.corpus.as_deref() {
                Some(corpus) => self.jump_window(corpus, now, *at, *segment, *offset).0,
                None => 0,
            }),
            SchedulerCommand::Silence { at } => {
                Some(at.saturating_sub(u64::from(self.silence_length() / 2)))
            }
            SchedulerCommand::Crossfade { .. } => Some(0),
            SchedulerCommand::Corpus { .. } => self.retiring.is_none().then_some(0),
        }
    }

    /// Applies every queued command that is due at frame `now`.
    fn apply_due_commands(&mut self, now: u64) {
        // Each pass pops one command, so the loop ends within the queue's capacity.
        while let Some(due) = self
            .commands
            .try_peek()
            .and_then(|c| self.due_frame(c, now))
        {
            if due > now {
                break;
            }
            let Some(command) = self.commands.try_pop() else {
                break;
            };
            if due < now
                && matches!(
                    command,
                    SchedulerCommand::Play { .. } | SchedulerCommand::Silence { .. }
                )
            {
                self.counters.late_commands += 1;
            }
            match command {
                SchedulerCommand::Play {
                    at,
                    segment,
                    offset,
                } => self.play(now, at, segment, offset),
                SchedulerCommand::Silence { .. } => self.fade_to_silence(self.silence_length()),
                SchedulerCommand::Crossfade { frames } => self.crossfade = frames,
                SchedulerCommand::Corpus { corpus, generation } => {
                    self.swap_corpus(corpus, generation)
                }
            }
        }
    }

    /// Starts `segment` from `offset` frames into it, meant to begin at frame `at`, at frame
    /// `now`.
    fn play(&mut self, now: u64, at: u64, segment_id: SegmentId, offset: u32) {
        let Some(corpus) = self.corpus.clone() else {
            self.counters.dropped_commands += 1;
            return;
        };
        let Some(segment) = corpus.segment(segment_id).copied() else {
            self.counters.dropped_commands += 1;
            return;
        };
        match self.primary {
            Some(primary) if offset == 0 => {
                if primary.segment == segment_id && self.entered_uncommanded {
                    // The late fallback already plays the requested segment.
                    self.entered_uncommanded = false;
                    return;
                }
                // The successor continues the same read head when it is due about when the
                // current segment ends (slot and segment lengths may differ by a few frames).
                let until_end = primary.end - self.voices[primary.voice].read;
                let until_at = at as i64 - now as i64;
                let tolerance = i64::from(self.jump_length(&corpus, segment_id, 0) / 2).max(1);
                if corpus.successor(primary.segment) == Some(segment_id)
                    && (until_end - until_at).abs() <= tolerance
                {
                    self.successor_requested = true;
                    return;
                }
            }
            _ => {}
        }
        let offset = u64::from(offset);
        if now >= at + segment.len() - offset {
            // Its slot is over; the fallback has been playing instead.
            self.counters.dropped_commands += 1;
            return;
        }
        let (_, length) = self.jump_window(&corpus, now, at, segment_id, offset as u32);
        let read = (segment.start + offset) as i64 + (now as i64 - at as i64);
        for voice in self.voices.iter_mut().filter(|voice| voice.active) {
            voice.fade_out(length);
        }
        let slot = self.free_voice();
        self.voices[slot] = Voice::fading_in(read, corpus.source_frames(&segment), length);
        self.measure_peaks(length);
        self.primary = Some(Primary {
            voice: slot,
            segment: segment_id,
            end: segment.end as i64,
        });
        self.successor_requested = false;
        self.entered_uncommanded = false;
    }

    /// Fades every voice out over `length` frames; nothing plays afterwards.
    fn fade_to_silence(&mut self, length: u32) {
        for voice in self.voices.iter_mut().filter(|voice| voice.active) {
            voice.fade_out(length);
        }
        self.primary = None;
        self.successor_requested = false;
        self.entered_uncommanded = false;
    }

    /// Fades the current corpus out and makes `corpus` current.
    fn swap_corpus(&mut self, corpus: Arc<CorpusMemory>, generation: u32) {
        self.fade_to_silence(self.crossfade);
        for voice in self.voices.iter_mut().filter(|voice| voice.active) {
            voice.slot = CorpusSlot::Retiring;
        }
        self.retiring = self.corpus.replace(corpus);
        self.generation = generation;
        self.release_retired();
    }

    /// Handles the primary voice reaching the end of its segment.
    fn cross_boundary(&mut self) {
        let Some(primary) = self.primary else {
            return;
        };
        if self.voices[primary.voice].read < primary.end {
            return;
        }
        let Some(corpus) = self.corpus.as_deref() else {
            return;
        };
        let commanded = self.successor_requested;
        if !commanded && self.commands.is_empty() {
            self.counters.late_fallbacks += 1;
        }
        match corpus.successor(primary.segment) {
            Some(next) => {
                let end = corpus.segments()[next.index()].end as i64;
                self.primary = Some(Primary {
                    segment: next,
                    end,
                    ..primary
                });
                self.successor_requested = false;
                self.entered_uncommanded = !commanded;
            }
            None => {
                // The recording ends here: nothing to continue with, so fade out.
                self.fade_to_silence(self.crossfade);
            }
        }
    }

    /// Frames from `now` to the next command, segment boundary or fade event, capped at `max`.
    fn frames_to_next_event(&self, now: u64, max: usize) -> usize {
        let mut span = max.min(MAX_SPAN) as u64;
        if let Some(due) = self
            .commands
            .try_peek()
            .and_then(|c| self.due_frame(c, now))
        {
            if due > now {
                span = span.min(due - now);
            }
        }
        if let Some(primary) = self.primary {
            let left = primary.end - self.voices[primary.voice].read;
            span = span.min(left.max(1) as u64);
        }
        for voice in self.voices.iter().filter(|voice| voice.active) {
            span = span.min(voice.frames_to_fade_event());
        }
        span.max(1) as usize
    }

    /// An idle voice, or the quietest fading one when all are busy.
    fn free_voice(&mut self) -> usize {
        if let Some(index) = self.voices.iter().position(|voice| !voice.active) {
            return index;
        }
        self.counters.stolen_voices += 1;
        let curve = &self.curve;
        (0..MAX_VOICES)
            .min_by(|&a, &b| {
                let gain_a = self.voices[a].gain(curve, 0);
                let gain_b = self.voices[b].gain(curve, 0);
                gain_a.total_cmp(&gain_b)
            })
            .unwrap_or(0)
    }

    /// Bounds what each voice plays during the next `frames` frames (the overlap of a jump).
    fn measure_peaks(&mut self, frames: u32) {
        for voice in self.voices.iter_mut().filter(|voice| voice.active) {
            let corpus = match voice.slot {
                CorpusSlot::Current => self.corpus.as_deref(),
                CorpusSlot::Retiring => self.retiring.as_deref(),
            };
            if let Some(corpus) = corpus {
                voice.measure_peak(corpus, frames);
            }
        }
    }

    /// Hands the retiring corpus back to the worker once no voice reads it.
    fn release_retired(&mut self) {
        if self.retiring.is_none()
            || self
                .voices
                .iter()
                .any(|voice| voice.active && voice.slot == CorpusSlot::Retiring)
        {
            return;
        }
        if let Some(corpus) = self.retiring.take() {
            if let Err(corpus) = self.retired.try_push(corpus) {
                // The worker has not collected the previous ones yet: try again next time.
                self.retiring = Some(corpus);
            }
        }
    }

    /// Mixes the active voices into `out[..][offset..offset + frames]`.
    fn render(&self, out: &mut [&mut [f32]], offset: usize, frames: usize) {
        for channel in out.iter_mut() {
            channel[offset..offset + frames].fill(0.0);
        }
        let mut active = [0usize; MAX_VOICES];
        let mut count = 0;
        for (index, voice) in self.voices.iter().enumerate() {
            if voice.active {
                active[count] = index;
                count += 1;
            }
        }
        let active = &active[..count];
        match active {
            [] => {}
            [single] if self.voices[*single].fade == Fade::Steady => {
                let voice = &self.voices[*single];
                if let Some(corpus) = self.corpus_of(voice) {
                    copy_voice(out, offset, frames, corpus, voice);
                }
            }
            _ => self.mix_voices(out, offset, frames, active),
        }
    }

    /// Mixes several (or fading) voices, with the anti-clipping gain when they overlap.
    fn mix_voices(&self, out: &mut [&mut [f32]], offset: usize, frames: usize, active: &[usize]) {
        let mut gains = [[0.0f32; MIX_CHUNK]; MAX_VOICES];
        let mut done = 0;
        while done < frames {
            let chunk = (frames - done).min(MIX_CHUNK);
            let mut bound = [0.0f32; MIX_CHUNK];
            for (slot, &index) in active.iter().enumerate() {
                let voice = &self.voices[index];
                for (i, gain) in gains[slot][..chunk].iter_mut().enumerate() {
                    *gain = voice.gain(&self.curve, (done + i) as u32);
                    bound[i] += *gain * voice.peak;
                }
            }
            if active.len() > 1 {
                for i in 0..chunk {
                    if bound[i] > HEADROOM {
                        let scale = HEADROOM / bound[i];
                        for gain in gains[..active.len()].iter_mut() {
                            gain[i] *= scale;
                        }
                    }
                }
            }
            for (slot, &index) in active.iter().enumerate() {
                let voice = &self.voices[index];
                let Some(corpus) = self.corpus_of(voice) else {
                    continue;
                };
                let mut ahead = *voice;
                ahead.read += done as i64;
                add_voice(
                    out,
                    offset + done,
                    chunk,
                    corpus,
                    &ahead,
                    &gains[slot][..chunk],
                );
            }
            done += chunk;
        }
    }

    fn corpus_of(&self, voice: &Voice) -> Option<&CorpusMemory> {
        match voice.slot {
            CorpusSlot::Current => self.corpus.as_deref(),
            CorpusSlot::Retiring => self.retiring.as_deref(),
        }
    }
}

/// Writes a lone full-gain voice: the corpus samples themselves, bit for bit.
fn copy_voice(
    out: &mut [&mut [f32]],
    offset: usize,
    frames: usize,
    corpus: &CorpusMemory,
    voice: &Voice,
) {
    let audible = voice.audible(frames);
    if audible.is_empty() {
        return;
    }
    let source = (voice.read + audible.start as i64) as usize;
    let len = audible.len();
    let target = offset + audible.start..offset + audible.end;
    match (corpus.channel_count(), out.len()) {
        (1, _) => {
            for channel in out.iter_mut() {
                channel[target.clone()].copy_from_slice(&corpus.channel(0)[source..source + len]);
            }
        }
        (_, 2) => {
            for (index, channel) in out.iter_mut().enumerate() {
                channel[target.clone()]
                    .copy_from_slice(&corpus.channel(index)[source..source + len]);
            }
        }
        _ => {
            let (left, right) = (corpus.channel(0), corpus.channel(1));
            for (i, sample) in out[0][target].iter_mut().enumerate() {
                *sample = 0.5 * (left[source + i] + right[source + i]);
            }
        }
    }
}

/// Adds a voice with per-frame `gains` into `out[..][offset..offset + frames]`.
fn add_voice(
    out: &mut [&mut [f32]],
    offset: usize,
    frames: usize,
    corpus: &CorpusMemory,
    voice: &Voice,
    gains: &[f32],
) {
    let audible = voice.audible(frames);
    if audible.is_empty() {
        return;
    }
    let source = (voice.read + audible.start as i64) as usize;
    let len = audible.len();
    let gains = &gains[audible.clone()];
    let target = offset + audible.start..offset + audible.end;
    match (corpus.channel_count(), out.len()) {
        (1, _) => {
            let input = &corpus.channel(0)[source..source + len];
            for channel in out.iter_mut() {
                for ((sample, &x), &g) in channel[target.clone()].iter_mut().zip(input).zip(gains) {
                    *sample += x * g;
                }
            }
        }
        (_, 2) => {
            for (index, channel) in out.iter_mut().enumerate() {
                let input = &corpus.channel(index)[source..source + len];
                for ((sample, &x), &g) in channel[target.clone()].iter_mut().zip(input).zip(gains) {
                    *sample += x * g;
                }
            }
        }
        _ => {
            let left = &corpus.channel(0)[source..source + len];
            let right = &corpus.channel(1)[source..source + len];
            for (((sample, &l), &r), &g) in
                out[0][target].iter_mut().zip(left).zip(right).zip(gains)
            {
                *sample += 0.5 * (l + r) * g;
            }
        }
    }
}
