//! Onset following: the companion's notes start with the guide's (aligned mode), or with the
//! onsets the guide's pulse predicts (live mode).
//!
//! The decision model picks a label per slot and the navigator a corpus segment with it; this
//! module decides *when* the corpus audio changes. With look-ahead, the guide's onsets in a
//! slot are known before the slot plays, so:
//! * at a slot's first guide onset, the companion jumps to the onset of the corpus note that
//!   sounds through the slot's segment (the note its label describes), so the attack lands on
//!   the guide's; at the slot's later guide onsets it moves on to the recording's next note
//!   once the note playing has had about its own length, so the corpus's own rhythm is kept,
//!   warped onto the guide's onsets;
//! * between guide onsets the corpus note is held: when the recording's next note would start
//!   before the guide's next one, the read head loops back inside the note's sustain, so the
//!   pitch is kept and no attack falls off the guide's time (up to [`MAX_HOLD_S`]);
//! * a slot with no guide onset, whose segment is not the one playing, changes note at its
//!   start by a slur: the read head moves into the note its label describes past the note's
//!   attack ([`ATTACK_S`]), and holds it to the guide's next onset, so the pitch follows the
//!   decision without an attack off the guide's time (entering a note at its segment's start
//!   would bring the recording's own next attack soon after, wherever it falls);
//! * otherwise nothing changes at slot boundaries between onsets: the note playing goes on.
//!
//! The plan is a list of [`Grain`] events in output (host) frames, sent to the scheduler in
//! order. Everything here runs on the worker thread.

use crate::action::{CorpusMemory, SegmentId, ATTACK_S, NEXT_NOTE_S};

/// A corpus onset this close (in seconds) to where the read head already is at a guide onset
/// needs no jump.
const IN_TIME_S: f64 = 0.03;
/// A later guide onset in a slot moves to the recording's next note once the note playing has
/// sounded this share of its own length.
const DUE: f64 = 0.75;
/// A note's next onset this close to the guide's next onset is left to play.
const SYNC_S: f64 = 0.04;
/// The sustain loop ends this long before the next note's attack (the note's release).
const RELEASE_S: f64 = 0.08;
/// The sustain loop starts this far into the note (past its attack), as a share of the note.
const LOOP_START: f64 = 0.3;
/// Shortest sustain loop, in seconds; shorter notes are not held.
const MIN_LOOP_S: f64 = 0.1;
/// Longest hold of one note, in seconds; after it the recording plays on.
pub const MAX_HOLD_S: f64 = 2.0;

/// One change of what the companion plays, at an output frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grain {
    /// Jump to memory frame `memory` (crossfaded, centred on `at`).
    Jump { at: u64, memory: u64 },
    /// The read head enters `segment` contiguously at `at` (the scheduler is told, so it does
    /// not count the boundary as late).
    Continue { at: u64, segment: SegmentId },
}

impl Grain {
    /// When it happens.
    pub(super) fn at(&self) -> u64 {
        match *self {
            Grain::Jump { at, .. } | Grain::Continue { at, .. } => at,
        }
    }
}

/// How a plan brings in the segment the navigator chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry {
    /// At the plan's first guide onset (the note its label describes). With none, at `grid_at`
    /// (the slot's start on the segment grid) by a slur, where another segment plays; a silent
    /// companion comes in there only with `enter` (the guide sounds, but no onset was found).
    Onsets { grid_at: u64, enter: bool },
    /// Right away at `at`: a slur into the note its label describes (an attack, from silence).
    /// The plan's guide onsets then go on as a slot's later onsets do.
    Now { at: u64 },
}

/// Where the read head is: memory frame `memory` sounds at output frame `at`, and the audio
/// runs on contiguously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    at: u64,
    memory: u64,
    /// Memory frame of the note's onset (the last jump target), and the output frame at which
    /// the note started.
    note: u64,
    note_at: u64,
}

impl Head {
    /// Where in the corpus the head reads at host frame `at` (its start, before it starts).
    fn memory_at(&self, at: u64) -> u64 {
        self.memory + at.saturating_sub(self.at)
    }
}

/// Plans the companion's grains from the guide's onsets. Worker thread.
#[derive(Debug)]
pub(super) struct OnsetFollower {
    rate: f64,
    head: Option<Head>,
    /// Output frame up to which grains are planned.
    planned: u64,
    grains: Vec<Grain>,
    /// The head as planned from each output frame on, since the last plan began (for
    /// [`Self::rewind`]).
    trail: Vec<(u64, Option<Head>)>,
}

