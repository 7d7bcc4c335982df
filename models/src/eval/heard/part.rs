//! The part measures: whether the companion plays the companion's part rather than shadowing the
//! guide. Its onsets against the true part's (part F1), its pitches against the chord the other
//! pitched stems sound (chord tone), how many notes it starts (note rate) and how much of the
//! guide's sounding time it fills (presence). Pure functions of notes, checked by hand in the
//! tests.

use crate::data::stems::Note;

use super::scores::{grid, sounding, Ratio, ONSET_TOLERANCE_S};
use super::slots::HeardNotes;

/// Stems whose notes are not pitches (General MIDI percussion keys): never part of the chord
/// the companion is checked against.
pub const UNPITCHED_STEMS: &[&str] = &["drums"];

/// Part F1's counts: the companion's onsets matched one to one with the true part's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OnsetMatch {
    /// Pairs of a companion onset and a true onset within [`ONSET_TOLERANCE_S`], each onset in
    /// at most one pair.
    pub matched: u64,
    /// The companion's onsets.
    pub companion: u64,
    /// The true part's onsets.
    pub truth: u64,
}

impl OnsetMatch {
    /// `2 · matched / (companion + truth)`: the F1 of precision `matched / companion` and recall
    /// `matched / truth`; `None` when neither has an onset.
    pub fn f1(&self) -> Option<f64> {
        self.as_ratio().value()
    }

    /// The F1 as a [`Ratio`] (`2 · matched` of `companion + truth`), which pools by summing.
    pub fn as_ratio(&self) -> Ratio {
        Ratio {
            hits: 2 * self.matched,
            total: self.companion + self.truth,
        }
    }
}

impl std::ops::AddAssign for OnsetMatch {
    fn add_assign(&mut self, other: Self) {
        self.matched += other.matched;
        self.companion += other.companion;
        self.truth += other.truth;
    }
}

/// Onsets per second.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NoteRate {
    /// Onsets counted.
    pub onsets: u64,
    /// Over this many seconds.
    pub seconds: f64,
}

impl NoteRate {
    /// `onsets / seconds`, or `None` over no time.
    pub fn value(&self) -> Option<f64> {
        (self.seconds > 0.0).then(|| self.onsets as f64 / self.seconds)
    }
}

impl std::ops::AddAssign for NoteRate {
    fn add_assign(&mut self, other: Self) {
        self.onsets += other.onsets;
        self.seconds += other.seconds;
    }
}

/// The onsets of `notes` that fall in `[0, duration_s)`, sorted.
fn onsets_within(notes: &HeardNotes, duration_s: f64) -> Vec<f64> {
    let mut onsets: Vec<f64> = notes
        .onsets
        .iter()
        .copied()
        .filter(|t| (0.0..duration_s).contains(t))
        .collect();
    onsets.sort_by(f64::total_cmp);
    onsets
}

/// Part F1's counts: the onsets of `companion` and of `truth` in `[0, duration_s)` matched one
/// to one, a pair when they lie within [`ONSET_TOLERANCE_S`] of each other. The matching walks
/// both sorted lists and pairs the earliest onsets that can be paired, which pairs as many as
/// any one-to-one matching can.
pub fn part_match(truth: &HeardNotes, companion: &HeardNotes, duration_s: f64) -> OnsetMatch {
    let (t, c) = (
        onsets_within(truth, duration_s),
        onsets_within(companion, duration_s),
    );
    let (mut i, mut j, mut matched) = (0, 0, 0);
    while i < c.len() && j < t.len() {
        if c[i] - t[j] > ONSET_TOLERANCE_S {
            j += 1;
        } else if t[j] - c[i] > ONSET_TOLERANCE_S {
            i += 1;
        } else {
            matched += 1;
            i += 1;
            j += 1;
        }
    }
    OnsetMatch {
        matched,
        companion: c.len() as u64,
        truth: t.len() as u64,
    }
}

/// The pitch classes of the notes sounding at `t`, one bit each.
fn pitch_classes(notes: &[Note], t: f64) -> u16 {
    sounding(notes, t).fold(0, |set, p| set | 1 << (p % 12))
}

/// Chord tone: over the grid instants of `[0, duration_s)` where a `companion` note sounds and a
/// note of the other pitched stems (`others`) sounds, how many have every pitch class the
/// companion sounds among the pitch classes the others sound.
pub fn chord_tone(others: &[Note], companion: &[Note], duration_s: f64) -> Ratio {
    let mut ratio = Ratio::default();
    for t in grid(duration_s) {
        let b = pitch_classes(companion, t);
        let chord = pitch_classes(others, t);
        if b == 0 || chord == 0 {
            continue;
        }
        ratio.total += 1;
        ratio.hits += u64::from(b & !chord == 0);
    }
    ratio
}

/// Note rate: the onsets of `companion` in `[0, duration_s)` over `duration_s`.
pub fn note_rate(companion: &HeardNotes, duration_s: f64) -> NoteRate {
    NoteRate {
        onsets: onsets_within(companion, duration_s).len() as u64,
        seconds: duration_s.max(0.0),
    }
}

/// Presence: of the grid instants of `[0, duration_s)` where a guide note sounds, how many have
/// a `companion` note sounding.
pub fn presence(guide: &[Note], companion: &[Note], duration_s: f64) -> Ratio {
    let mut ratio = Ratio::default();
    for t in grid(duration_s) {
        if sounding(guide, t).next().is_none() {
            continue;
        }
        ratio.total += 1;
        ratio.hits += u64::from(sounding(companion, t).next().is_some());
    }
    ratio
}

/// What a companion is measured against: the guide's notes, the true part's, the other pitched
/// stems' (every stem of the piece but the guide's, the target's and [`UNPITCHED_STEMS`]), and
/// the guide's length.
#[derive(Debug, Clone, Copy)]
pub struct PartContext<'a> {
    /// The guide's notes.
    pub guide: &'a [Note],
    /// The true companion part.
    pub truth: &'a HeardNotes,
    /// The other pitched stems' notes, merged.
    pub others: &'a [Note],
    /// Length of the guide, in seconds.
    pub duration_s: f64,
}

/// The part measures of one companion.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PartScores {
    /// Its onsets against the true part's ([`part_match`]).
    pub part: OnsetMatch,
    /// Its pitches against the other stems' ([`chord_tone`]).
    pub chord_tone: Ratio,
    /// Its onsets per second ([`note_rate`]).
    pub note_rate: NoteRate,
    /// Its share of the guide's sounding time ([`presence`]).
    pub presence: Ratio,
}

impl PartScores {
    /// The part measures of `companion` (as heard) in `context`.
    pub fn measure(context: &PartContext<'_>, companion: &HeardNotes) -> Self {
        let d = context.duration_s;
        Self {
            part: part_match(context.truth, companion, d),
            chord_tone: chord_tone(context.others, &companion.notes, d),
            note_rate: note_rate(companion, d),
            presence: presence(context.guide, &companion.notes, d),
        }
    }
}

impl std::ops::AddAssign for PartScores {
    fn add_assign(&mut self, other: Self) {
        self.part += other.part;
        self.chord_tone += other.chord_tone;
        self.note_rate += other.note_rate;
        self.presence += other.presence;
    }
}
