//! Cutting the guide track into segments.
//!
//! Segments tile the stream without gaps. Boundary `k` of the nominal grid is
//! `round(k · period)` samples at the working sample rate, computed from `k` directly, so rounding
//! never accumulates: after an hour of 0.35 s segments at 44.1 kHz the boundaries are still exact.
//! The period is either a duration in seconds ([`SegmentLength::Seconds`]) or a note value at a
//! tempo ([`SegmentLength::Tempo`]). With [`OnsetSnap`], each boundary moves to the nearest note
//! onset within a small window; the grid itself does not move, so snapping cannot drift either.
//!
//! [`Segmenter`] runs on the worker thread: it takes blocks of audio and reports each segment once
//! enough audio has arrived to fix its end. [`OnsetDetector`] finds the guide's note onsets, and
//! [`OnsetPredictor`] the pulse they follow, to predict the next ones.

mod beat;
mod onsets;

use std::collections::VecDeque;

pub use beat::{OnsetPredictor, Pulse};
pub use onsets::OnsetDetector;

use super::error::{PerceptionError, Result};

/// Shortest allowed segment, in seconds.
pub const MIN_SEGMENT_S: f64 = 0.1;
/// Longest allowed segment, in seconds.
pub const MAX_SEGMENT_S: f64 = 2.0;
/// Default segment length, in seconds.
pub const DEFAULT_SEGMENT_S: f64 = 0.5;

/// A note value as a fraction of a whole note: `1/4` is a quarter, `3/16` a dotted eighth, `1/12`
/// an eighth-note triplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoteValue {
    /// Numerator of the fraction of a whole note.
    pub numerator: u32,
    /// Denominator of the fraction of a whole note.
    pub denominator: u32,
}

impl NoteValue {
    /// A quarter note.
    pub const QUARTER: NoteValue = NoteValue::new(1, 4);
    /// An eighth note.
    pub const EIGHTH: NoteValue = NoteValue::new(1, 8);
    /// A sixteenth note.
    pub const SIXTEENTH: NoteValue = NoteValue::new(1, 16);

    /// `numerator / denominator` of a whole note.
    pub const fn new(numerator: u32, denominator: u32) -> Self {
        Self {
            numerator,
            denominator,
        }
    }

    /// The length in quarter notes (beats).
    pub fn beats(self) -> f64 {
        4.0 * self.numerator as f64 / self.denominator as f64
    }
}

/// How long a segment is.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SegmentLength {
    /// A fixed duration in seconds, within [`MIN_SEGMENT_S`]..=[`MAX_SEGMENT_S`].
    Seconds(f64),
    /// A note value at a tempo in quarter notes per minute.
    Tempo {
        /// Quarter notes per minute.
        bpm: f64,
        /// The segment's note value.
        note: NoteValue,
    },
}

impl Default for SegmentLength {
    fn default() -> Self {
        SegmentLength::Seconds(DEFAULT_SEGMENT_S)
    }
}

impl SegmentLength {
    /// The length in seconds, checked against the allowed range.
    pub fn seconds(&self) -> Result<f64> {
        let s = match *self {
            SegmentLength::Seconds(s) => s,
            SegmentLength::Tempo { bpm, note } => {
                if !(bpm.is_finite() && bpm > 0.0) || note.numerator == 0 || note.denominator == 0 {
                    return Err(PerceptionError::InvalidConfig(format!(
                        "tempo segment needs a positive BPM and a non-zero note value, got {bpm} BPM \
                         and {}/{}",
                        note.numerator, note.denominator
                    )));
                }
                note.beats() * 60.0 / bpm
            }
        };
        if !(s.is_finite() && (MIN_SEGMENT_S..=MAX_SEGMENT_S).contains(&s)) {
            return Err(PerceptionError::InvalidConfig(format!(
                "segment length {s} s is outside {MIN_SEGMENT_S}..={MAX_SEGMENT_S} s"
            )));
        }
        Ok(s)
    }
}

