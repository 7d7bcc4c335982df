//! Corpus memory: the recorded audio the companion track is cut from, segmented and labelled.
//!
//! A [`CorpusMemory`] is built once on a worker thread from one or more [`SourceRecording`]s,
//! then shared read-only (through an `Arc`) with the navigator (worker) and the grain scheduler
//! (audio thread). Each recording is resampled once to the host rate with a band-limited
//! resampler; its segment boundaries, given in source samples exactly as perception cut them,
//! are mapped to host samples with one integer rule so that neighbouring segments still touch.
//! Channels are stored de-interleaved; a mono recording in a stereo corpus is duplicated to both
//! channels.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::perception::{OnsetDetector, PitchAnalyser, Pitches};

use super::recording_rate::{convert_position, resample_channels, ResampleFailure};

/// A segment label: a codebook token id from perception.
pub type Label = u32;

/// Frames per entry of the peak table used to bound crossfade levels.
pub(crate) const PEAK_BLOCK_FRAMES: usize = 64;
/// Where in a segment the note its label describes is taken, as a share of its length (chosen
/// by `eval-heard`; see docs/results/heard.md, onsets).
const NOTE_AT: f64 = 0.65;
/// How far before a segment's [`NOTE_AT`] point its note's onset is looked for, and how far
/// after a note the next one is, in seconds.
pub(crate) const NEXT_NOTE_S: f64 = 2.0;
/// The start of a corpus note that sounds as its attack, in seconds: a change of note between
/// guide onsets enters the note after it, and a note's pitch is measured after it.
pub(crate) const ATTACK_S: f64 = 0.08;
/// Length of audio a segment's note's pitch is measured over, in seconds.
const PITCH_S: f64 = 0.15;
/// Shortest stretch of a note its pitch is measured over, in seconds.
const MIN_PITCH_S: f64 = 0.04;

/// Index of a segment in a [`CorpusMemory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u32);

impl SegmentId {
    /// The index as a `usize`, for slicing.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One recording of the corpus, as perception segmented and labelled it.
#[derive(Debug, Clone)]
pub struct SourceRecording {
    /// Where the audio came from (a file path or a name): shown as provenance.
    pub name: String,
    /// Native sample rate of `channels`, in Hz.
    pub sample_rate: u32,
    /// De-interleaved audio at the native rate: one or two channels of equal length.
    pub channels: Vec<Vec<f32>>,
    /// Segment boundaries in source samples, strictly increasing: segment `i` spans
    /// `boundaries[i]..boundaries[i + 1]`.
    pub boundaries: Vec<u64>,
    /// One label per segment (`boundaries.len() - 1` of them).
    pub labels: Vec<Label>,
}

/// Where a recording lives in the corpus memory.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The recording's name, as given in [`SourceRecording::name`].
    pub name: String,
    /// The recording's native sample rate, in Hz.
    pub sample_rate: u32,
    /// The recording's host-rate frames in the memory.
    pub frames: Range<u64>,
}

/// A labelled corpus segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorpusSegment {
    /// First host-rate frame of the segment in the memory.
    pub start: u64,
    /// One past the last host-rate frame of the segment in the memory.
    pub end: u64,
    /// The segment's label.
    pub label: Label,
    /// Index of its recording in [`CorpusMemory::sources`].
    pub source: u32,
    /// First sample of the segment in the recording, at the native rate.
    pub source_start: u64,
    /// One past the last sample of the segment in the recording, at the native rate.
    pub source_end: u64,
}

impl CorpusSegment {
    /// Length in host-rate frames.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the segment has no frames (never true in a built corpus).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Where a segment comes from: its recording and its time span in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance<'a> {
    /// The recording's name.
    pub source: &'a str,
    /// Start of the segment in the recording, in seconds.
    pub start_seconds: f64,
    /// End of the segment in the recording, in seconds.
    pub end_seconds: f64,
    /// The segment's label.
    pub label: Label,
}

