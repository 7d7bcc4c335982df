//! The relation's character: how the companion part B moves against the guide A in a set of
//! pairs, measured on their note annotations (`<piece>/<stem>.notes.json`). `build-preset`
//! stores it in the preset ([`RelationCharacter`], where every figure is defined);
//! `counterpart character` prints it for any stems set.
//!
//! Counting and dividing are kept apart: [`pair_counts`] counts one pair, [`CharacterCounts`]
//! sums the counts of many, and [`CharacterCounts::character`] divides once, so that the
//! figures are pooled over the pairs, not means of per-pair ratios.

use std::collections::BTreeMap;
use std::path::Path;

use counterpart_core::preset::RelationCharacter;

use crate::data::layout::{PairSelection, StemsSet};
use crate::data::stems::{Note, MANIFEST_FILE};
use crate::eval::heard::notes::track_notes;
use crate::eval::heard::scores::{grid, sounding, Ratio, GRID_S, ONSET_TOLERANCE_S};
use crate::eval::EvalError;

/// A note starting less than this many seconds after the previous attack of its part joins
/// that attack (a chord, a strum).
pub const ATTACK_MERGE_S: f64 = 0.03;
/// Two attacks at most this many seconds apart coincide (the onset sync tolerance of
/// `eval-heard`).
pub const COINCIDENCE_S: f64 = ONSET_TOLERANCE_S;
/// How far before its beat a beat window starts, in beats.
pub const BEAT_LEAD: f64 = 0.25;

/// What the character of one or more pairs is computed from: counts, summed over pairs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CharacterCounts {
    /// Pairs counted.
    pub pairs: u32,
    /// The sum of the pairs' spans, in seconds.
    pub seconds: f64,
    /// A's attacks.
    pub a_attacks: u64,
    /// B's attacks.
    pub b_attacks: u64,
    /// B's attacks that coincide with an A attack.
    pub b_with_a: u64,
    /// A's attacks that a B attack coincides with.
    pub a_with_b: u64,
    /// Grid instants of the spans.
    pub instants: u64,
    /// Grid instants at which A sounds.
    pub a_sounding: u64,
    /// Grid instants at which B sounds.
    pub b_sounding: u64,
    /// Grid instants at which both sound.
    pub both_sounding: u64,
    /// Whether some pair had a tempo, so that beats were counted.
    pub has_beats: bool,
    /// Beat windows holding at least one B attack.
    pub b_beats: u64,
    /// Beat windows holding more than one B attack.
    pub b_busy_beats: u64,
}

impl std::ops::AddAssign for CharacterCounts {
    fn add_assign(&mut self, o: Self) {
        self.pairs += o.pairs;
        self.seconds += o.seconds;
        self.a_attacks += o.a_attacks;
        self.b_attacks += o.b_attacks;
        self.b_with_a += o.b_with_a;
        self.a_with_b += o.a_with_b;
        self.instants += o.instants;
        self.a_sounding += o.a_sounding;
        self.b_sounding += o.b_sounding;
        self.both_sounding += o.both_sounding;
        self.has_beats |= o.has_beats;
        self.b_beats += o.b_beats;
        self.b_busy_beats += o.b_busy_beats;
    }
}

/// `x` rounded to `decimals` decimal places.
fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// `hits / total` ([`Ratio::value`]) rounded to 0.001, or `None` when `total` is 0.
fn share(hits: u64, total: u64) -> Option<f64> {
    Ratio { hits, total }.value().map(|v| round_to(v, 3))
}

impl CharacterCounts {
    /// The character these counts give, rounded as [`RelationCharacter`] says.
    pub fn character(&self) -> RelationCharacter {
        let rate = |attacks: u64| {
            if self.seconds > 0.0 {
                round_to(attacks as f64 / self.seconds, 2)
            } else {
                0.0
            }
        };
        RelationCharacter {
            pairs: self.pairs,
            seconds: round_to(self.seconds, 1),
            onset_coincidence: share(self.b_with_a, self.b_attacks),
            a_onset_coverage: share(self.a_with_b, self.a_attacks),
            b_onsets_per_s: rate(self.b_attacks),
            a_onsets_per_s: rate(self.a_attacks),
            note_rate_ratio: share(self.b_attacks, self.a_attacks),
            presence: share(self.both_sounding, self.a_sounding),
            b_sounding: share(self.b_sounding, self.instants),
            changes_within_beat: if self.has_beats {
                share(self.b_busy_beats, self.b_beats)
            } else {
                None
            },
            b_beats: self.b_beats,
        }
    }
}