impl OnsetFollower {
    /// A follower at `rate` Hz with nothing playing.
    pub(super) fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate),
            head: None,
            planned: 0,
            grains: Vec::new(),
            trail: Vec::new(),
        }
    }

    fn frames(&self, seconds: f64) -> u64 {
        (seconds * self.rate).round() as u64
    }

    /// Nothing is planned before output frame `at` (the scheduler has commands up to there).
    pub(super) fn skip_to(&mut self, at: u64) {
        self.planned = self.planned.max(at);
    }

    /// The companion has gone silent (a rest, or a grain played by another path).
    pub(super) fn stop(&mut self) {
        self.head = None;
        self.trail.clear();
    }

    /// Takes back what the last plan has from output frame `at` on (not before that plan's
    /// start): the head is as planned at `at`, and the next plan starts there. The caller drops
    /// the grains planned from `at` on. Returns where the next plan starts.
    pub(super) fn rewind(&mut self, at: u64) -> u64 {
        let Some(&(start, _)) = self.trail.first() else {
            return self.planned;
        };
        let at = at.clamp(start, self.planned.max(start));
        let kept = self
            .trail
            .iter()
            .rposition(|&(from, _)| from < at)
            .unwrap_or(0);
        self.head = self.trail[kept].1;
        self.trail.truncate(kept + 1);
        self.planned = at;
        at
    }

    /// Sets the head, as planned from output frame `at` on.
    fn set_head(&mut self, at: u64, head: Option<Head>) {
        self.head = head;
        self.trail.push((at, head));
    }

    /// Plans output frames `planned()..to` for one slot: `onsets` are the guide's onsets
    /// mapped to output frames (sorted; those outside the span are ignored), `target` the
    /// segment the navigator chose, brought in as `entry` says. Returns the grains, in time
    /// order.
    pub(super) fn plan(
        &mut self,
        corpus: &CorpusMemory,
        to: u64,
        onsets: &[u64],
        target: Option<SegmentId>,
        entry: Entry,
    ) -> &[Grain] {
        self.grains.clear();
        let from = self.planned;
        self.trail.clear();
        self.trail.push((from, self.head));
        let to = to.max(from);
        let mut cursor = from;
        let mut first = true;
        let known = target.and_then(|id| corpus.segment(id)).is_some();
        if let Entry::Now { at } = entry {
            if known && (from..to).contains(&at) {
                self.enter_note(corpus, cursor, at, target);
                cursor = at;
            }
        }
        for onset in onsets.iter().copied().filter(|&o| o >= from && o < to) {
            self.hold(corpus, cursor, onset, true);
            cursor = onset;
            let memory = if first {
                // The note the chosen segment's label describes, unless it already plays.
                self.target_note(corpus, target, onset)
                    .filter(|&note| self.head.is_none_or(|head| head.note != note))
            } else {
                // Later onsets in the slot: the recording's next note, once the one playing
                // has had about its own length.
                self.head.and_then(|head| {
                    let next = self.next_note(corpus, head.note)?;
                    let elapsed = onset.saturating_sub(head.note_at) as f64;
                    (elapsed >= DUE * (next - head.note) as f64).then_some(next)
                })
            };
            first = false;
            if let Some(memory) = memory {
                self.jump(corpus, onset, memory);
            }
        }
        if let Entry::Onsets { grid_at, enter } = entry {
            let change = match self.head {
                Some(_) => self.segment_at(corpus, grid_at) != target,
                None => enter,
            };
            if first && known && change && (from..to).contains(&grid_at) {
                self.enter_note(corpus, cursor, grid_at, target);
                cursor = grid_at;
            }
        }
        self.hold(corpus, cursor, to, false);
        self.planned = to;
        &self.grains
    }

    /// Plays the head on from `cursor` to output frame `at`, then changes into the note
    /// `target`'s label describes there: by a slur where something plays, else by an attack.
    fn enter_note(
        &mut self,
        corpus: &CorpusMemory,
        cursor: u64,
        at: u64,
        target: Option<SegmentId>,
    ) {
        self.hold(corpus, cursor, at, false);
        if let Some(note) = self.target_note(corpus, target, at) {
            if self.head.is_some() {
                self.slur(corpus, at, note);
            } else {
                self.jump(corpus, at, note);
            }
        }
    }

    /// Output frame up to which grains are planned.
    pub(super) fn planned(&self) -> u64 {
        self.planned
    }

    /// The segment the read head is planned to be in at output frame `at`, as the last plan
    /// has it (`None` before that plan, or where nothing plays).
    pub(super) fn segment_planned_at(&self, corpus: &CorpusMemory, at: u64) -> Option<SegmentId> {
        let i = self.trail.iter().rposition(|&(from, _)| from <= at)?;
        let head = self.trail[i].1?;
        corpus.segment_at(head.memory_at(at.max(head.at)))
    }

    /// The segment the read head is in at output frame `at` (planned), for the navigator's
    /// continuity.
    pub(super) fn segment_at(&self, corpus: &CorpusMemory, at: u64) -> Option<SegmentId> {
        let head = self.head?;
        corpus.segment_at(head.memory_at(at.max(head.at)))
    }

    /// The note of `target` that its label describes ([`CorpusMemory::segment_note`]), else
    /// the note after the one playing, else `target`'s start.
    fn target_note(
        &self,
        corpus: &CorpusMemory,
        target: Option<SegmentId>,
        at: u64,
    ) -> Option<u64> {
        let target = target?;
        let segment = corpus.segment(target)?;
        corpus
            .segment_note(target)
            .or_else(|| {
                let head = self.head?;
                self.next_note(corpus, head.memory_at(at.max(head.at)))
            })
            .or(Some(segment.start))
    }

    /// The onset after memory frame `note` in the same recording, within [`NEXT_NOTE_S`].
    fn next_note(&self, corpus: &CorpusMemory, note: u64) -> Option<u64> {
        let segment = corpus.segment(corpus.segment_at(note)?)?;
        let source = corpus.source_frames(segment);
        let until = (note + self.frames(NEXT_NOTE_S)).min(source.end);
        corpus.onset_in(note + 1, until)
    }

    /// Moves the read head to `memory` at output frame `at`, unless it gets there about then
    /// anyway, starting a note there.
    fn jump(&mut self, corpus: &CorpusMemory, at: u64, memory: u64) {
        self.jump_into(corpus, at, memory, memory, at);
    }

    /// [`Self::jump`], in the note whose onset is memory frame `note`, taken to have started
    /// at output frame `note_at`.
    fn jump_into(&mut self, corpus: &CorpusMemory, at: u64, memory: u64, note: u64, note_at: u64) {
        if let Some(head) = self.head {
            let natural = head.memory_at(at.max(head.at));
            if natural.abs_diff(memory) <= self.frames(IN_TIME_S)
                && corpus.segment_at(natural).is_some()
            {
                let head = Head {
                    note,
                    note_at,
                    ..head
                };
                self.set_head(at, Some(head));
                return;
            }
        }
        self.grains.push(Grain::Jump { at, memory });
        let head = Head {
            at,
            memory,
            note,
            note_at,
        };
        self.set_head(at, Some(head));
    }

    /// Moves the read head at output frame `at` into the note whose onset is memory frame
    /// `note`, [`ATTACK_S`] after that onset: the companion changes pitch without an attack,
    /// and [`Self::hold`] then keeps the note until the guide's next onset. Nothing changes when
    /// that note already plays.
    fn slur(&mut self, corpus: &CorpusMemory, at: u64, note: u64) {
        if self.head.is_some_and(|head| head.note == note) {
            return;
        }
        let skip = self.frames(ATTACK_S);
        let (memory, skipped) = if corpus.segment_at(note + skip).is_some() {
            (note + skip, skip)
        } else {
            (note, 0)
        };
        self.jump_into(corpus, at, memory, note, at.saturating_sub(skipped));
    }

    /// Plays the head on from `from` to `until` (a guide onset when `at_onset`, else the end of
    /// the plan), looping inside a note's sustain where the recording's next note would come
    /// before `until`, and telling the scheduler of every segment boundary crossed.
    fn hold(&mut self, corpus: &CorpusMemory, from: u64, until: u64, at_onset: bool) {
        let mut cursor = from;
        // Each pass moves the cursor on to a later onset or loop point, or ends.
        while cursor < until {
            let Some(head) = self.head else { return };
            let cursor_at = cursor.max(head.at);
            let read = head.memory_at(cursor_at);
            let end = head.memory_at(until);
            let Some(segment) = corpus.segment_at(read).and_then(|id| corpus.segment(id)) else {
                self.set_head(cursor_at, None);
                return;
            };
            let source = corpus.source_frames(segment);
            let Some(onset) = corpus.onset_in(read + 1, end.min(source.end)) else {
                self.announce_boundaries(corpus, head, cursor_at, until);
                if end > source.end {
                    // The recording ends: the scheduler fades out.
                    let ends_at = head.at + source.end.saturating_sub(head.memory);
                    self.set_head(ends_at, None);
                }
                return;
            };
            let onset_at = head.at + (onset - head.memory);
            // Close enough to the guide's next onset to sound with it.
            let in_time = at_onset && until.saturating_sub(onset_at) <= self.frames(SYNC_S);
            // A jump that the head was about to make anyway (see `jump`) sets the note a little
            // ahead of the head: the onset found next may then be that note's own.
            let held = onset_at.saturating_sub(head.note_at) <= self.frames(MAX_HOLD_S);
            let body_end = onset.saturating_sub(self.frames(RELEASE_S));
            let body_start =
                head.note + (onset.saturating_sub(head.note) as f64 * LOOP_START).round() as u64;
            let long = body_end >= body_start + self.frames(MIN_LOOP_S);
            if !in_time && held && long && body_end > read {
                let loop_at = head.at + (body_end - head.memory);
                self.announce_boundaries(corpus, head, cursor_at, loop_at);
                self.grains.push(Grain::Jump {
                    at: loop_at,
                    memory: body_start,
                });
                let head = Head {
                    at: loop_at,
                    memory: body_start,
                    ..head
                };
                self.set_head(loop_at, Some(head));
                cursor = loop_at;
            } else {
                // The recording's next note plays.
                self.announce_boundaries(corpus, head, cursor_at, onset_at);
                let head = Head {
                    note: onset,
                    note_at: onset_at,
                    ..head
                };
                self.set_head(onset_at, Some(head));
                cursor = onset_at;
            }
        }
    }

    /// Adds a [`Grain::Continue`] for every segment the head enters in output frames
    /// `from..until`.
    fn announce_boundaries(&mut self, corpus: &CorpusMemory, head: Head, from: u64, until: u64) {
        let Some(mut id) = corpus.segment_at(head.memory_at(from)) else {
            return;
        };
        let end = head.memory_at(until);
        while let Some(segment) = corpus.segment(id) {
            if segment.end > end {
                return;
            }
            let Some(next) = corpus.successor(id) else {
                return;
            };
            self.grains.push(Grain::Continue {
                at: head.at + (segment.end - head.memory),
                segment: next,
            });
            id = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::SourceRecording;

    const RATE: u32 = 22_050;
    /// Where the corpus recording's notes start, in seconds (legato: no silence between).
    const NOTES: [f64; 7] = [0.05, 0.6, 1.1, 1.6, 2.3, 3.0, 3.5];

    fn seconds(s: f64) -> u64 {
        (s * f64::from(RATE)).round() as u64
    }

    /// A 4 s recording of a harmonic tone changing pitch at [`NOTES`], cut in 0.5 s segments.
    fn corpus() -> CorpusMemory {
        let n = seconds(4.0) as usize;
        let mut audio = vec![0.0f32; n];
        let mut phase = 0.0f32;
        for (i, sample) in audio.iter_mut().enumerate() {
            let t = i as f64 / f64::from(RATE);
            let Some(k) = NOTES.iter().rposition(|&o| o <= t) else {
                continue;
            };
            let since = (t - NOTES[k]) as f32;
            phase += std::f32::consts::TAU * (110.0 * 1.12f32.powi(k as i32)) / RATE as f32;
            let fade = ((4.0 - t) / 0.2).min(1.0) as f32;
            *sample = 0.3 * fade * (0.3 + 0.7 * (-since * 8.0).exp()) * phase.sin();
        }
        let boundaries: Vec<u64> = (0..=8).map(|k| seconds(0.5 * k as f64)).collect();
        CorpusMemory::build(
            RATE,
            vec![SourceRecording {
                name: "notes".into(),
                sample_rate: RATE,
                channels: vec![audio],
                labels: (0..8).collect(),
                boundaries,
            }],
        )
        .unwrap()
    }

    /// The memory frames each stretch of the plan reads, from `from` to `to`: (output start,
    /// memory start, length).
    fn stretches(grains: &[Grain], head: (u64, u64), to: u64) -> Vec<(u64, u64, u64)> {
        let mut out = Vec::new();
        let (mut at, mut memory) = head;
        for grain in grains {
            if let Grain::Jump {
                at: next,
                memory: m,
            } = *grain
            {
                out.push((at, memory, next - at));
                (at, memory) = (next, m);
            }
        }
        out.push((at, memory, to - at));
        out
    }

    #[test]
    fn the_corpus_notes_are_found() {
        let corpus = corpus();
        let found = corpus.onsets();
        assert_eq!(found.len(), NOTES.len(), "{found:?}");
        for (&f, &o) in found.iter().zip(&NOTES) {
            assert!(f.abs_diff(seconds(o)) < seconds(0.03), "{f} for {o} s");
        }
    }

    #[test]
    fn notes_start_on_guide_onsets_and_are_held_until_the_next() {
        let corpus = corpus();
        let mut follower = OnsetFollower::new(RATE);
        let start = seconds(10.0);
        follower.skip_to(start);
        // Guide onsets 0.1 s and 1.3 s into the slot's span; segment 2 (1.0–1.5 s) is chosen:
        // its label describes the note sounding at 1.325 s, which starts at 1.1 s.
        let onsets = [start + seconds(0.1), start + seconds(1.3)];
        let to = start + seconds(2.0);
        let grains = follower
            .plan(
                &corpus,
                to,
                &onsets,
                Some(SegmentId(2)),
                Entry::Onsets {
                    grid_at: start,
                    enter: true,
                },
            )
            .to_vec();
        let Grain::Jump { at, memory } = grains[0] else {
            panic!("the plan starts with {:?}", grains[0]);
        };
        assert_eq!(at, onsets[0]);
        assert_eq!(memory, corpus.onsets()[2]);
        // Whatever is read between the guide's onsets holds no other attack: the 0.5 s note is
        // held (looped in its sustain) for the 1.2 s until the next guide onset.
        let note_onsets = corpus.onsets();
        for (at, memory, len) in stretches(&grains[1..], (at, memory), to) {
            for &onset in note_onsets {
                if onset > memory && onset < memory + len {
                    let sounds_at = at + (onset - memory);
                    let near = onsets
                        .iter()
                        .any(|&o| o.abs_diff(sounds_at) <= seconds(SYNC_S));
                    assert!(
                        near,
                        "corpus onset {onset} sounds at {sounds_at}, off the guide"
                    );
                }
            }
        }
        // The second guide onset moves on to the recording's next note (its length is due).
        assert!(grains.iter().any(|g| *g
            == Grain::Jump {
                at: onsets[1],
                memory: note_onsets[3]
            }));
    }

    #[test]
    fn a_slot_without_onsets_slurs_into_its_note_on_the_grid_and_boundaries_are_announced() {
        let corpus = corpus();
        let mut follower = OnsetFollower::new(RATE);
        let start = seconds(5.0);
        follower.skip_to(start);
        let first = follower
            .plan(
                &corpus,
                start + seconds(0.5),
                &[start],
                Some(SegmentId(0)),
                Entry::Onsets {
                    grid_at: start,
                    enter: true,
                },
            )
            .to_vec();
        assert_eq!(
            first[0],
            Grain::Jump {
                at: start,
                memory: corpus.onsets()[0]
            }
        );
        // No guide onset in the next span: the chosen segment 3's note (the recording's note at
        // 1.6 s) comes in at the grid position, past its attack.
        let grid = start + seconds(0.7);
        let second = follower
            .plan(
                &corpus,
                grid + seconds(0.6),
                &[],
                Some(SegmentId(3)),
                Entry::Onsets {
                    grid_at: grid,
                    enter: true,
                },
            )
            .to_vec();
        let note = corpus.onset_in(seconds(1.5), seconds(2.0)).unwrap();
        assert!(note.abs_diff(seconds(1.6)) <= seconds(0.03));
        let entered = note + seconds(ATTACK_S);
        assert!(second.contains(&Grain::Jump {
            at: grid,
            memory: entered
        }));
        // Reading on from there, the head enters segment 4 at its start, and the recording's
        // next note (2.3 s) does not come within the span.
        assert!(second.contains(&Grain::Continue {
            at: grid + (corpus.segments()[4].start - entered),
            segment: SegmentId(4)
        }));
        assert_eq!(
            second
                .iter()
                .filter(|g| matches!(g, Grain::Jump { .. }))
                .count(),
            1
        );
        assert!(second.windows(2).all(|w| w[0].at() <= w[1].at()));
    }

    #[test]
    fn a_silent_companion_enters_only_when_asked() {
        let corpus = corpus();
        let mut follower = OnsetFollower::new(RATE);
        assert!(follower
            .plan(
                &corpus,
                seconds(1.0),
                &[],
                Some(SegmentId(1)),
                Entry::Onsets {
                    grid_at: 0,
                    enter: false
                }
            )
            .is_empty());
        let grains = follower
            .plan(
                &corpus,
                seconds(2.0),
                &[],
                Some(SegmentId(1)),
                Entry::Onsets {
                    grid_at: seconds(1.0),
                    enter: true,
                },
            )
            .to_vec();
        assert_eq!(
            grains[0],
            Grain::Jump {
                at: seconds(1.0),
                memory: corpus.onsets()[1]
            }
        );
    }
}