/// Why a corpus could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// No recording was given.
    #[error("the corpus needs at least one recording")]
    NoSources,
    /// The host sample rate is zero.
    #[error("the host sample rate must be positive")]
    InvalidHostRate,
    /// A recording's sample rate is zero.
    #[error("recording {source_index} has a zero sample rate")]
    InvalidSampleRate {
        /// Index of the recording.
        source_index: usize,
    },
    /// A recording does not have one or two channels.
    #[error(
        "recording {source_index} has {channels} channels; only mono and stereo are supported"
    )]
    ChannelCount {
        /// Index of the recording.
        source_index: usize,
        /// Its channel count.
        channels: usize,
    },
    /// A recording's channels differ in length.
    #[error("recording {source_index} has channels of different lengths")]
    ChannelLengths {
        /// Index of the recording.
        source_index: usize,
    },
    /// A recording contains NaN or infinite samples.
    #[error(
        "recording {source_index} has a non-finite sample at channel {channel}, frame {frame}"
    )]
    NonFinite {
        /// Index of the recording.
        source_index: usize,
        /// Channel of the first bad sample.
        channel: usize,
        /// Frame of the first bad sample.
        frame: usize,
    },
    /// A recording is digital silence.
    #[error("recording {source_index} is silent")]
    Silent {
        /// Index of the recording.
        source_index: usize,
    },
    /// A recording has fewer than two boundaries, so no segment.
    #[error("recording {source_index} needs at least two segment boundaries")]
    NoSegments {
        /// Index of the recording.
        source_index: usize,
    },
    /// The label count does not match the segment count.
    #[error("recording {source_index} has {segments} segments but {labels} labels")]
    LabelCount {
        /// Index of the recording.
        source_index: usize,
        /// Number of segments (boundaries minus one).
        segments: usize,
        /// Number of labels.
        labels: usize,
    },
    /// Boundaries are not strictly increasing.
    #[error("recording {source_index}: boundary {index} is not after the previous one")]
    BoundariesNotIncreasing {
        /// Index of the recording.
        source_index: usize,
        /// Index of the offending boundary.
        index: usize,
    },
    /// A boundary lies past the end of the recording.
    #[error("recording {source_index}: boundary {boundary} is past its {frames} frames")]
    BoundaryOutOfRange {
        /// Index of the recording.
        source_index: usize,
        /// The boundary, in source samples.
        boundary: u64,
        /// The recording's length in frames.
        frames: usize,
    },
    /// A segment becomes empty once mapped to the host rate.
    #[error("recording {source_index}: segment {segment} is shorter than one host-rate sample")]
    SegmentTooShort {
        /// Index of the recording.
        source_index: usize,
        /// Index of the segment within the recording.
        segment: usize,
    },
    /// The corpus has more segments than a [`SegmentId`] can index.
    #[error("the corpus has more than {} segments", u32::MAX)]
    TooManySegments,
    /// Resampling a recording failed.
    #[error("recording {source_index} could not be resampled: {failure}")]
    Resample {
        /// Index of the recording.
        source_index: usize,
        /// What rubato reported.
        #[source]
        failure: ResampleFailure,
    },
}

/// The corpus memory: host-rate audio, segments, labels and provenance. Immutable once built.
#[derive(Debug)]
pub struct CorpusMemory {
    sample_rate: u32,
    channels: Vec<Vec<f32>>,
    sources: Vec<SourceInfo>,
    segments: Vec<CorpusSegment>,
    by_label: BTreeMap<Label, Vec<SegmentId>>,
    peaks: Vec<f32>,
    onsets: Vec<u64>,
    /// Per segment: the onset of the note its label describes, and that note's pitches.
    notes: Vec<Option<u64>>,
    pitches: Vec<Option<Pitches>>,
}

