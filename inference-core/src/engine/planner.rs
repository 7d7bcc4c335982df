//! The companion's plan: turns each decided slot into grains for the scheduler (worker
//! thread). It follows the guide as the settings ask ([`Following`]):
//! * its rests: the companion fades out once the guide has been silent for the hold, and
//!   comes back with it;
//! * its onsets: the companion's notes start with the guide's, heard with a look-ahead, or
//!   predicted from its pulse live ([`OnsetFollower`], [`OnsetPredictor`]);
//! * live, its notes: a slot is planned again when a revision or a guide note change asks for
//!   another segment, from a margin after the change was heard.
//!
//! Live, grains are queued and sent to the scheduler a margin before they play, so that a rest
//! can still take back those after it, and nothing sent ever is: the output does not depend on
//! the host's block size.

use std::collections::VecDeque;
use std::sync::Arc;

use super::config::EngineSettings;
use super::guide::{GuideListener, NoteChange};
use super::loaded_preset::SegmentOrigin;
use super::onset_follower::{Entry, Grain, OnsetFollower};
use super::pipeline::{Choice, Mode, Pipeline};
use super::EngineError;
use crate::action::{CorpusMemory, SchedulerHandle, SegmentId};
use crate::perception::OnsetPredictor;

/// Live: the shortest time a note chosen again inside a slot (at a revision, or a guide note
/// change) must be able to sound before the guide's next predicted note to be slurred into at
/// once, in seconds.
const MIN_ANSWER_S: f64 = 0.2;

/// One companion segment the worker decided, or the start of a rest.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayedSlot {
    /// Index of the slot (companion segment) since the preset was loaded.
    pub slot: u64,
    /// Host frame at which it starts (it plays until the next one starts).
    pub at: u64,
    /// The label the decision model asked for (`None` for a rest: the guide is silent).
    pub requested: Option<u32>,
    /// The corpus segment played, or `None` for silence.
    pub segment: Option<SegmentId>,
    /// Where the segment comes from.
    pub origin: Option<SegmentOrigin>,
}

/// What of the guide the companion follows, from the settings.
#[derive(Debug, Clone, Copy)]
pub(super) struct Following {
    /// It rests with the guide (not while frozen: Freeze ignores the guide).
    pub rests: bool,
    /// Its notes start with the guide's (not while frozen).
    pub onsets: bool,
    /// The navigator prefers segments consonant with the guide's notes.
    pub harmony: bool,
    /// The rest hold, in host frames.
    pub hold: u64,
}

impl Following {
    /// What `settings` ask to follow, at `rate` Hz.
    pub(super) fn new(settings: &EngineSettings, rate: u32) -> Self {
        Self {
            rests: settings.follow_rests && !settings.freeze,
            onsets: settings.follow_onsets && !settings.freeze,
            harmony: settings.follow_harmony,
            hold: (f64::from(settings.rest_hold_seconds) * f64::from(rate)).round() as u64,
        }
    }
}

/// How a decided slot was played.
#[derive(Debug, Clone, Copy)]
pub(super) enum Played {
    /// Live: the guide rests, so the companion does (or already did).
    Rested,
    /// The slot plays from `first_at` (its first attack, if any). With a look-ahead, the guide
    /// stops within it: the companion fades out from `rest_from` ([`CompanionPlanner::rest_after`]).
    Slot {
        first_at: Option<u64>,
        rest_from: Option<u64>,
    },
}

/// A grain planned in live mode for slot `slot` (label `requested`), not yet sent.
#[derive(Debug, Clone, Copy)]
struct QueuedGrain {
    slot: u64,
    requested: u32,
    grain: Grain,
}

