//! The preset's contents as plain data.
//!
//! These types hold what a preset file stores and nothing more: perception, decision and action
//! convert their own runtime types from and to them. They are built on a worker thread (or by the
//! offline tools) and never touched by the audio thread.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A complete corpus preset: everything needed to run Counterpart on one corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// Who made it and under which licence.
    pub info: PresetInfo,
    /// How the audio was cut into segments.
    pub segmentation: SegmentationSettings,
    /// Which encoder turned segments into embeddings (optionally the encoder itself).
    pub encoder: EncoderIdentity,
    /// The k-means codebook: one centre per label.
    pub codebook: CodebookData,
    /// The decision models, one per look-ahead, the preferred one first (the one a host gets
    /// when it asks for none in particular).
    pub decisions: Vec<DecisionData>,
    /// The corpus recordings, their segments and labels.
    pub corpus: Vec<CorpusFile>,
    /// Training and evaluation metrics, as a JSON object.
    pub metrics: serde_json::Value,
    /// How the companion part moves against the guide in the pairs the preset was trained on,
    /// measured on their note annotations at build time. `None` in presets of format version 2
    /// or older, and in presets built from stems without note annotations.
    pub character: Option<RelationCharacter>,
}

impl Preset {
    /// The alphabet size K: the number of codebook centres, hence of labels.
    pub fn k(&self) -> usize {
        self.codebook.k
    }

    /// The look-aheads of the decision models, in stored order (models whose config names no
    /// look-ahead are left out).
    pub fn lookaheads(&self) -> Vec<usize> {
        self.decisions
            .iter()
            .filter_map(DecisionData::lookahead)
            .collect()
    }

    /// The decision model for look-ahead `lookahead`, or the preferred (first) one for `None`.
    pub fn decision_for(&self, lookahead: Option<usize>) -> Option<&DecisionData> {
        match lookahead {
            None => self.decisions.first(),
            Some(l) => self.decisions.iter().find(|d| d.lookahead() == Some(l)),
        }
    }
}

/// The character of the relation a preset was trained on: how the companion part B moves
/// against the guide A, measured on the note annotations (`<piece>/<stem>.notes.json`) of the
/// training pairs when the preset was built (`counterpart character` measures it on any stems
/// set).
///
/// Every figure is pooled over the pairs: counts are summed over all pairs first and divided
/// once (a long piece weighs more than a short one), never a mean of per-pair ratios. Shares are
/// rounded to 0.001, rates to 0.01 per second, seconds to 0.1 s. A share whose denominator is
/// zero is `None`.
///
/// Terms:
/// - a part's *attacks* are its notes' onsets, a note starting less than 30 ms after the
///   previous attack of the same part joining it (a chord or a strum is one attack);
/// - a pair's *span* runs from the first onset to the last offset among A's and B's notes;
/// - *sounding* at `t` means some note has `onset ≤ t < offset`, checked on the grid instants
///   `t = k · 20 ms` of the span;
/// - two attacks *coincide* when they lie at most 60 ms apart;
/// - a *beat* is one quarter note at the piece's tempo (the manifest's `tempo.quarter_bpm`, or
///   else the tempo of a tempo-synced preset); the span is cut into beat windows
///   `[t0 + (i − ¼)·beat, t0 + (i + ¾)·beat)` from the span's start `t0`, so that notes played
///   on a beat, or a little early or late, fall inside their beat's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationCharacter {
    /// Number of (A, B) pairs measured.
    pub pairs: u32,
    /// Seconds measured: the sum of the pairs' spans.
    pub seconds: f64,
    /// Share of B's attacks that coincide with an A attack (0 to 1): 1 when B only starts notes
    /// with A.
    pub onset_coincidence: Option<f64>,
    /// Share of A's attacks that a B attack coincides with (0 to 1): tells a shadow of A (high)
    /// from a sparse line that starts with A when it starts at all (low, with a high
    /// `onset_coincidence`).
    pub a_onset_coverage: Option<f64>,
    /// B's attacks per second of span.
    pub b_onsets_per_s: f64,
    /// A's attacks per second of span.
    pub a_onsets_per_s: f64,
    /// B's attacks over A's attacks (the ratio of the two rates).
    pub note_rate_ratio: Option<f64>,
    /// Share of the grid instants where A sounds at which B sounds too (0 to 1).
    pub presence: Option<f64>,
    /// Share of all grid instants of the span at which B sounds (0 to 1).
    pub b_sounding: Option<f64>,
    /// Share of the beat windows holding at least one B attack that hold more than one (0 to
    /// 1): how often B changes note within a beat. `None` when no piece has a tempo.
    pub changes_within_beat: Option<f64>,
    /// Number of beat windows holding at least one B attack (the denominator of
    /// `changes_within_beat`).
    pub b_beats: u64,
}