impl CorpusMemory {
    /// Builds the memory from recordings, resampling each to `host_rate` (worker thread only:
    /// this allocates and can take a while for long recordings).
    pub fn build(host_rate: u32, recordings: Vec<SourceRecording>) -> Result<Self, CorpusError> {
        if host_rate == 0 {
            return Err(CorpusError::InvalidHostRate);
        }
        if recordings.is_empty() {
            return Err(CorpusError::NoSources);
        }
        for (index, recording) in recordings.iter().enumerate() {
            validate(index, recording)?;
        }
        let channel_count = recordings
            .iter()
            .map(|recording| recording.channels.len())
            .max()
            .unwrap_or(1);
        let mut channels: Vec<Vec<f32>> = vec![Vec::new(); channel_count];
        let mut sources = Vec::with_capacity(recordings.len());
        let mut segments = Vec::new();
        let mut onsets = Vec::new();
        for (index, recording) in recordings.into_iter().enumerate() {
            let SourceRecording {
                name,
                sample_rate,
                channels: audio,
                boundaries,
                labels,
            } = recording;
            let native_onsets = onsets_of(&audio, sample_rate);
            let audio = resample_channels(audio, sample_rate, host_rate).map_err(|failure| {
                CorpusError::Resample {
                    source_index: index,
                    failure,
                }
            })?;
            let frames = audio[0].len() as u64;
            let offset = channels[0].len() as u64;
            for (channel, memory) in channels.iter_mut().enumerate() {
                memory.extend_from_slice(&audio[channel.min(audio.len() - 1)]);
            }
            let source = u32::try_from(sources.len()).map_err(|_| CorpusError::TooManySegments)?;
            onsets.extend(
                native_onsets
                    .iter()
                    .map(|&onset| offset + convert_position(onset, sample_rate, host_rate))
                    .filter(|&onset| onset < offset + frames),
            );
            let host_boundaries: Vec<u64> = boundaries
                .iter()
                .map(|&boundary| convert_position(boundary, sample_rate, host_rate).min(frames))
                .collect();
            for (segment, (pair, &label)) in host_boundaries.windows(2).zip(&labels).enumerate() {
                if pair[1] <= pair[0] {
                    return Err(CorpusError::SegmentTooShort {
                        source_index: index,
                        segment,
                    });
                }
                segments.push(CorpusSegment {
                    start: offset + pair[0],
                    end: offset + pair[1],
                    label,
                    source,
                    source_start: boundaries[segment],
                    source_end: boundaries[segment + 1],
                });
            }
            sources.push(SourceInfo {
                name,
                sample_rate,
                frames: offset..offset + frames,
            });
        }
        if u32::try_from(segments.len()).is_err() {
            return Err(CorpusError::TooManySegments);
        }
        let mut by_label: BTreeMap<Label, Vec<SegmentId>> = BTreeMap::new();
        for (index, segment) in segments.iter().enumerate() {
            by_label
                .entry(segment.label)
                .or_default()
                .push(SegmentId(index as u32));
        }
        let peaks = peak_table(&channels);
        let mut memory = Self {
            sample_rate: host_rate,
            channels,
            sources,
            segments,
            by_label,
            peaks,
            onsets,
            notes: Vec::new(),
            pitches: Vec::new(),
        };
        memory.notes = (0..memory.segments.len())
            .map(|i| memory.find_note(&memory.segments[i]))
            .collect();
        memory.pitches = memory.measure_pitches();
        Ok(memory)
    }

    /// The onset of the note sounding at [`NOTE_AT`] of `segment` (the last onset before that
    /// point, within [`NEXT_NOTE_S`] and its recording), else its first onset after it.
    fn find_note(&self, segment: &CorpusSegment) -> Option<u64> {
        let middle = segment.start + (segment.len() as f64 * NOTE_AT).round() as u64;
        let earliest = middle
            .saturating_sub(self.seconds(NEXT_NOTE_S))
            .max(self.source_frames(segment).start);
        let i = self.onsets.partition_point(|&o| o <= middle);
        i.checked_sub(1)
            .map(|i| self.onsets[i])
            .filter(|&o| o >= earliest)
            .or_else(|| self.onset_in(middle, segment.end))
    }

    /// The pitches of every segment's note, measured past its attack (over [`PITCH_S`], up
    /// to the recording's next note); of the segment's middle where it has no note.
    fn measure_pitches(&self) -> Vec<Option<Pitches>> {
        let mut analyser = PitchAnalyser::new(self.sample_rate);
        let mut mono = Vec::new();
        self.segments
            .iter()
            .zip(&self.notes)
            .map(|(segment, note)| {
                let source = self.source_frames(segment);
                let note = note.unwrap_or(segment.start + segment.len() / 2);
                let until = self
                    .onset_in(note + 1, source.end)
                    .unwrap_or(source.end)
                    .min(note + self.seconds(ATTACK_S + PITCH_S));
                let past_attack = note + self.seconds(ATTACK_S);
                let from = if until >= past_attack + self.seconds(MIN_PITCH_S) {
                    past_attack
                } else {
                    note
                };
                let (from, until) = (from as usize, until as usize);
                mono.clear();
                mono.extend((from..until).map(|i| {
                    self.channels.iter().map(|c| c[i]).sum::<f32>() / self.channels.len() as f32
                }));
                analyser.analyse(&mono)
            })
            .collect()
    }

