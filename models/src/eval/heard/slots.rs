//! The companion as the plugin's user hears it: the engine's played slots placed on the guide's
//! time line (shifted back by the latency the plugin reports), and the notes they sound.

use counterpart_core::engine::PlayedSlot;
use counterpart_core::preset::Preset;

use crate::data::stems::Note;

use super::notes::CorpusNotes;
use crate::eval::EvalError;

/// Where a slot's audio comes from: a corpus file and a time in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotSource {
    /// Index of the corpus file (in the preset's order, as in [`CorpusNotes`]).
    pub file: usize,
    /// Source time, in seconds, played at the slot's start.
    pub start_s: f64,
}

/// One companion segment on the engine's output time line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// Output time at which it starts, in seconds.
    pub start_s: f64,
    /// How long it plays, in seconds: until the next slot starts (the last one: its segment's
    /// length).
    pub len_s: f64,
    /// What it plays; `None` for silence.
    pub source: Option<SlotSource>,
}

/// The seconds by which the companion is shifted back to be heard with the guide: the latency
/// the plugin reports (`latency_samples` at `rate`), which a host compensates. Live mode reports
/// 0, so nothing is shifted; aligned mode reports one and a half segments plus the worker margin.
pub fn latency_shift_s(latency_samples: u32, rate: u32) -> f64 {
    f64::from(latency_samples) / f64::from(rate)
}

/// The engine's played slots on its output time line at `rate`, with their corpus files
/// resolved against `corpus`. A slot plays until the next one starts; the last one plays its
/// segment's length.
pub fn slots_from_played(
    played: &[PlayedSlot],
    rate: u32,
    corpus: &CorpusNotes,
) -> Result<Vec<Slot>, EvalError> {
    let rate = f64::from(rate);
    let mut slots = Vec::with_capacity(played.len());
    for (i, p) in played.iter().enumerate() {
        let start_s = p.at as f64 / rate;
        let source = match &p.origin {
            Some(origin) => Some(SlotSource {
                file: corpus.index(&origin.file).ok_or_else(|| {
                    EvalError::Invalid(format!(
                        "the engine played corpus file `{}`, which the preset's corpus does not \
                         list",
                        origin.file
                    ))
                })?,
                start_s: origin.start_seconds,
            }),
            None => None,
        };
        let len_s = match (played.get(i + 1), &p.origin) {
            (Some(next), _) => next.at.saturating_sub(p.at) as f64 / rate,
            (None, Some(origin)) => origin.end_seconds - origin.start_seconds,
            (None, None) => 0.0,
        };
        slots.push(Slot {
            start_s,
            len_s,
            source,
        });
    }
    Ok(slots)
}

/// Where every segment of a preset's corpus starts (for the random reference).
pub fn corpus_segments(preset: &Preset) -> Vec<SlotSource> {
    preset
        .corpus
        .iter()
        .enumerate()
        .flat_map(|(file, f)| {
            let rate = f64::from(f.sample_rate.max(1));
            f.segments.iter().map(move |s| SlotSource {
                file,
                start_s: s.start as f64 / rate,
            })
        })
        .collect()
}

/// What a companion sounds on the guide's time line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeardNotes {
    /// The notes, cut to the spans their slots play, in guide time.
    pub notes: Vec<Note>,
    /// The note onsets that fall inside the span their slot plays, in guide time, sorted.
    pub onsets: Vec<f64>,
}

impl HeardNotes {
    /// A track's own notes (the true companion): every onset counts.
    pub fn from_notes(notes: &[Note]) -> Self {
        let mut onsets: Vec<f64> = notes.iter().map(|n| n.onset_s).collect();
        onsets.sort_by(f64::total_cmp);
        Self {
            notes: notes.to_vec(),
            onsets,
        }
    }
}

/// The notes `slots` sound, heard `shift_s` earlier than the engine's output time (the
/// latency a host compensates). A slot that starts at output time `s` and plays file `f` from
/// source time `u` sounds, at guide time `t`, the notes of `f` that sound at
/// `u + (t + shift − s)`, for `s ≤ t + shift < s + len`.
pub fn heard_notes(slots: &[Slot], corpus: &CorpusNotes, shift_s: f64) -> HeardNotes {
    let mut out = HeardNotes::default();
    for slot in slots {
        let Some(source) = slot.source else { continue };
        let Some(notes) = corpus.notes.get(source.file) else {
            continue;
        };
        let (u0, u1) = (source.start_s, source.start_s + slot.len_s);
        let to_guide = |u: f64| slot.start_s + (u - source.start_s) - shift_s;
        for n in notes {
            let (on, off) = (n.onset_s.max(u0), n.offset_s.min(u1));
            if on >= off {
                continue;
            }
            out.notes.push(Note {
                onset_s: to_guide(on),
                offset_s: to_guide(off),
                midi_pitch: n.midi_pitch,
            });
            if n.onset_s >= u0 {
                out.onsets.push(to_guide(n.onset_s));
            }
        }
    }
    out.notes.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));
    out.onsets.sort_by(f64::total_cmp);
    out
}
