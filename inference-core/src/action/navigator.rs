//! The navigator (worker thread): Dicy2's continuity-aware choice of a corpus segment for a label.
//!
//! For each slot the decision module predicts a label; the navigator answers with a corpus
//! segment that carries it:
//! 1. the direct successor of the segment just played, when it has the label (with probability
//!    set by the continuity knob), which plays contiguous corpus audio;
//! 2. otherwise the segments whose preceding labels share the longest common suffix with the
//!    recently predicted labels (the context a factor oracle's suffix links capture), with a
//!    seeded uniform tie-break;
//! 3. when no segment has the label, the [`MissingLabelPolicy`]: the nearest present label by
//!    codebook distance, or silence. Each such event is counted.
//!
//! When the guide's notes are known ([`Navigator::decide_hearing`]), the candidates are first
//! narrowed to those whose note sounds about as consonant with them as the best candidate's
//! (within [`HARMONY_TOLERANCE`]; see [`Pitches::consonance`]): a label stands for a kind of
//! sound, and its segments hold different notes, so the label comes from the decision model
//! and the note, among the label's, from what the guide plays. The successor is taken only
//! when it is among them.

use std::collections::VecDeque;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::corpus::{CorpusMemory, Label, SegmentId};
use super::label_distance::LabelDistances;
use crate::perception::Pitches;

/// How much less consonant with the guide (see [`Pitches::consonance`]) than the best
/// candidate a segment may be and still be chosen.
pub const HARMONY_TOLERANCE: f32 = 0.1;
/// The consonance counted for a segment whose note is unknown (silence, noise).
const UNKNOWN_CONSONANCE: f32 = 0.5;

/// What to do when the corpus has no (playable) segment with the requested label.
#[derive(Debug, Clone, PartialEq)]
pub enum MissingLabelPolicy {
    /// Play the present label nearest to the requested one.
    NearestLabel(LabelDistances),
    /// Play nothing for this slot (Dicy2's behaviour).
    Silence,
}

/// Navigator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NavigatorConfig {
    /// Probability, in `[0, 1]`, of taking the direct successor when it carries the label:
    /// 1 always continues (Dicy2), 0 always jumps when another candidate exists.
    pub continuity: f32,
    /// Never pick the segment that was just played, so no segment loops on itself.
    pub no_immediate_repeat: bool,
    /// What to do with labels the corpus lacks.
    pub missing_label: MissingLabelPolicy,
    /// Longest label context compared when jumping, in segments.
    pub context: usize,
    /// Seed of the tie-breaking random generator.
    pub seed: u64,
}

impl Default for NavigatorConfig {
    fn default() -> Self {
        Self {
            continuity: 1.0,
            no_immediate_repeat: true,
            missing_label: MissingLabelPolicy::Silence,
            context: 32,
            seed: 0,
        }
    }
}

/// Why the navigator could not be built or could not decide.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NavigatorError {
    /// The continuity is outside `[0, 1]` or not a number.
    #[error("continuity must be in [0, 1], got {0}")]
    Continuity(f32),
    /// The context length is zero.
    #[error("the label context must be at least one segment long")]
    Context,
    /// A corpus label is not covered by the label-distance table.
    #[error("corpus label {label} is outside the {labels}-label distance table")]
    CorpusLabelOutsideTable {
        /// The label.
        label: Label,
        /// Number of labels in the table.
        labels: usize,
    },
    /// A requested label is not covered by the label-distance table.
    #[error("label {label} is outside the {labels}-label distance table")]
    LabelOutsideTable {
        /// The label.
        label: Label,
        /// Number of labels in the table.
        labels: usize,
    },
}

/// How a segment was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The direct successor of the segment just played.
    Successor,
    /// A jump to a segment whose preceding labels match the recent predictions over `suffix`
    /// labels (the label itself included), chosen among `ties` equally good candidates.
    Jump {
        /// Length of the common label suffix.
        suffix: usize,
        /// Number of candidates sharing that suffix length.
        ties: usize,
    },
    /// Nothing to play.
    Silence,
}