    fn seconds(&self, seconds: f64) -> u64 {
        (seconds * f64::from(self.sample_rate)).round() as u64
    }

    /// The onset of the note `id`'s label describes: the one sounding at `NOTE_AT` of the
    /// segment (the last onset before that point, within `NEXT_NOTE_S`), else its first
    /// onset after that point; `None` when it has neither.
    pub fn segment_note(&self, id: SegmentId) -> Option<u64> {
        self.notes.get(id.index()).copied().flatten()
    }

    /// The pitches of the note `id`'s label describes (of its middle where it has no note);
    /// `None` where none was found (silence, noise).
    pub fn segment_pitches(&self, id: SegmentId) -> Option<&Pitches> {
        self.pitches.get(id.index())?.as_ref()
    }

    /// The host sample rate the audio was converted to, in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Number of channels (1 or 2).
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Total number of host-rate frames.
    pub fn frames(&self) -> u64 {
        self.channels[0].len() as u64
    }

    /// The host-rate samples of one channel.
    ///
    /// # Panics
    /// If `channel >= self.channel_count()`.
    pub fn channel(&self, channel: usize) -> &[f32] {
        &self.channels[channel]
    }

    /// All segments, in memory order.
    pub fn segments(&self) -> &[CorpusSegment] {
        &self.segments
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// One segment, if `id` is in range.
    pub fn segment(&self, id: SegmentId) -> Option<&CorpusSegment> {
        self.segments.get(id.index())
    }

    /// The recordings, in the order they were given.
    pub fn sources(&self) -> &[SourceInfo] {
        &self.sources
    }

    /// The segment that follows `id` in its recording, i.e. the audio right after it.
    pub fn successor(&self, id: SegmentId) -> Option<SegmentId> {
        let segment = self.segment(id)?;
        let next = self.segments.get(id.index() + 1)?;
        (next.source == segment.source && next.start == segment.end).then_some(SegmentId(id.0 + 1))
    }

    /// The segment that precedes `id` in its recording.
    pub fn predecessor(&self, id: SegmentId) -> Option<SegmentId> {
        let segment = self.segment(id)?;
        let previous = self.segments.get(id.index().checked_sub(1)?)?;
        (previous.source == segment.source && previous.end == segment.start)
            .then_some(SegmentId(id.0 - 1))
    }

    /// The note onsets of every recording, in memory frames, sorted (found with
    /// [`OnsetDetector`] at the recording's own rate).
    pub fn onsets(&self) -> &[u64] {
        &self.onsets
    }

    /// The first onset in `from..until`, if any.
    pub fn onset_in(&self, from: u64, until: u64) -> Option<u64> {
        let i = self.onsets.partition_point(|&onset| onset < from);
        self.onsets.get(i).copied().filter(|&onset| onset < until)
    }

    /// The segment holding memory frame `frame`, if any.
    pub fn segment_at(&self, frame: u64) -> Option<SegmentId> {
        let i = self.segments.partition_point(|s| s.start <= frame);
        let index = i.checked_sub(1)?;
        (frame < self.segments[index].end).then_some(SegmentId(index as u32))
    }

    /// The segments carrying `label`, in memory order (empty if the label is absent).
    pub fn segments_with_label(&self, label: Label) -> &[SegmentId] {
        self.by_label.get(&label).map_or(&[], Vec::as_slice)
    }

    /// The labels present in the corpus, in increasing order.
    pub fn labels(&self) -> impl Iterator<Item = Label> + '_ {
        self.by_label.keys().copied()
    }

    /// Where a segment comes from, if `id` is in range.
    pub fn provenance(&self, id: SegmentId) -> Option<Provenance<'_>> {
        let segment = self.segment(id)?;
        let source = &self.sources[segment.source as usize];
        let rate = f64::from(source.sample_rate);
        Some(Provenance {
            source: &source.name,
            start_seconds: segment.source_start as f64 / rate,
            end_seconds: segment.source_end as f64 / rate,
            label: segment.label,
        })
    }

    /// The host-rate frames of the recording that holds `segment`: reads outside them are
    /// silence, so crossfade tails never run into a neighbouring recording.
    pub(crate) fn source_frames(&self, segment: &CorpusSegment) -> Range<u64> {
        self.sources[segment.source as usize].frames.clone()
    }

    /// An upper bound of `|sample|` over all channels for the frames in `start..end`
    /// (clipped to the memory). Real-time safe.
    pub(crate) fn peak_between(&self, start: i64, end: i64) -> f32 {
        let frames = self.frames() as i64;
        let start = start.clamp(0, frames) as usize;
        let end = end.clamp(0, frames) as usize;
        if end <= start {
            return 0.0;
        }
        let first = start / PEAK_BLOCK_FRAMES;
        let last = (end - 1) / PEAK_BLOCK_FRAMES;
        self.peaks[first..=last].iter().copied().fold(0.0, f32::max)
    }
}