/// A part's attacks, sorted: its notes' onsets, a note starting less than [`ATTACK_MERGE_S`]
/// after the previous attack joining it.
pub fn attacks(notes: &[Note]) -> Vec<f64> {
    let mut onsets: Vec<f64> = notes.iter().map(|n| n.onset_s).collect();
    onsets.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = Vec::with_capacity(onsets.len());
    for t in onsets {
        if out.last().is_none_or(|&last| t - last >= ATTACK_MERGE_S) {
            out.push(t);
        }
    }
    out
}

/// How many of the sorted instants `from` lie within [`COINCIDENCE_S`] of one of the sorted
/// instants `to`.
pub fn coinciding(from: &[f64], to: &[f64]) -> u64 {
    let mut count = 0;
    for &t in from {
        let i = to.partition_point(|&u| u < t);
        let near = [i.checked_sub(1), Some(i)]
            .into_iter()
            .flatten()
            .filter_map(|j| to.get(j))
            .any(|&u| (u - t).abs() <= COINCIDENCE_S);
        count += u64::from(near);
    }
    count
}

/// `(windows with at least one attack, windows with more than one)` of the sorted `attacks`,
/// cut into beat windows `[t0 + (i − BEAT_LEAD)·beat_s, t0 + (i + 1 − BEAT_LEAD)·beat_s)`.
/// Attacks before the first window are left out.
pub fn beat_counts(attacks: &[f64], t0: f64, beat_s: f64) -> (u64, u64) {
    let mut per_window: BTreeMap<i64, u64> = BTreeMap::new();
    for &t in attacks {
        let position = (t - t0) / beat_s + BEAT_LEAD;
        if position >= 0.0 {
            *per_window.entry(position.floor() as i64).or_default() += 1;
        }
    }
    let busy = per_window.values().filter(|&&n| n > 1).count() as u64;
    (per_window.len() as u64, busy)
}

/// The counts of one pair: guide notes `a`, companion notes `b`, and the length of one beat
/// in seconds when the piece has a tempo.
pub fn pair_counts(a: &[Note], b: &[Note], beat_s: Option<f64>) -> CharacterCounts {
    let mut counts = CharacterCounts {
        pairs: 1,
        ..CharacterCounts::default()
    };
    let both = || a.iter().chain(b);
    let start = both().map(|n| n.onset_s).fold(f64::INFINITY, f64::min);
    let end = both().map(|n| n.offset_s).fold(f64::NEG_INFINITY, f64::max);
    if !(start.is_finite() && end > start) {
        return counts;
    }
    counts.seconds = end - start;
    let (a_attacks, b_attacks) = (attacks(a), attacks(b));
    counts.a_attacks = a_attacks.len() as u64;
    counts.b_attacks = b_attacks.len() as u64;
    counts.b_with_a = coinciding(&b_attacks, &a_attacks);
    counts.a_with_b = coinciding(&a_attacks, &b_attacks);
    for t in grid(end).filter(|&t| t >= start) {
        let a_sounds = sounding(a, t).next().is_some();
        let b_sounds = sounding(b, t).next().is_some();
        counts.instants += 1;
        counts.a_sounding += u64::from(a_sounds);
        counts.b_sounding += u64::from(b_sounds);
        counts.both_sounding += u64::from(a_sounds && b_sounds);
    }
    if let Some(beat_s) = beat_s.filter(|&s| s.is_finite() && s > GRID_S) {
        counts.has_beats = true;
        (counts.b_beats, counts.b_busy_beats) = beat_counts(&b_attacks, start, beat_s);
    }
    counts
}