/// Plans the companion slot by slot and sends it to the scheduler. Worker thread.
pub(super) struct CompanionPlanner {
    handle: SchedulerHandle,
    /// When the companion's notes start (following onsets).
    follower: OnsetFollower,
    /// Live mode: the guide's pulse, which says where its next notes will start (fed from the
    /// guide's onsets as each slot is decided).
    predictor: OnsetPredictor,
    /// Live mode: the grains planned for predicted onsets, sent to the scheduler a margin
    /// before they play (so that a rest can still take back those after it).
    queued: VecDeque<QueuedGrain>,
    /// Scratch for the predicted onsets of a slot.
    predicted: Vec<u64>,
    /// Whether the companion has been faded out for a rest of the guide (a silence is
    /// scheduled and no segment since).
    resting: bool,
    log: Option<Vec<PlayedSlot>>,
    rate: u32,
}

impl CompanionPlanner {
    /// A planner sending to the scheduler through `handle`, at `rate` Hz.
    pub(super) fn new(handle: SchedulerHandle, rate: u32) -> Self {
        Self {
            handle,
            follower: OnsetFollower::new(rate),
            predictor: OnsetPredictor::new(rate),
            queued: VecDeque::new(),
            predicted: Vec::new(),
            resting: false,
            log: None,
            rate,
        }
    }

    /// The scheduler's handle.
    pub(super) fn handle(&self) -> &SchedulerHandle {
        &self.handle
    }

    /// Sets the scheduler's crossfade.
    pub(super) fn set_crossfade(&mut self, seconds: f32) -> Result<(), EngineError> {
        Ok(self.handle.set_crossfade(seconds)?)
    }

    /// Hands a new corpus to the scheduler and drops the plan made with the old one.
    pub(super) fn load_corpus(&mut self, corpus: Arc<CorpusMemory>) -> Result<(), EngineError> {
        self.handle.load_corpus(corpus)?;
        self.follower.stop();
        self.queued.clear();
        Ok(())
    }

    /// Frees the corpora the audio thread retired; returns how many.
    pub(super) fn collect_retired(&mut self) -> usize {
        self.handle.collect_retired()
    }

    /// Starts (or stops) keeping a record of every slot played.
    pub(super) fn record_played(&mut self, enabled: bool) {
        self.log = enabled.then(Vec::new);
    }

    /// The slots played since the last call (when recording).
    pub(super) fn take_played(&mut self) -> Vec<PlayedSlot> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Whether the companion rests with the guide.
    pub(super) fn resting(&self) -> bool {
        self.resting
    }

    /// Whether the scheduler had already passed the point where a crossfade of
    /// `crossfade_seconds` centred on `first_at` should have begun.
    pub(super) fn is_late(&self, first_at: Option<u64>, crossfade_seconds: f32) -> bool {
        let half_fade = (f64::from(crossfade_seconds) * f64::from(self.rate) / 2.0).round() as u64;
        first_at.is_some_and(|at| self.handle.telemetry().position() > at.saturating_sub(half_fade))
    }

    /// Plays decided slot `choice` as the pipeline's mode asks: rests with the guide, follows
    /// its onsets, or changes on the grid.
    pub(super) fn play(
        &mut self,
        p: &mut Pipeline,
        guide: &mut GuideListener,
        follow: Following,
        choice: &Choice,
    ) -> Result<Played, EngineError> {
        match p.mode() {
            Mode::Live => self.play_live(p, guide, follow, choice),
            Mode::Aligned => self.play_aligned(p, guide, choice, follow),
        }
    }