/// The note onsets of a recording (one or two channels), in its samples.
fn onsets_of(channels: &[Vec<f32>], sample_rate: u32) -> Vec<u64> {
    match channels {
        [left, right] => {
            let mono: Vec<f32> = left.iter().zip(right).map(|(l, r)| 0.5 * (l + r)).collect();
            OnsetDetector::detect(&mono, sample_rate)
        }
        [only, ..] => OnsetDetector::detect(only, sample_rate),
        [] => Vec::new(),
    }
}

fn validate(index: usize, recording: &SourceRecording) -> Result<(), CorpusError> {
    if recording.sample_rate == 0 {
        return Err(CorpusError::InvalidSampleRate {
            source_index: index,
        });
    }
    let channel_count = recording.channels.len();
    if !(1..=2).contains(&channel_count) {
        return Err(CorpusError::ChannelCount {
            source_index: index,
            channels: channel_count,
        });
    }
    let frames = recording.channels[0].len();
    if recording
        .channels
        .iter()
        .any(|channel| channel.len() != frames)
    {
        return Err(CorpusError::ChannelLengths {
            source_index: index,
        });
    }
    let mut audible = false;
    for (channel, samples) in recording.channels.iter().enumerate() {
        if let Some(frame) = samples.iter().position(|sample| !sample.is_finite()) {
            return Err(CorpusError::NonFinite {
                source_index: index,
                channel,
                frame,
            });
        }
        audible |= samples.iter().any(|&sample| sample != 0.0);
    }
    if !audible {
        return Err(CorpusError::Silent {
            source_index: index,
        });
    }
    let boundaries = &recording.boundaries;
    if boundaries.len() < 2 {
        return Err(CorpusError::NoSegments {
            source_index: index,
        });
    }
    if recording.labels.len() != boundaries.len() - 1 {
        return Err(CorpusError::LabelCount {
            source_index: index,
            segments: boundaries.len() - 1,
            labels: recording.labels.len(),
        });
    }
    if let Some(position) = boundaries.windows(2).position(|pair| pair[1] <= pair[0]) {
        return Err(CorpusError::BoundariesNotIncreasing {
            source_index: index,
            index: position + 1,
        });
    }
    let last = boundaries[boundaries.len() - 1];
    if last > frames as u64 {
        return Err(CorpusError::BoundaryOutOfRange {
            source_index: index,
            boundary: last,
            frames,
        });
    }
    Ok(())
}

