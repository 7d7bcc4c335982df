//! The musician's measures on a guide's time line: harmony, onset sync and rests. Pure
//! functions of notes and audio, so that they can be checked by hand.

use crate::data::stems::Note;

use super::slots::HeardNotes;

/// Step of the time grid the measures sample, in seconds.
pub const GRID_S: f64 = 0.02;
/// How close a companion onset must be to a guide onset to count as in sync, in seconds.
pub const ONSET_TOLERANCE_S: f64 = 0.06;
/// Intervals (semitones modulo 12) counted as consonant: unison and octave, thirds, fifth,
/// sixths. The fourth (5) counts as a dissonance against a lower voice. The same rule as the
/// navigator's harmony.
pub use counterpart_core::perception::CONSONANT_INTERVALS;
/// Shortest silence of the guide that counts as a rest, in seconds.
pub const MIN_REST_S: f64 = 1.0;
/// A rest starts this long after the last guide note's offset (its release and reverb).
pub const REST_DELAY_S: f64 = 0.5;
/// Length of the windows the companion's RMS level is measured in, in seconds.
pub const RMS_WINDOW_S: f64 = 0.05;
/// Level below which the companion counts as silent, in dBFS (RMS).
pub const SILENCE_DBFS: f64 = -60.0;

/// A count of hits among a total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ratio {
    /// Instants or events that count.
    pub hits: u64,
    /// All instants or events considered.
    pub total: u64,
}

impl Ratio {
    /// `hits / total`, or `None` when nothing was considered.
    pub fn value(&self) -> Option<f64> {
        (self.total > 0).then(|| self.hits as f64 / self.total as f64)
    }
}

impl std::ops::AddAssign for Ratio {
    fn add_assign(&mut self, other: Self) {
        self.hits += other.hits;
        self.total += other.total;
    }
}

/// The instants of the grid over `[0, duration_s)`: `k · GRID_S`.
pub fn grid(duration_s: f64) -> impl Iterator<Item = f64> {
    let n = (duration_s / GRID_S).ceil().max(0.0) as usize;
    (0..n)
        .map(|k| k as f64 * GRID_S)
        .filter(move |&t| t < duration_s)
}

/// The pitches of `notes` that sound at `t` (`onset_s ≤ t < offset_s`).
pub fn sounding(notes: &[Note], t: f64) -> impl Iterator<Item = u8> + '_ {
    notes
        .iter()
        .filter(move |n| n.onset_s <= t && t < n.offset_s)
        .map(|n| n.midi_pitch)
}

/// Whether every (guide pitch, companion pitch) pair is consonant (see
/// [`CONSONANT_INTERVALS`]).
pub fn is_consonant(guide: &[u8], companion: &[u8]) -> bool {
    guide.iter().all(|&a| {
        companion
            .iter()
            .all(|&b| CONSONANT_INTERVALS.contains(&(a.abs_diff(b) % 12)))
    })
}

/// Harmony: over the grid instants of `[0, duration_s)` where at least one guide note and one
/// companion note sound, how many are consonant.
pub fn harmony(guide: &[Note], companion: &[Note], duration_s: f64) -> Ratio {
    let mut ratio = Ratio::default();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for t in grid(duration_s) {
        a.clear();
        a.extend(sounding(guide, t));
        b.clear();
        b.extend(sounding(companion, t));
        if a.is_empty() || b.is_empty() {
            continue;
        }
        ratio.total += 1;
        ratio.hits += u64::from(is_consonant(&a, &b));
    }
    ratio
}

/// Onset sync: of the companion's onsets in `[0, duration_s)`, how many lie within
/// [`ONSET_TOLERANCE_S`] of a guide onset.
pub fn onset_sync(guide: &[Note], companion: &HeardNotes, duration_s: f64) -> Ratio {
    let mut guide_onsets: Vec<f64> = guide.iter().map(|n| n.onset_s).collect();
    guide_onsets.sort_by(f64::total_cmp);
    let mut ratio = Ratio::default();
    for &onset in companion
        .onsets
        .iter()
        .filter(|&&t| (0.0..duration_s).contains(&t))
    {
        ratio.total += 1;
        let i = guide_onsets.partition_point(|&g| g < onset);
        let near = [i.checked_sub(1), Some(i)]
            .into_iter()
            .flatten()
            .filter_map(|j| guide_onsets.get(j))
            .any(|&g| (g - onset).abs() <= ONSET_TOLERANCE_S);
        ratio.hits += u64::from(near);
    }
    ratio
}