/// Moving boundaries onto note onsets.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OnsetSnap {
    /// How far a boundary may move, in seconds; at most a quarter of the segment length.
    pub max_shift_s: f64,
    /// Rise in short-time energy over 10 ms that counts as an onset, in dB.
    pub threshold_db: f32,
    /// Onsets quieter than this level (dBFS, mean power of a 5 ms hop) are ignored.
    pub floor_dbfs: f32,
}

impl Default for OnsetSnap {
    fn default() -> Self {
        Self {
            max_shift_s: 0.04,
            threshold_db: 9.0,
            floor_dbfs: -60.0,
        }
    }
}

/// Segmentation settings.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SegmentationConfig {
    /// Length of a segment.
    pub length: SegmentLength,
    /// Onset snapping, off when `None`.
    pub onset_snap: Option<OnsetSnap>,
}

/// One segment: samples `start..end` of the stream at the working sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Position in the grid: segment `index` spans boundaries `index` and `index + 1`.
    pub index: u64,
    /// First sample.
    pub start: u64,
    /// One past the last sample.
    pub end: u64,
}

impl Segment {
    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the segment holds no sample (never true for segments made by [`Segmenter`]).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Streaming segmentation of one channel at a fixed working sample rate. Worker thread.
#[derive(Debug)]
pub struct Segmenter {
    period: f64,
    next_index: u64,
    start: u64,
    position: u64,
    snap: Option<OnsetSnapper>,
}

impl Segmenter {
    /// A segmenter for audio at `sample_rate` Hz.
    pub fn new(config: &SegmentationConfig, sample_rate: u32) -> Result<Self> {
        if sample_rate == 0 {
            return Err(PerceptionError::InvalidConfig(
                "sample rate must be positive".into(),
            ));
        }
        let seconds = config.length.seconds()?;
        let period = seconds * sample_rate as f64;
        let snap = match config.onset_snap {
            None => None,
            Some(s) => {
                if !(s.max_shift_s.is_finite()
                    && s.max_shift_s > 0.0
                    && s.max_shift_s <= seconds / 4.0)
                {
                    return Err(PerceptionError::InvalidConfig(format!(
                        "onset snap shift {} s must be positive and at most a quarter of the \
                         segment ({} s)",
                        s.max_shift_s,
                        seconds / 4.0
                    )));
                }
                if !(s.threshold_db.is_finite() && s.threshold_db > 0.0 && s.floor_dbfs.is_finite())
                {
                    return Err(PerceptionError::InvalidConfig(format!(
                        "onset threshold must be a positive dB value and the floor finite, got {} \
                         dB and {} dBFS",
                        s.threshold_db, s.floor_dbfs
                    )));
                }
                Some(OnsetSnapper::new(&s, sample_rate))
            }
        };
        Ok(Self {
            period,
            next_index: 0,
            start: 0,
            position: 0,
            snap,
        })
    }

    /// Boundary `k` of the nominal grid, in samples.
    pub fn nominal_boundary(&self, k: u64) -> u64 {
        (k as f64 * self.period).round() as u64
    }

    /// The exact segment length in samples (not necessarily a whole number).
    pub fn period_samples(&self) -> f64 {
        self.period
    }

    /// How many samples past a nominal boundary must have arrived before the boundary is fixed.
    pub fn lookahead_samples(&self) -> u64 {
        self.snap.as_ref().map_or(0, OnsetSnapper::lookahead)
    }

    /// Samples received so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Takes the next block of audio and appends every segment that it completes to `out`.
    pub fn push(&mut self, block: &[f32], out: &mut Vec<Segment>) {
        self.position += block.len() as u64;
        if let Some(snap) = &mut self.snap {
            snap.detector.process(block);
        }
        loop {
            let nominal = self.nominal_boundary(self.next_index + 1);
            if self.position < nominal + self.lookahead_samples() {
                break;
            }
            let end = match &mut self.snap {
                Some(snap) => snap.snap(nominal),
                None => nominal,
            };
            out.push(Segment {
                index: self.next_index,
                start: self.start,
                end,
            });
            self.start = end;
            self.next_index += 1;
        }
    }
}

/// Onset detection and boundary snapping.
#[derive(Debug)]
struct OnsetSnapper {
    max_shift: u64,
    detector: EnergyRiseDetector,
}

impl OnsetSnapper {
    fn new(config: &OnsetSnap, sample_rate: u32) -> Self {
        Self {
            max_shift: (config.max_shift_s * sample_rate as f64).round() as u64,
            detector: EnergyRiseDetector::new(config, sample_rate),
        }
    }