    /// Live: only the guide before the slot is known (and its reaction window). Rests when it
    /// has rested long enough and still does, from when it had (as [`Self::rest_live`] does
    /// while a slot plays); a guide back within the window is answered.
    fn play_live(
        &mut self,
        p: &mut Pipeline,
        guide: &mut GuideListener,
        follow: Following,
        choice: &Choice,
    ) -> Result<Played, EngineError> {
        let t = choice.slot;
        let guide_start = p.boundary(t);
        let slot_at = p.output_frame(t, guide_start);
        if follow.rests {
            let rested_from = guide
                .rests()
                .silence_before(p.heard_to(t))
                .map(|since| since + follow.hold)
                .filter(|&from| from <= guide_start);
            if let Some(from) = rested_from {
                if !self.resting {
                    // In the slot the rest began in, as `rest_live` would have had it.
                    let slot = if from < guide_start {
                        t.saturating_sub(1)
                    } else {
                        t
                    };
                    let at = p.rest_frame(slot, from).max(self.handle.last_at());
                    self.rest_at(p, slot, at)?;
                }
                return Ok(Played::Rested);
            }
        }
        let first_at = if follow.onsets {
            let heard_to = p.heard_to(t);
            // After everything planned, sent or not (what is sent depends on the block size).
            let planned = self.queued.back().map_or(0, |q| q.grain.at());
            let from = slot_at.max(planned).max(self.handle.last_at());
            let entry = Entry::Onsets {
                grid_at: slot_at,
                enter: true,
            };
            self.queue_plan(p, guide, choice, heard_to, from, entry)
        } else {
            self.play_on_grid(p, choice, slot_at)?
        };
        Ok(Played::Slot {
            first_at,
            rest_from: None,
        })
    }

    /// With a look-ahead, the whole slot is known: back from a rest, the companion enters with
    /// the guide; when the guide stops within the slot, it fades out after the hold.
    fn play_aligned(
        &mut self,
        p: &mut Pipeline,
        guide: &mut GuideListener,
        choice: &Choice,
        follow: Following,
    ) -> Result<Played, EngineError> {
        let t = choice.slot;
        let (guide_start, guide_end) = (p.boundary(t), p.boundary(t + 1));
        let slot_at = p.output_frame(t, guide_start);
        let rests = guide.rests();
        let at = if follow.rests && self.resting && !rests.sounding_at(guide_start) {
            rests
                .first_onset(guide_start, guide_end)
                .map_or(slot_at, |onset| p.output_frame(t, onset))
        } else {
            slot_at
        };
        let rest_from = if follow.rests {
            rests.silence_before(guide_end).and_then(|since| {
                let from = (since + follow.hold).max(guide_start);
                (from < guide_end).then(|| p.output_frame(t, from))
            })
        } else {
            None
        };
        let first_at = if follow.onsets {
            self.play_with_onsets(p, guide, follow, choice, slot_at, rest_from)?
        } else {
            self.play_on_grid(p, choice, at)?
        };
        Ok(Played::Slot {
            first_at,
            rest_from,
        })
    }

    /// The guide stops within slot `t`, which plays from `first_at`: the companion fades out
    /// from `rest_from`, once it has rested for the hold.
    pub(super) fn rest_after(
        &mut self,
        p: &mut Pipeline,
        t: u64,
        rest_from: u64,
        first_at: Option<u64>,
    ) -> Result<(), EngineError> {
        let at = rest_from
            .max(first_at.unwrap_or(0))
            .max(self.handle.last_at());
        self.rest_at(p, t, at)
    }

    /// Plays `choice` from output frame `at` to the next slot, whatever the guide's onsets.
    fn play_on_grid(
        &mut self,
        p: &mut Pipeline,
        choice: &Choice,
        at: u64,
    ) -> Result<Option<u64>, EngineError> {
        self.send_all_queued(p)?;
        match choice.segment {
            Some(id) => self.handle.play(at, id)?,
            None => self.handle.silence(at)?,
        }
        self.follower.stop();
        self.resting = false;
        self.log_played(
            p,
            choice.slot,
            at,
            Some(choice.requested),
            choice.segment,
            0,
        );
        Ok(Some(at))
    }