/// The guide's rests within `[0, duration_s)`: every silence between guide notes (or before the
/// first, or after the last until the end) of at least [`MIN_REST_S`], from
/// [`REST_DELAY_S`] after the last offset (from 0 before the first note) to the next onset.
pub fn guide_rests(guide: &[Note], duration_s: f64) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = guide.iter().map(|n| (n.onset_s, n.offset_s)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rests = Vec::new();
    let mut last_offset: Option<f64> = None;
    let mut push = |from: Option<f64>, to: f64| {
        let silent_from = from.unwrap_or(0.0);
        if to - silent_from >= MIN_REST_S {
            let start = from.map_or(0.0, |f| f + REST_DELAY_S);
            if to > start {
                rests.push((start, to));
            }
        }
    };
    for (on, off) in spans {
        let covered = last_offset.is_some_and(|l| on <= l);
        if !covered {
            push(last_offset, on.min(duration_s));
        }
        last_offset = Some(last_offset.map_or(off, |l| l.max(off)));
    }
    push(last_offset, duration_s);
    rests
}

/// The companion's level in dBFS: RMS of `audio` at `rate` over the [`RMS_WINDOW_S`] window
/// centred on `t` (clipped to the audio; −∞ for digital silence or outside it).
pub fn level_dbfs(audio: &[f32], rate: u32, t: f64) -> f64 {
    let rate = f64::from(rate);
    let half = RMS_WINDOW_S / 2.0;
    let from = (((t - half) * rate).round().max(0.0) as usize).min(audio.len());
    let to = (((t + half) * rate).round().max(0.0) as usize).min(audio.len());
    if to <= from {
        return f64::NEG_INFINITY;
    }
    let power = audio[from..to]
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / (to - from) as f64;
    10.0 * power.log10()
}

/// What the companion does while the guide rests and while it plays.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RestScores {
    /// Total length of the guide's rests, in seconds.
    pub guide_rest_s: f64,
    /// Grid instants of the rests where the companion's audio is below [`SILENCE_DBFS`].
    pub companion_silent: Ratio,
    /// Grid instants where a guide note sounds and the companion's audio is at or above
    /// [`SILENCE_DBFS`].
    pub companion_present_while_guide_sounds: Ratio,
}

impl std::ops::AddAssign for RestScores {
    fn add_assign(&mut self, other: Self) {
        self.guide_rest_s += other.guide_rest_s;
        self.companion_silent += other.companion_silent;
        self.companion_present_while_guide_sounds += other.companion_present_while_guide_sounds;
    }
}

/// The rest measures for the guide's notes and the companion's mono `audio` at `rate`, as heard
/// with the guide (frame 0 sounds with the guide's first frame).
pub fn rests(guide: &[Note], audio: &[f32], rate: u32, duration_s: f64) -> RestScores {
    let spans = guide_rests(guide, duration_s);
    let mut scores = RestScores {
        guide_rest_s: spans.iter().map(|(a, b)| b - a).sum(),
        ..RestScores::default()
    };
    for t in grid(duration_s) {
        let in_rest = spans.iter().any(|&(a, b)| a <= t && t < b);
        let guide_sounds = sounding(guide, t).next().is_some();
        if !in_rest && !guide_sounds {
            continue;
        }
        let loud = level_dbfs(audio, rate, t) >= SILENCE_DBFS;
        if in_rest {
            scores.companion_silent.total += 1;
            scores.companion_silent.hits += u64::from(!loud);
        }
        if guide_sounds {
            scores.companion_present_while_guide_sounds.total += 1;
            scores.companion_present_while_guide_sounds.hits += u64::from(loud);
        }
    }
    scores
}