/// The navigator's answer for one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The label the decision module asked for.
    pub requested: Label,
    /// The label actually played: differs from `requested` after a substitution.
    pub played: Option<Label>,
    /// The chosen segment, or `None` for silence.
    pub segment: Option<SegmentId>,
    /// How it was chosen.
    pub route: Route,
}

/// Counts of navigation events since the navigator was built or reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NavigatorStats {
    /// Decisions taken.
    pub decisions: u64,
    /// Decisions that continued with the direct successor.
    pub successors: u64,
    /// Decisions that jumped.
    pub jumps: u64,
    /// Decisions where no segment had the requested label.
    pub missing_labels: u64,
    /// Decisions where the only segment with the label was the one just played.
    pub repeats_avoided: u64,
    /// Decisions that ended in silence.
    pub silences: u64,
}

/// Chooses corpus segments for predicted labels. Lives on the worker thread.
#[derive(Debug)]
pub struct Navigator {
    corpus: Arc<CorpusMemory>,
    config: NavigatorConfig,
    rng: ChaCha8Rng,
    history: VecDeque<Label>,
    last: Option<SegmentId>,
    stats: NavigatorStats,
    ties: Vec<SegmentId>,
}

impl Navigator {
    /// A navigator over `corpus`.
    pub fn new(corpus: Arc<CorpusMemory>, config: NavigatorConfig) -> Result<Self, NavigatorError> {
        check_config(&config)?;
        check_table(&corpus, &config.missing_label)?;
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            history: VecDeque::with_capacity(config.context),
            ties: Vec::with_capacity(corpus.segment_count()),
            corpus,
            config,
            last: None,
            stats: NavigatorStats::default(),
        })
    }

    /// The corpus navigated.
    pub fn corpus(&self) -> &Arc<CorpusMemory> {
        &self.corpus
    }

    /// The current settings.
    pub fn config(&self) -> &NavigatorConfig {
        &self.config
    }

    /// Event counts since the last reset.
    pub fn stats(&self) -> NavigatorStats {
        self.stats
    }

    /// The segment the navigator believes was played last.
    pub fn last_played(&self) -> Option<SegmentId> {
        self.last
    }

    /// Sets how strongly the direct successor is preferred, in `[0, 1]`.
    pub fn set_continuity(&mut self, continuity: f32) -> Result<(), NavigatorError> {
        if !(0.0..=1.0).contains(&continuity) {
            return Err(NavigatorError::Continuity(continuity));
        }
        self.config.continuity = continuity;
        Ok(())
    }

    /// Turns the no-immediate-repeat rule on or off.
    pub fn set_no_immediate_repeat(&mut self, enabled: bool) {
        self.config.no_immediate_repeat = enabled;
    }

    /// Switches to a new corpus (and policy), forgetting the play history.
    pub fn set_corpus(
        &mut self,
        corpus: Arc<CorpusMemory>,
        missing_label: MissingLabelPolicy,
    ) -> Result<(), NavigatorError> {
        check_table(&corpus, &missing_label)?;
        self.corpus = corpus;
        self.config.missing_label = missing_label;
        self.last = None;
        self.history.clear();
        Ok(())
    }

    /// Forgets the history and counts and restarts the random generator from `seed`.
    pub fn reset(&mut self, seed: u64) {
        self.config.seed = seed;
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self.history.clear();
        self.last = None;
        self.stats = NavigatorStats::default();
    }

    /// Tells the navigator what was really played, e.g. when the scheduler fell back to a
    /// successor because a decision came late.
    pub fn observe_played(&mut self, segment: Option<SegmentId>) {
        self.last = segment.filter(|id| id.index() < self.corpus.segment_count());
    }

    /// Chooses the segment for the next slot, whose predicted label is `label`, without
    /// knowing what the guide plays.
    pub fn decide(&mut self, label: Label) -> Result<Decision, NavigatorError> {
        self.decide_hearing(label, None)
    }

    /// Whether `segment` sounds about as consonant with the `guide`'s notes as the best of
    /// the segments with its label (always, when either's notes are unknown).
    pub fn fits(&self, segment: SegmentId, guide: Option<&Pitches>) -> bool {
        let (Some(guide), Some(label)) = (guide, self.corpus.segment(segment).map(|s| s.label))
        else {
            return true;
        };
        let floor = self.harmony_floor(self.corpus.segments_with_label(label).iter(), guide);
        self.consonance(segment, guide) >= floor
    }

    /// The least consonance with `guide` a segment among `candidates` may have and still be
    /// chosen: the best one's, less [`HARMONY_TOLERANCE`].
    fn harmony_floor<'a>(
        &self,
        candidates: impl Iterator<Item = &'a SegmentId>,
        guide: &Pitches,
    ) -> f32 {
        candidates
            .map(|&id| self.consonance(id, guide))
            .fold(0.0, f32::max)
            - HARMONY_TOLERANCE
    }

    fn consonance(&self, segment: SegmentId, guide: &Pitches) -> f32 {
        self.corpus
            .segment_pitches(segment)
            .map_or(UNKNOWN_CONSONANCE, |pitches| pitches.consonance(guide))
    }

    /// Chooses again for the slot decided last, whose label is now `label` (the same, or a
    /// revised one), hearing the `guide`'s notes: as [`Self::decide_hearing`], with `label` in
    /// the place of the last decision's in the label context.
    pub fn decide_again(
        &mut self,
        label: Label,
        guide: Option<&Pitches>,
    ) -> Result<Decision, NavigatorError> {
        self.history.pop_back();
        self.decide_hearing(label, guide)
    }

    /// [`Self::decide`], preferring the segments whose note is consonant with the `guide`'s
    /// notes, when they are known.
    pub fn decide_hearing(
        &mut self,
        label: Label,
        guide: Option<&Pitches>,
    ) -> Result<Decision, NavigatorError> {
        if let MissingLabelPolicy::NearestLabel(table) = &self.config.missing_label {
            if label as usize >= table.label_count() {
                return Err(NavigatorError::LabelOutsideTable {
                    label,
                    labels: table.label_count(),
                });
            }
        }
        self.stats.decisions += 1;
        let played = self.playable_label(label);
        let (segment, route) = match played {
            Some(played) => {
                let (segment, route) = self.choose(played, guide);
                (Some(segment), route)
            }
            None => {
                self.stats.silences += 1;
                (None, Route::Silence)
            }
        };
        match route {
            Route::Successor => self.stats.successors += 1,
            Route::Jump { .. } => self.stats.jumps += 1,
            Route::Silence => {}
        }
        if self.history.len() == self.config.context {
            self.history.pop_front();
        }
        self.history.push_back(label);
        self.last = segment;
        Ok(Decision {
            requested: label,
            played,
            segment,
            route,
        })
    }

    /// The label to play for `label`: itself when some segment other than an excluded repeat
    /// carries it, otherwise what the missing-label policy gives.
    fn playable_label(&mut self, label: Label) -> Option<Label> {
        let has_candidate = |navigator: &Self, label: Label| {
            navigator
                .corpus
                .segments_with_label(label)
                .iter()
                .any(|&id| !navigator.excluded(id))
        };
        if has_candidate(self, label) {
            return Some(label);
        }
        if self.corpus.segments_with_label(label).is_empty() {
            self.stats.missing_labels += 1;
        } else {
            self.stats.repeats_avoided += 1;
        }
        match &self.config.missing_label {
            MissingLabelPolicy::Silence => None,
            MissingLabelPolicy::NearestLabel(table) => {
                table.nearest(label, |other| has_candidate(self, other))
            }
        }
    }

    fn excluded(&self, id: SegmentId) -> bool {
        self.config.no_immediate_repeat && self.last == Some(id)
    }

    /// Picks a segment carrying `label`, which has at least one non-excluded candidate, among
    /// those about as consonant with the `guide` as the best.
    fn choose(&mut self, label: Label, guide: Option<&Pitches>) -> (SegmentId, Route) {
        let corpus = Arc::clone(&self.corpus);
        let candidates = corpus.segments_with_label(label);
        let floor = guide.map_or(f32::MIN, |guide| {
            self.harmony_floor(candidates.iter().filter(|&&id| !self.excluded(id)), guide)
        });
        let fits = |navigator: &Self, id: SegmentId| {
            guide.is_none_or(|guide| navigator.consonance(id, guide) >= floor)
        };
        let successor = self
            .last
            .and_then(|last| corpus.successor(last))
            .filter(|&next| corpus.segments()[next.index()].label == label)
            .filter(|&next| fits(self, next));
        if let Some(next) = successor {
            let continuity = self.config.continuity;
            let take =
                continuity >= 1.0 || (continuity > 0.0 && self.rng.random::<f32>() < continuity);
            if take
                || candidates
                    .iter()
                    .all(|&id| id == next || self.excluded(id) || !fits(self, id))
            {
                return (next, Route::Successor);
            }
        }
        let mut best = 0;
        self.ties.clear();
        for &candidate in candidates {
            if self.excluded(candidate) || Some(candidate) == successor || !fits(self, candidate) {
                continue;
            }
            let suffix = 1 + self.context_match(&corpus, candidate);
            if suffix > best {
                best = suffix;
                self.ties.clear();
            }
            if suffix == best {
                self.ties.push(candidate);
            }
        }
        let pick = self.ties[self.rng.random_range(0..self.ties.len())];
        (
            pick,
            Route::Jump {
                suffix: best,
                ties: self.ties.len(),
            },
        )
    }

    /// How many of the most recent predicted labels equal the labels of the segments that
    /// precede `candidate` in its recording, newest first.
    fn context_match(&self, corpus: &CorpusMemory, candidate: SegmentId) -> usize {
        let mut matched = 0;
        let mut cursor = corpus.predecessor(candidate);
        for &predicted in self.history.iter().rev() {
            match cursor {
                Some(id) if corpus.segments()[id.index()].label == predicted => {
                    matched += 1;
                    cursor = corpus.predecessor(id);
                }
                _ => break,
            }
        }
        matched
    }
}