/// The quarter-note tempo (`tempo.quarter_bpm`) of each piece of the manifest under `root`, by
/// piece id; empty without a manifest.
pub fn manifest_tempi(root: &Path) -> Result<BTreeMap<String, f64>, EvalError> {
    #[derive(serde::Deserialize)]
    struct Tempo {
        quarter_bpm: Option<f64>,
    }
    #[derive(serde::Deserialize)]
    struct Piece {
        id: String,
        tempo: Option<Tempo>,
    }
    #[derive(serde::Deserialize)]
    struct Manifest {
        pieces: Vec<Piece>,
    }
    let path = root.join(MANIFEST_FILE);
    if !path.is_file() {
        return Ok(BTreeMap::new());
    }
    let read = |reason: String| EvalError::Invalid(format!("{}: {reason}", path.display()));
    let bytes = std::fs::read(&path).map_err(|e| read(e.to_string()))?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| read(e.to_string()))?;
    Ok(manifest
        .pieces
        .into_iter()
        .filter_map(|p| {
            let bpm = p.tempo?.quarter_bpm?;
            (bpm.is_finite() && bpm > 0.0).then_some((p.id, bpm))
        })
        .collect())
}

/// Where a measurement's beats come from: each piece's tempo by id, else `fallback_bpm` (the
/// tempo of a tempo-synced preset), else none.
#[derive(Debug, Clone, Default)]
pub struct Tempi {
    /// Quarter-note BPM by piece id.
    pub by_piece: BTreeMap<String, f64>,
    /// Quarter-note BPM for the pieces without one.
    pub fallback_bpm: Option<f64>,
}

impl Tempi {
    /// The length of one beat of `piece`, in seconds.
    pub fn beat_s(&self, piece: &str) -> Option<f64> {
        self.by_piece
            .get(piece)
            .copied()
            .or(self.fallback_bpm)
            .map(|bpm| 60.0 / bpm)
    }
}