    /// With a look-ahead: plays `choice` (on the grid it starts at `grid_at`) following the
    /// guide's onsets: plans the grains for the guide's onsets from half a slot (the onset
    /// shift) before the slot to half a slot before its end, up to `rest_from` where the
    /// companion rests. Returns the first grain's time.
    fn play_with_onsets(
        &mut self,
        p: &mut Pipeline,
        guide: &mut GuideListener,
        follow: Following,
        choice: &Choice,
        grid_at: u64,
        rest_from: Option<u64>,
    ) -> Result<Option<u64>, EngineError> {
        let t = choice.slot;
        let (guide_start, guide_end) = (p.boundary(t), p.boundary(t + 1));
        // The guide onsets this slot answers: those whose notes mostly fall in its segment.
        let span_end = guide_end.saturating_sub(p.timing.shift);
        let from = p
            .output_frame(t, guide_start.saturating_sub(p.timing.shift))
            .max(self.handle.last_at());
        let to = p.output_frame(t, span_end);
        let mut onsets = Vec::new();
        while let Some(onset) = guide.take_onset_before(span_end) {
            onsets.push(p.output_frame(t, onset));
        }
        let rests = guide.rests();
        let enter = !follow.rests
            || rests.sounding_at(guide_start)
            || rests.first_onset(guide_start, guide_end).is_some();
        self.follower.skip_to(from);
        let corpus = Arc::clone(&p.corpus);
        let grains = self
            .follower
            .plan(
                &corpus,
                to,
                &onsets,
                choice.segment,
                Entry::Onsets { grid_at, enter },
            )
            .to_vec();
        let mut first = None;
        for grain in grains {
            if rest_from.is_some_and(|rest| grain.at() >= rest) {
                break;
            }
            if let Some(at) = self.send_grain(p, t, choice.requested, grain)? {
                first.get_or_insert(at);
            }
        }
        let playing = self.follower.segment_at(&corpus, to);
        p.navigator.observe_played(playing.or(choice.segment));
        Ok(first)
    }

    /// Live mode: plans slot `choice.slot` from output frame `from` to the next slot's start
    /// with the pulse of the guide onsets heard by guide frame `heard_to`, its segment coming
    /// in as `entry` says, and queues the grains (see [`Self::release_queued`]); with no pulse
    /// to predict from, the slot changes on the grid. Returns the first attack's time.
    fn queue_plan(
        &mut self,
        p: &mut Pipeline,
        guide: &mut GuideListener,
        choice: &Choice,
        heard_to: u64,
        from: u64,
        entry: Entry,
    ) -> Option<u64> {
        while let Some(onset) = guide.take_onset_confirmed_by(heard_to) {
            self.predictor.push(onset);
        }
        let t = choice.slot;
        let to = p.output_frame(t + 1, p.boundary(t + 1));
        let corpus = Arc::clone(&p.corpus);
        self.predicted.clear();
        self.predictor.predict(from, to, &mut self.predicted);
        self.follower.skip_to(from);
        let grains = self
            .follower
            .plan(&corpus, to, &self.predicted, choice.segment, entry);
        let first = grains
            .iter()
            .find(|g| matches!(g, Grain::Jump { .. }))
            .map(Grain::at);
        self.queued.extend(grains.iter().map(|&grain| QueuedGrain {
            slot: t,
            requested: choice.requested,
            grain,
        }));
        if first.is_some() {
            self.resting = false;
        }
        let playing = self.follower.segment_at(&corpus, to);
        p.navigator.observe_played(playing.or(choice.segment));
        first
    }

    /// Live with a reaction window: slot `choice.slot` was decided again from the window at a
    /// guide `onset` in its segment. The rest of the slot is planned again with the new segment
    /// from a margin after the onset was heard (detected, and its window resampled): the
    /// companion slurs into the new note there, and the predicted onsets after it go on as a
    /// slot's later ones do. The time depends on the onset only, and no grain from then on has
    /// been sent yet (they are sent a margin ahead), so the output still does not depend on
    /// the block size.
    pub(super) fn replan_from_onset(
        &mut self,
        p: &mut Pipeline,
        guide: &mut GuideListener,
        choice: &Choice,
        onset: u64,
    ) {
        let heard = onset + p.revise_delay;
        let at = (heard + p.timing.margin).max(self.handle.last_at());
        let at = self.take_back_from(at);
        let entry = if self.beat_is_near(at) {
            Entry::Onsets {
                grid_at: at,
                enter: true,
            }
        } else {
            Entry::Now { at }
        };
        self.queue_plan(p, guide, choice, heard, at, entry);
    }