fn check_config(config: &NavigatorConfig) -> Result<(), NavigatorError> {
    if !(0.0..=1.0).contains(&config.continuity) {
        return Err(NavigatorError::Continuity(config.continuity));
    }
    if config.context == 0 {
        return Err(NavigatorError::Context);
    }
    Ok(())
}

fn check_table(corpus: &CorpusMemory, policy: &MissingLabelPolicy) -> Result<(), NavigatorError> {
    if let MissingLabelPolicy::NearestLabel(table) = policy {
        if let Some(label) = corpus.labels().find(|&l| l as usize >= table.label_count()) {
            return Err(NavigatorError::CorpusLabelOutsideTable {
                label,
                labels: table.label_count(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::corpus::SourceRecording;

    /// A corpus with one 100-frame segment per label in `labels`.
    fn corpus(labels: &[Label]) -> Arc<CorpusMemory> {
        let frames = labels.len() * 100;
        let audio = (0..frames)
            .map(|n| ((n as f32) * 0.05).sin() * 0.5)
            .collect();
        Arc::new(
            CorpusMemory::build(
                48_000,
                vec![SourceRecording {
                    name: "test".into(),
                    sample_rate: 48_000,
                    channels: vec![audio],
                    boundaries: (0..=labels.len() as u64).map(|i| i * 100).collect(),
                    labels: labels.to_vec(),
                }],
            )
            .unwrap(),
        )
    }

    /// A corpus of half-second plucked harmonic tones at 48 kHz, one segment each: `(MIDI
    /// pitch, label)`.
    fn tones(notes: &[(u8, Label)]) -> Arc<CorpusMemory> {
        let rate = 48_000;
        let len = rate as usize / 2;
        let mut audio = Vec::with_capacity(notes.len() * len);
        for &(midi, _) in notes {
            let hz = 440.0 * 2f32.powf((f32::from(midi) - 69.0) / 12.0);
            audio.extend((0..len).map(|i| {
                let t = i as f32 / rate as f32;
                let envelope = (t / 0.01).min(1.0) * (-t * 3.0).exp();
                (1..=6)
                    .map(|h| (std::f32::consts::TAU * hz * h as f32 * t).sin() / h as f32)
                    .sum::<f32>()
                    * 0.2
                    * envelope
            }));
        }
        Arc::new(
            CorpusMemory::build(
                rate,
                vec![SourceRecording {
                    name: "tones".into(),
                    sample_rate: rate,
                    channels: vec![audio],
                    boundaries: (0..=notes.len() as u64).map(|i| i * len as u64).collect(),
                    labels: notes.iter().map(|&(_, label)| label).collect(),
                }],
            )
            .unwrap(),
        )
    }

    #[test]
    fn each_segment_knows_its_note_and_pitch() {
        let notes = [(48, 0), (50, 0), (55, 1), (43, 1), (60, 0)];
        let corpus = tones(&notes);
        for (i, &(midi, _)) in notes.iter().enumerate() {
            let id = SegmentId(i as u32);
            let start = corpus.segment(id).unwrap().start;
            let note = corpus.segment_note(id).expect("an onset");
            assert!(
                note.abs_diff(start) < 960,
                "segment {i}: note at {note}, start {start}"
            );
            let pitches = corpus.segment_pitches(id).expect("a pitch");
            assert_eq!(pitches.first(), Some(midi), "segment {i}: {pitches:?}");
        }
    }

    #[test]
    fn the_guide_s_harmony_picks_among_the_label_s_segments() {
        // Label 0 holds D3, C3 (a major third below E4), F3 and D#3; only C3 is consonant.
        let corpus = tones(&[(50, 0), (48, 0), (53, 0), (51, 0), (57, 1)]);
        let e4 = Pitches::single(64);
        let mut deaf = Vec::new();
        for seed in 0..8 {
            let config = NavigatorConfig {
                seed,
                ..NavigatorConfig::default()
            };
            let mut navigator = Navigator::new(Arc::clone(&corpus), config).unwrap();
            let decision = navigator.decide_hearing(0, Some(&e4)).unwrap();
            assert_eq!(decision.segment, Some(SegmentId(1)), "seed {seed}");
            navigator.reset(seed);
            deaf.push(navigator.decide(0).unwrap().segment);
        }
        assert!(deaf.iter().any(|&s| s != Some(SegmentId(1))), "{deaf:?}");
        let navigator = Navigator::new(Arc::clone(&corpus), NavigatorConfig::default()).unwrap();
        assert!(navigator.fits(SegmentId(1), Some(&e4)));
        assert!(!navigator.fits(SegmentId(0), Some(&e4)));
        assert!(
            navigator.fits(SegmentId(0), None),
            "nothing heard: anything fits"
        );
        // A label with no consonant segment still plays its best.
        assert!(navigator.fits(SegmentId(4), Some(&Pitches::single(58))));
    }

    #[test]
    fn a_dissonant_successor_is_not_taken() {
        // After segment 0 (label 1), its successor D3 (label 0) clashes with E4: C3 is taken.
        let corpus = tones(&[(57, 1), (50, 0), (45, 1), (48, 0)]);
        let mut navigator = Navigator::new(corpus, NavigatorConfig::default()).unwrap();
        navigator.observe_played(Some(SegmentId(0)));
        let decision = navigator
            .decide_hearing(0, Some(&Pitches::single(64)))
            .unwrap();
        assert_eq!(decision.segment, Some(SegmentId(3)));
        assert!(matches!(decision.route, Route::Jump { .. }));
        navigator.observe_played(Some(SegmentId(0)));
        let decision = navigator
            .decide_hearing(0, Some(&Pitches::single(62)))
            .unwrap();
        assert_eq!(
            decision.segment,
            Some(SegmentId(1)),
            "D3 under D4: the successor"
        );
        assert_eq!(decision.route, Route::Successor);
    }

    #[test]
    fn successor_is_preferred_at_full_continuity() {
        let mut navigator =
            Navigator::new(corpus(&[0, 1, 2, 0, 1, 2]), NavigatorConfig::default()).unwrap();
        navigator.observe_played(Some(SegmentId(3)));
        let decision = navigator.decide(1).unwrap();
        assert_eq!(decision.segment, Some(SegmentId(4)));
        assert_eq!(decision.route, Route::Successor);
    }

    #[test]
    fn zero_continuity_jumps_when_it_can() {
        let config = NavigatorConfig {
            continuity: 0.0,
            ..NavigatorConfig::default()
        };
        let mut navigator = Navigator::new(corpus(&[0, 1, 2, 0, 1, 2]), config).unwrap();
        navigator.observe_played(Some(SegmentId(3)));
        assert_eq!(navigator.decide(1).unwrap().segment, Some(SegmentId(1)));
        // Only the successor carries label 5: continuity cannot refuse it.
        let mut navigator = Navigator::new(
            corpus(&[0, 5, 1]),
            NavigatorConfig {
                continuity: 0.0,
                ..NavigatorConfig::default()
            },
        )
        .unwrap();
        navigator.observe_played(Some(SegmentId(0)));
        assert_eq!(navigator.decide(5).unwrap().route, Route::Successor);
    }

    #[test]
    fn jumps_follow_the_longest_matching_context() {
        // Label 3 follows "1 2" only at segment 7; elsewhere it follows other contexts.
        let labels = [0, 3, 2, 2, 3, 1, 2, 3, 0, 3];
        let mut navigator = Navigator::new(corpus(&labels), NavigatorConfig::default()).unwrap();
        navigator.decide(1).unwrap();
        navigator.decide(2).unwrap(); // Successor of segment 5: segment 6.
        navigator.observe_played(Some(SegmentId(9)));
        let decision = navigator.decide(3).unwrap();
        assert_eq!(decision.segment, Some(SegmentId(7)));
        assert_eq!(decision.route, Route::Jump { suffix: 3, ties: 1 });
    }

    #[test]
    fn missing_labels_follow_the_policy_and_are_counted() {
        let labels = [0, 1, 3];
        let mut silent = Navigator::new(corpus(&labels), NavigatorConfig::default()).unwrap();
        let decision = silent.decide(2).unwrap();
        assert_eq!(decision.segment, None);
        assert_eq!(decision.route, Route::Silence);
        assert_eq!(silent.stats().missing_labels, 1);

        // Centres on a line at 0, 1, 2.2, 3: label 2 is nearest to 3.
        let table = LabelDistances::from_centres(&[0.0, 1.0, 2.2, 3.0], 1).unwrap();
        let config = NavigatorConfig {
            missing_label: MissingLabelPolicy::NearestLabel(table),
            ..NavigatorConfig::default()
        };
        let mut nearest = Navigator::new(corpus(&labels), config).unwrap();
        let decision = nearest.decide(2).unwrap();
        assert_eq!(decision.played, Some(3));
        assert_eq!(decision.segment, Some(SegmentId(2)));
        assert_eq!(nearest.stats().missing_labels, 1);
        assert!(matches!(
            nearest.decide(9),
            Err(NavigatorError::LabelOutsideTable { label: 9, .. })
        ));
    }

    #[test]
    fn no_immediate_repeat_prevents_a_one_segment_loop() {
        let labels = [0, 1, 2];
        let mut navigator = Navigator::new(corpus(&labels), NavigatorConfig::default()).unwrap();
        assert_eq!(navigator.decide(1).unwrap().segment, Some(SegmentId(1)));
        let again = navigator.decide(1).unwrap();
        assert_eq!(again.segment, None);
        assert_eq!(navigator.stats().repeats_avoided, 1);

        navigator.set_no_immediate_repeat(false);
        navigator.observe_played(Some(SegmentId(1)));
        assert_eq!(navigator.decide(1).unwrap().segment, Some(SegmentId(1)));
    }

    #[test]
    fn bad_settings_are_rejected() {
        let config = NavigatorConfig {
            continuity: 1.5,
            ..NavigatorConfig::default()
        };
        assert_eq!(
            Navigator::new(corpus(&[0]), config).unwrap_err(),
            NavigatorError::Continuity(1.5)
        );
        let table = LabelDistances::from_centres(&[0.0, 1.0], 1).unwrap();
        let config = NavigatorConfig {
            missing_label: MissingLabelPolicy::NearestLabel(table),
            ..NavigatorConfig::default()
        };
        assert!(matches!(
            Navigator::new(corpus(&[0, 4]), config),
            Err(NavigatorError::CorpusLabelOutsideTable { label: 4, .. })
        ));
    }
}