/// The summed counts of the pairs `selection` picks in the pieces of `set` (only those named
/// in `pieces`, when given). Fails with [`EvalError::MissingNotes`] when a stem has no notes.
pub fn measure_set(
    set: &StemsSet,
    pieces: Option<&[String]>,
    selection: &PairSelection,
    tempi: &Tempi,
) -> Result<CharacterCounts, EvalError> {
    let mut total = CharacterCounts::default();
    for piece in &set.pieces {
        if pieces.is_some_and(|ids| !ids.contains(&piece.id)) {
            continue;
        }
        for pair in piece.pairs(selection) {
            let a = track_notes(piece, &pair.guide)?;
            let b = track_notes(piece, &pair.target)?;
            total += pair_counts(&a, &b, tempi.beat_s(&piece.id));
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(onset_s: f64, offset_s: f64) -> Note {
        Note {
            onset_s,
            offset_s,
            midi_pitch: 60,
        }
    }

    /// A: four quarter notes at 60 BPM from 1.005 s (times off the 20 ms grid, so that no
    /// edge lands on a grid instant). B: a long note 50 ms after A's first, two eighths from
    /// 3.015 s (the first with A's third), a chord of two notes 20 ms apart at 4.505 s.
    fn hand_built() -> (Vec<Note>, Vec<Note>) {
        let a = vec![
            note(1.005, 1.905),
            note(2.005, 2.905),
            note(3.005, 3.905),
            note(4.005, 4.905),
        ];
        let b = vec![
            note(1.055, 2.955),
            note(3.015, 3.505),
            note(3.505, 4.005),
            note(4.505, 5.005),
            note(4.525, 5.005),
        ];
        (a, b)
    }

    #[test]
    fn attacks_merge_chords_and_strums() {
        let (_, b) = hand_built();
        assert_eq!(attacks(&b), vec![1.055, 3.015, 3.505, 4.505]);
    }

    #[test]
    fn one_pair_is_counted_to_the_last_digit() {
        let (a, b) = hand_built();
        let counts = pair_counts(&a, &b, Some(1.0));
        // Span 1.005 .. 5.005: grid instants 1.02, 1.04, …, 5.00.
        assert_eq!(counts.instants, 200);
        // A sounds at 4 × 45 instants (1.02..1.90, …); B at 1.06..2.94 (95), 3.02..4.00 (50)
        // and 4.52..5.00 (25).
        assert_eq!(counts.a_sounding, 180);
        assert_eq!(counts.b_sounding, 170);
        // Both: 1.06..1.90 (43), 2.02..2.90 (45), 3.02..3.90 (45), 4.52..4.90 (20).
        assert_eq!(counts.both_sounding, 153);
        assert_eq!((counts.a_attacks, counts.b_attacks), (4, 4));
        // B at 1.055 (50 ms) and 3.015 (10 ms) lie within 60 ms of A; 3.505 and 4.505 do not.
        assert_eq!(counts.b_with_a, 2);
        assert_eq!(counts.a_with_b, 2);
        // Beat windows from 0.755 s, one second long: B attacks 1, 0, 2 (3.015, 3.505), 1.
        assert_eq!((counts.b_beats, counts.b_busy_beats), (3, 1));
        let c = counts.character();
        assert_eq!(c.pairs, 1);
        assert_eq!(c.seconds, 4.0);
        assert_eq!(c.onset_coincidence, Some(0.5));
        assert_eq!(c.a_onset_coverage, Some(0.5));
        assert_eq!(c.b_onsets_per_s, 1.0);
        assert_eq!(c.a_onsets_per_s, 1.0);
        assert_eq!(c.note_rate_ratio, Some(1.0));
        assert_eq!(c.presence, Some(0.85));
        assert_eq!(c.b_sounding, Some(0.85));
        assert_eq!(c.changes_within_beat, Some(0.333));
        assert_eq!(c.b_beats, 3);
    }

    #[test]
    fn pairs_are_pooled_by_summing_counts() {
        let (a, b) = hand_built();
        // A second pair without a tempo: A holds one note for 10 s, B is silent.
        let mut total = pair_counts(&a, &b, Some(1.0));
        total += pair_counts(&[note(0.005, 10.005)], &[], None);
        let c = total.character();
        assert_eq!(c.pairs, 2);
        assert_eq!(c.seconds, 14.0);
        // 2 of 5 A attacks covered (the mean of the pairs' ratios would say 0.25).
        assert_eq!(c.a_onset_coverage, Some(0.4));
        assert_eq!(c.onset_coincidence, Some(0.5));
        // 4 and 5 attacks in 14 s.
        assert_eq!(c.b_onsets_per_s, 0.29);
        assert_eq!(c.a_onsets_per_s, 0.36);
        assert_eq!(c.note_rate_ratio, Some(0.8));
        // 153 of 180 + 500 instants where A sounds; B sounds at 170 of 200 + 500.
        assert_eq!(c.presence, Some(0.225));
        assert_eq!(c.b_sounding, Some(0.243));
        assert_eq!(c.changes_within_beat, Some(0.333));
    }

    #[test]
    fn without_tempo_or_notes_the_shares_are_none() {
        let (a, b) = hand_built();
        let c = pair_counts(&a, &b, None).character();
        assert_eq!(c.changes_within_beat, None);
        assert_eq!(c.b_beats, 0);
        let empty = pair_counts(&[], &[], Some(0.5)).character();
        assert_eq!(empty.pairs, 1);
        assert_eq!(empty.seconds, 0.0);
        assert_eq!(empty.presence, None);
        assert_eq!(empty.onset_coincidence, None);
        assert_eq!(empty.b_onsets_per_s, 0.0);
    }

    #[test]
    fn tempi_come_from_the_piece_then_the_fallback() {
        let tempi = Tempi {
            by_piece: BTreeMap::from([("p".to_owned(), 120.0)]),
            fallback_bpm: Some(100.0),
        };
        assert_eq!(tempi.beat_s("p"), Some(0.5));
        assert_eq!(tempi.beat_s("q"), Some(0.6));
        assert_eq!(Tempi::default().beat_s("p"), None);
    }
}