impl RelationCharacter {
    /// One line for people: the shares in per cent, the rates per second.
    pub fn one_line(&self) -> String {
        let pct =
            |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{:.0}%", 100.0 * v));
        format!(
            "B starts with A {}, covers {} of A's onsets, {:.2} notes/s ({}× A), sounds {} of \
             A's time, changes within a beat {}",
            pct(self.onset_coincidence),
            pct(self.a_onset_coverage),
            self.b_onsets_per_s,
            self.note_rate_ratio
                .map_or_else(|| "–".to_owned(), |r| format!("{r:.2}")),
            pct(self.presence),
            pct(self.changes_within_beat),
        )
    }
}

/// Descriptive information about a preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetInfo {
    /// Short name shown in the plugin's preset list. Must not be empty.
    pub name: String,
    /// Who made the preset.
    pub author: String,
    /// Free-form description.
    pub description: String,
    /// The licence of the preset and its corpus audio (an SPDX identifier is best). Must not be
    /// empty: the file redistributes recordings.
    pub licence: String,
    /// When the preset was made (an ISO 8601 date or date-time is best).
    pub created: String,
}

/// How perception cut the audio into segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentationSettings {
    /// The segment length rule.
    pub length: SegmentLengthRecord,
    /// When set, boundaries may move to the nearest onset within this many seconds.
    pub onset_snap_seconds: Option<f64>,
    /// Sample rate, in Hz, at which segmentation and encoding work (16 000 for Wav2Vec 2.0).
    pub analysis_sample_rate: u32,
}

/// The segment length rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum SegmentLengthRecord {
    /// Fixed-length segments.
    Uniform {
        /// Segment length in seconds.
        seconds: f64,
    },
    /// Segments one note value long at a fixed tempo.
    TempoSynced {
        /// The note value of one segment.
        note: NoteValueRecord,
        /// Tempo in quarter-note beats per minute.
        bpm: f64,
    },
}

impl SegmentLengthRecord {
    /// The segment length in seconds.
    pub fn seconds(&self) -> f64 {
        match self {
            Self::Uniform { seconds } => *seconds,
            Self::TempoSynced { note, bpm } => note.whole_notes() * 4.0 * 60.0 / bpm,
        }
    }
}

impl fmt::Display for SegmentLengthRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uniform { seconds } => write!(f, "uniform, {seconds} s"),
            Self::TempoSynced { note, bpm } => write!(
                f,
                "tempo-synced, {note} note at {bpm} BPM ({:.3} s)",
                self.seconds()
            ),
        }
    }
}

/// A note value as a fraction of a whole note: `1/8` is an eighth note, `1/12` an eighth-note
/// triplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteValueRecord {
    /// Numerator of the fraction.
    pub numerator: u32,
    /// Denominator of the fraction.
    pub denominator: u32,
}

impl NoteValueRecord {
    /// The note's length in whole notes.
    pub fn whole_notes(self) -> f64 {
        f64::from(self.numerator) / f64::from(self.denominator)
    }
}

impl fmt::Display for NoteValueRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