    /// An onset is confirmed three hops after its position.
    fn lookahead(&self) -> u64 {
        self.max_shift + 3 * self.detector.hop as u64
    }

    /// The onset nearest to `nominal` within the shift window, or `nominal`.
    fn snap(&mut self, nominal: u64) -> u64 {
        let lo = nominal.saturating_sub(self.max_shift);
        let hi = nominal + self.max_shift;
        let onsets = &mut self.detector.onsets;
        while onsets.front().is_some_and(|&o| o < lo) {
            onsets.pop_front();
        }
        onsets
            .iter()
            .copied()
            .take_while(|&o| o <= hi)
            .min_by_key(|&o| o.abs_diff(nominal))
            .unwrap_or(nominal)
    }
}

/// Energy-rise onset detector on 5 ms hops: an onset is a local maximum of the rise in level over
/// two hops that exceeds the threshold, above the level floor, at least 50 ms after the previous.
#[derive(Debug)]
struct EnergyRiseDetector {
    hop: usize,
    threshold_db: f32,
    floor_db: f32,
    min_gap: u64,
    acc: f64,
    acc_len: usize,
    hops_done: u64,
    /// Levels of the last three hops, oldest first.
    levels: [f32; 3],
    /// Rises of the last two hops, oldest first.
    rises: [f32; 2],
    onsets: VecDeque<u64>,
}

impl EnergyRiseDetector {
    fn new(config: &OnsetSnap, sample_rate: u32) -> Self {
        Self {
            hop: (sample_rate as usize / 200).max(1),
            threshold_db: config.threshold_db,
            floor_db: config.floor_dbfs,
            min_gap: sample_rate as u64 / 20,
            acc: 0.0,
            acc_len: 0,
            hops_done: 0,
            levels: [-120.0; 3],
            rises: [0.0; 2],
            onsets: VecDeque::new(),
        }
    }

    fn process(&mut self, block: &[f32]) {
        for &x in block {
            // Non-finite samples count as silence here; the encoder path reports them.
            let x = if x.is_finite() { x as f64 } else { 0.0 };
            self.acc += x * x;
            self.acc_len += 1;
            if self.acc_len == self.hop {
                let level = (10.0 * (self.acc / self.hop as f64 + 1e-12).log10()) as f32;
                self.end_hop(level);
                self.acc = 0.0;
                self.acc_len = 0;
            }
        }
    }