    /// Live mode, Follow Harmony: the guide moved to a new note, heard at guide frame
    /// `change.at` (about 35 ms into the note, before the onset detector has confirmed it, and
    /// for legato changes too). When the companion's note planned for a margin later clashes
    /// with it, the segment of the slot decided last is chosen again among its label's,
    /// hearing the new note, and the companion slurs into it then. Answered at that hop of the
    /// worker's clock, a margin ahead of what has been sent, so the output does not depend on
    /// the block size.
    pub(super) fn answer_note_change(
        &mut self,
        p: &mut Pipeline,
        guide: &mut GuideListener,
        change: &NoteChange,
    ) -> Result<(), EngineError> {
        let Some(last) = p.last_choice.filter(|_| !self.resting) else {
            return Ok(());
        };
        let at = (change.at + p.timing.margin).max(self.handle.last_at());
        if at >= self.follower.planned() {
            // Not planned yet: the next slot's decision hears the new note.
            return Ok(());
        }
        let playing = self.follower.segment_planned_at(&p.corpus, at);
        if playing.is_none_or(|segment| p.navigator.fits(segment, Some(&change.pitches))) {
            return Ok(());
        }
        if self.beat_is_near(at) {
            return Ok(());
        }
        let choice = p.choose_again(last, &change.pitches)?;
        let at = self.take_back_from(at);
        self.queue_plan(p, guide, &choice, change.at, at, Entry::Now { at });
        Ok(())
    }

    /// Live mode: whether the guide's pulse predicts a note within [`MIN_ANSWER_S`] after
    /// output frame `at`. A note chosen again at `at` then waits for that beat: a slur into it
    /// at `at` would blur the beat more than the clash it mends.
    fn beat_is_near(&mut self, at: u64) -> bool {
        let hold = (MIN_ANSWER_S * f64::from(self.rate)).round() as u64;
        self.predicted.clear();
        self.predictor.predict(at, at + hold, &mut self.predicted);
        !self.predicted.is_empty()
    }

    /// Live mode: takes back what is planned from output frame `at` on (not before the last
    /// plan's start; nothing sent is taken back), so that the slot can be planned again from
    /// there. Returns where the new plan starts.
    fn take_back_from(&mut self, at: u64) -> u64 {
        let at = self.follower.rewind(at);
        while self.queued.back().is_some_and(|q| q.grain.at() >= at) {
            self.queued.pop_back();
        }
        at
    }

    /// Guide segment `index` lies within a rest and was skipped: the slot that would have
    /// answered it rests (live the next one, with a look-ahead its own).
    pub(super) fn rest_through(
        &mut self,
        p: &mut Pipeline,
        guide: &GuideListener,
        follow: Following,
        index: u64,
    ) -> Result<(), EngineError> {
        if self.resting {
            return Ok(());
        }
        let (slot, from) = match p.mode() {
            Mode::Live => (index + 1, p.boundary(index + 1)),
            Mode::Aligned => {
                let since = guide
                    .rests()
                    .silence_before(p.boundary(index + 1))
                    .unwrap_or(p.boundary(index));
                (index, since + follow.hold)
            }
        };
        let at = p.rest_frame(slot, from).max(self.handle.last_at());
        self.rest_at(p, slot, at)
    }