/// Which encoder made the embeddings the codebook was fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderIdentity {
    /// The encoder's name (for example `MERT-v0-public`).
    pub name: String,
    /// SHA-256 of the ONNX file, as 64 lowercase hexadecimal digits (see [`sha256_hex`]).
    pub sha256: String,
    /// The transformer layer whose output is used.
    pub layer: u32,
    /// Seconds of audio context each encoder pass sees.
    pub context_seconds: f64,
    /// The ONNX file itself, when the preset embeds it.
    pub embedded: Option<Vec<u8>>,
}

/// The k-means codebook: `k` centres of `dim` values each, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct CodebookData {
    /// Number of centres (the alphabet size K).
    pub k: usize,
    /// Dimension of each centre.
    pub dim: usize,
    /// The centres, `k * dim` values, centre after centre.
    pub centres: Vec<f32>,
}

/// The decision model, as the decision module saves it.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionData {
    /// The model configuration, a JSON object.
    pub config: serde_json::Value,
    /// The model weights, a safetensors blob.
    pub weights: Vec<u8>,
}

impl DecisionData {
    /// The look-ahead L the config names (its `lookahead` field), if any.
    pub fn lookahead(&self) -> Option<usize> {
        self.config
            .get("lookahead")
            .and_then(serde_json::Value::as_u64)
            .and_then(|l| usize::try_from(l).ok())
    }
}

/// One corpus recording with its segments.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusFile {
    /// Where the recording came from (a file name): shown as provenance.
    pub name: String,
    /// Native sample rate in Hz.
    pub sample_rate: u32,
    /// Number of channels (1 or 2).
    pub channels: u16,
    /// The audio, channel after channel.
    pub audio: AudioData,
    /// The labelled segments, in order, in source samples.
    pub segments: Vec<SegmentRecord>,
}

impl CorpusFile {
    /// Number of frames (samples per channel), or 0 when the channel count is 0.
    pub fn frames(&self) -> usize {
        match self.channels {
            0 => 0,
            channels => self.audio.sample_count() / usize::from(channels),
        }
    }

    /// Duration in seconds, or 0 when the sample rate is 0.
    pub fn duration_seconds(&self) -> f64 {
        match self.sample_rate {
            0 => 0.0,
            rate => self.frames() as f64 / f64::from(rate),
        }
    }

    /// The audio as one `f32` vector per channel, full scale at ±1.
    pub fn channels_f32(&self) -> Vec<Vec<f32>> {
        let frames = self.frames();
        if frames == 0 {
            return Vec::new();
        }
        match &self.audio {
            AudioData::Pcm {
                bits_per_sample,
                samples,
            } => {
                let scale = 1.0 / (1u64 << ((*bits_per_sample).clamp(1, 32) - 1)) as f32;
                samples
                    .chunks_exact(frames)
                    .map(|channel| channel.iter().map(|&s| s as f32 * scale).collect())
                    .collect()
            }
            AudioData::Float(samples) => {
                samples.chunks_exact(frames).map(<[f32]>::to_vec).collect()
            }
        }
    }
}

/// Corpus audio, channel after channel (`[channels][frames]`).
#[derive(Debug, Clone, PartialEq)]
pub enum AudioData {
    /// Integer PCM, stored losslessly as FLAC. Use it for integer sources (WAV, FLAC).
    Pcm {
        /// Bits per sample: a multiple of 4 from 8 to 24.
        bits_per_sample: u8,
        /// The samples, each within the signed range of `bits_per_sample` bits.
        samples: Vec<i32>,
    },
    /// 32-bit floating-point samples, stored as they are. Use it for float sources.
    Float(Vec<f32>),
}

impl AudioData {
    /// Number of samples over all channels.
    pub fn sample_count(&self) -> usize {
        match self {
            Self::Pcm { samples, .. } => samples.len(),
            Self::Float(samples) => samples.len(),
        }
    }
}

/// One labelled corpus segment: its span in its recording and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRecord {
    /// First frame of the segment, in source samples.
    pub start: u64,
    /// One past the last frame of the segment, in source samples.
    pub end: u64,
    /// The segment's label, below K.
    pub label: u32,
}

/// SHA-256 of `bytes` as 64 lowercase hexadecimal digits: the form of
/// [`EncoderIdentity::sha256`].
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hexadecimal digits of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}