    fn end_hop(&mut self, level: f32) {
        let rise = level - self.levels[1];
        self.levels = [self.levels[1], self.levels[2], level];
        // The candidate is the previous hop: a peak of the rise that clears threshold and floor.
        let [before, candidate] = self.rises;
        if self.hops_done >= 2
            && candidate >= self.threshold_db
            && candidate >= before
            && candidate > rise
            && self.levels[1] > self.floor_db
        {
            // The rise of hop m compares hop m with hop m - 2: the onset is at the start of m - 1.
            let pos = (self.hops_done - 2) * self.hop as u64;
            if self
                .onsets
                .back()
                .is_none_or(|&last| pos >= last + self.min_gap)
            {
                self.onsets.push_back(pos);
            }
        }
        self.rises = [candidate, rise];
        self.hops_done += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(
        config: SegmentationConfig,
        rate: u32,
        audio: &[f32],
        block: usize,
    ) -> Vec<Segment> {
        let mut seg = Segmenter::new(&config, rate).unwrap();
        let mut out = Vec::new();
        for chunk in audio.chunks(block) {
            seg.push(chunk, &mut out);
        }
        out
    }

    #[test]
    fn uniform_boundaries_are_exact_and_do_not_drift() {
        let rate = 44_100;
        let config = SegmentationConfig {
            length: SegmentLength::Seconds(0.35),
            onset_snap: None,
        };
        let mut seg = Segmenter::new(&config, rate).unwrap();
        // An hour of audio in odd-sized blocks, without storing it.
        let block = vec![0.0f32; 1021];
        let mut out = Vec::new();
        let mut last = None;
        let total = 3600 * rate as u64;
        let mut pushed = 0;
        while pushed < total {
            seg.push(&block, &mut out);
            pushed += block.len() as u64;
            for s in out.drain(..) {
                if let Some(prev) = last {
                    let prev: Segment = prev;
                    assert_eq!(s.start, prev.end);
                    assert_eq!(s.index, prev.index + 1);
                }
                assert_eq!(s.end, (s.index + 1) * 15_435);
                last = Some(s);
            }
        }
        let last = last.unwrap();
        assert_eq!(last.index + 1, total / 15_435);
    }

    #[test]
    fn tempo_synced_segments_follow_the_beat() {
        // Eighth notes at 97 BPM at 48 kHz: 14845.36... samples, not a whole number.
        let rate = 48_000;
        let config = SegmentationConfig {
            length: SegmentLength::Tempo {
                bpm: 97.0,
                note: NoteValue::EIGHTH,
            },
            onset_snap: None,
        };
        let audio = vec![0.0f32; rate as usize * 60];
        let out = segments(config, rate, &audio, 512);
        let period = 0.5 * 60.0 / 97.0 * rate as f64;
        for s in &out {
            assert_eq!(s.end, ((s.index + 1) as f64 * period).round() as u64);
            assert!((s.len() as f64 - period).abs() <= 1.0);
        }
        // 97 eighth notes per 30 s: 194 in a minute.
        assert_eq!(out.len(), 194);
    }

    #[test]
    fn lengths_outside_the_allowed_range_are_refused() {
        for length in [
            SegmentLength::Seconds(0.05),
            SegmentLength::Seconds(2.5),
            SegmentLength::Seconds(f64::NAN),
            SegmentLength::Tempo {
                bpm: 0.0,
                note: NoteValue::QUARTER,
            },
            SegmentLength::Tempo {
                bpm: 20.0,
                note: NoteValue::QUARTER,
            },
        ] {
            let config = SegmentationConfig {
                length,
                onset_snap: None,
            };
            assert!(Segmenter::new(&config, 44_100).is_err(), "{length:?}");
        }
    }

    /// A 440 Hz tone burst of `len` samples starting at `at`.
    fn add_burst(audio: &mut [f32], at: usize, len: usize, rate: u32) {
        for (i, x) in audio[at..at + len].iter_mut().enumerate() {
            *x += 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin();
        }
    }

    #[test]
    fn onset_snapping_moves_boundaries_onto_nearby_onsets_only() {
        let rate = 22_050;
        let config = SegmentationConfig {
            length: SegmentLength::Seconds(0.5),
            onset_snap: Some(OnsetSnap::default()),
        };
        let period = 11_025usize;
        let mut audio = vec![0.0f32; rate as usize * 4];
        // Note 1 starts 20 ms after boundary 2; note 2 starts 30 ms before boundary 5; note 3 lies
        // 100 ms after boundary 7, too far to snap.
        let onsets = [2 * period + 441, 5 * period - 661, 7 * period + 2205];
        for &o in &onsets {
            add_burst(&mut audio, o, 4000, rate);
        }
        let out = segments(config, rate, &audio, 300);
        let ends: Vec<u64> = out.iter().map(|s| s.end).collect();
        let hop = 110u64;
        assert!(ends[1].abs_diff(onsets[0] as u64) <= hop, "{ends:?}");
        assert!(ends[4].abs_diff(onsets[1] as u64) <= hop, "{ends:?}");
        assert_eq!(ends[6], 7 * period as u64);
        for (i, &end) in ends.iter().enumerate() {
            if i != 1 && i != 4 {
                assert_eq!(end, (i as u64 + 1) * period as u64, "{ends:?}");
            }
        }
        for pair in out.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
    }
}