fn peak_table(channels: &[Vec<f32>]) -> Vec<f32> {
    let frames = channels[0].len();
    let mut peaks = vec![0.0f32; frames.div_ceil(PEAK_BLOCK_FRAMES)];
    for channel in channels {
        for (peak, block) in peaks.iter_mut().zip(channel.chunks(PEAK_BLOCK_FRAMES)) {
            *peak = block
                .iter()
                .fold(*peak, |acc, sample| acc.max(sample.abs()));
        }
    }
    peaks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|n| (n as f32 * 0.001).sin() * 0.5)
            .collect()
    }

    fn recording(
        name: &str,
        rate: u32,
        channels: Vec<Vec<f32>>,
        boundaries: Vec<u64>,
    ) -> SourceRecording {
        let labels = (0..boundaries.len() as u32 - 1).map(|i| i % 3).collect();
        SourceRecording {
            name: name.into(),
            sample_rate: rate,
            channels,
            boundaries,
            labels,
        }
    }

    #[test]
    fn same_rate_keeps_audio_and_boundaries() {
        let audio = ramp(1_000);
        let corpus = CorpusMemory::build(
            48_000,
            vec![recording(
                "a.wav",
                48_000,
                vec![audio.clone()],
                vec![0, 300, 700, 1_000],
            )],
        )
        .unwrap();
        assert_eq!(corpus.channel(0), &audio[..]);
        let starts: Vec<u64> = corpus.segments().iter().map(|s| s.start).collect();
        assert_eq!(starts, [0, 300, 700]);
        assert_eq!(corpus.successor(SegmentId(0)), Some(SegmentId(1)));
        assert_eq!(corpus.successor(SegmentId(2)), None);
        assert_eq!(corpus.predecessor(SegmentId(0)), None);
        assert_eq!(corpus.segments_with_label(0), &[SegmentId(0)]);
        let provenance = corpus.provenance(SegmentId(1)).unwrap();
        assert_eq!(provenance.source, "a.wav");
        assert!((provenance.start_seconds - 300.0 / 48_000.0).abs() < 1e-12);
    }

    #[test]
    fn resampled_boundaries_stay_contiguous_and_sources_do_not_chain() {
        let a = recording(
            "a",
            44_100,
            vec![ramp(44_100)],
            vec![0, 15_435, 30_870, 44_100],
        );
        let b = recording(
            "b",
            48_000,
            vec![ramp(4_800), ramp(4_800)],
            vec![100, 2_000, 4_800],
        );
        let corpus = CorpusMemory::build(48_000, vec![a, b]).unwrap();
        assert_eq!(corpus.channel_count(), 2);
        assert_eq!(corpus.frames(), 48_000 + 4_800);
        // The mono recording is duplicated to both channels.
        assert_eq!(&corpus.channel(0)[..48_000], &corpus.channel(1)[..48_000]);
        let segments = corpus.segments();
        assert_eq!(segments[0].start, 0);
        assert_eq!(segments[0].end, 16_800);
        assert_eq!(segments[1].start, segments[0].end);
        assert_eq!(segments[2].end, 48_000);
        assert_eq!(segments[3].start, 48_100);
        assert_eq!(corpus.successor(SegmentId(2)), None);
        assert_eq!(corpus.predecessor(SegmentId(3)), None);
        assert_eq!(corpus.source_frames(&segments[3]), 48_000..52_800);
    }

    #[test]
    fn bad_recordings_are_rejected() {
        let build = |r: SourceRecording| CorpusMemory::build(48_000, vec![r]);
        let mut nan = ramp(100);
        nan[7] = f32::NAN;
        assert!(matches!(
            build(recording("x", 48_000, vec![nan], vec![0, 100])),
            Err(CorpusError::NonFinite { frame: 7, .. })
        ));
        assert!(matches!(
            build(recording("x", 48_000, vec![vec![0.0; 100]], vec![0, 100])),
            Err(CorpusError::Silent { .. })
        ));
        assert!(matches!(
            build(recording(
                "x",
                48_000,
                vec![ramp(100)],
                vec![0, 50, 50, 100]
            )),
            Err(CorpusError::BoundariesNotIncreasing { index: 2, .. })
        ));
        assert!(matches!(
            build(recording("x", 48_000, vec![ramp(100)], vec![0, 101])),
            Err(CorpusError::BoundaryOutOfRange { .. })
        ));
        assert!(matches!(
            build(recording("x", 0, vec![ramp(100)], vec![0, 100])),
            Err(CorpusError::InvalidSampleRate { .. })
        ));
        assert!(matches!(
            build(recording(
                "x",
                48_000,
                vec![ramp(100), ramp(99)],
                vec![0, 99]
            )),
            Err(CorpusError::ChannelLengths { .. })
        ));
        assert!(matches!(
            build(recording("x", 96_000, vec![ramp(100)], vec![0, 1, 2, 100])),
            Err(CorpusError::SegmentTooShort { segment: 1, .. })
        ));
        assert!(matches!(
            CorpusMemory::build(48_000, vec![]),
            Err(CorpusError::NoSources)
        ));
    }

    #[test]
    fn peaks_bound_the_audio() {
        let mut audio = vec![0.1f32; 1_000];
        audio[500] = -0.9;
        let corpus = CorpusMemory::build(
            48_000,
            vec![recording("a", 48_000, vec![audio], vec![0, 1_000])],
        )
        .unwrap();
        assert_eq!(corpus.peak_between(0, 400), 0.1);
        assert_eq!(corpus.peak_between(450, 520), 0.9);
        assert_eq!(corpus.peak_between(-100, 0), 0.0);
        assert_eq!(corpus.peak_between(2_000, 3_000), 0.0);
    }
}