    /// Live mode: once the guide has been silent for the hold (by the rest detector's settled
    /// clock at worker frame `now`), the companion fades out then (the margin later), in the
    /// slot playing, without waiting for the next slot's decision. A rest that begins in a slot
    /// not decided yet is left to that slot's decision, which rests from the same frame: the
    /// output does not depend on the block size.
    pub(super) fn rest_live(
        &mut self,
        p: &mut Pipeline,
        guide: &GuideListener,
        follow: Following,
        now: u64,
    ) -> Result<(), EngineError> {
        if p.mode() != Mode::Live || !follow.rests || self.resting || p.next_slot == 0 {
            return Ok(());
        }
        let now = guide.rests().settled(now);
        let Some(from) = guide
            .rests()
            .silence_before(now)
            .map(|since| since + follow.hold)
            .filter(|&from| from <= now && from < p.boundary(p.next_slot))
        else {
            return Ok(());
        };
        let slot = p.next_slot - 1;
        let at = p.rest_frame(slot, from).max(self.handle.last_at());
        self.rest_at(p, slot, at)
    }

    /// Fades the companion out at host frame `at` for a rest in slot `slot` (live: the grains
    /// planned from then on are dropped).
    fn rest_at(&mut self, p: &mut Pipeline, slot: u64, at: u64) -> Result<(), EngineError> {
        while self.queued.back().is_some_and(|q| q.grain.at() >= at) {
            self.queued.pop_back();
        }
        self.send_all_queued(p)?;
        self.handle.silence(at)?;
        self.follower.stop();
        self.resting = true;
        p.navigator.observe_played(None);
        self.log_played(p, slot, at, None, None, 0);
        Ok(())
    }

    /// Live mode: sends the queued grains due within the margin of worker frame `now`. Judged
    /// on the rest detector's settled clock, as rests are, so that what a rest takes back does
    /// not depend on the block size.
    pub(super) fn release_queued(
        &mut self,
        p: &mut Pipeline,
        guide: &GuideListener,
        now: u64,
    ) -> Result<(), EngineError> {
        let due = guide.rests().settled(now) + p.timing.margin;
        while let Some(&QueuedGrain {
            slot,
            requested,
            grain,
        }) = self.queued.front().filter(|q| q.grain.at() <= due)
        {
            self.queued.pop_front();
            self.send_grain(p, slot, requested, grain)?;
        }
        Ok(())
    }

    /// Sends every queued grain now (before a command that must come after them).
    fn send_all_queued(&mut self, p: &mut Pipeline) -> Result<(), EngineError> {
        while let Some(QueuedGrain {
            slot,
            requested,
            grain,
        }) = self.queued.pop_front()
        {
            self.send_grain(p, slot, requested, grain)?;
        }
        Ok(())
    }

    /// Sends one planned grain of slot `slot` (label `requested`) to the scheduler. Returns
    /// its time when it is a jump that was played (an attack, or a loop in a note's sustain).
    fn send_grain(
        &mut self,
        p: &mut Pipeline,
        slot: u64,
        requested: u32,
        grain: Grain,
    ) -> Result<Option<u64>, EngineError> {
        match grain {
            Grain::Jump { at, memory } => {
                let corpus = &p.corpus;
                let Some(id) = corpus.segment_at(memory) else {
                    return Ok(None);
                };
                let offset = memory - corpus.segments()[id.index()].start;
                self.handle.play_from(at, id, offset as u32)?;
                self.log_played(p, slot, at, Some(requested), Some(id), offset);
                self.resting = false;
                Ok(Some(at))
            }
            Grain::Continue { at, segment } => {
                self.handle.play(at, segment)?;
                Ok(None)
            }
        }
    }

    /// Records a played slot (when recording): `segment` from `offset` frames into it.
    fn log_played(
        &mut self,
        p: &Pipeline,
        slot: u64,
        at: u64,
        requested: Option<u32>,
        segment: Option<SegmentId>,
        offset: u64,
    ) {
        let Some(log) = &mut self.log else { return };
        let origin = segment.and_then(|id| p.origin_of(id)).map(|mut origin| {
            let shift = offset as f64 / f64::from(self.rate);
            origin.start_seconds += shift;
            origin
        });
        log.push(PlayedSlot {
            slot,
            at,
            requested,
            segment,
            origin,
        });
    }
}
