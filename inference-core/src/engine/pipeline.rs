//! Perception → decision → sampler → navigator for one loaded preset: the guide's segments
//! become tokens, the decision model and the sampler answer each companion slot with a label,
//! and the navigator picks a corpus segment with it (worker thread). The slots' grid (where
//! each guide segment lies, and where the companion answers it) is here too.

use std::sync::Arc;

use super::config::{EngineConfig, EngineSettings, MissingLabel};
use super::latency::{engine_segmentation, SlotTiming};
use super::loaded_preset::{CorpusOrigins, LoadedPreset, SegmentOrigin};
use super::EngineError;
use crate::action::{
    CorpusMemory, LabelDistances, MissingLabelPolicy, Navigator, NavigatorConfig, SegmentId,
};
use crate::decision::{DecisionStream, Sampler};
use crate::perception::{
    EncodedSegment, FrameEncoder, OnsetDetector, Pitches, SegmentEncoderConfig, SegmentEncoderCore,
};

/// How the companion answers the guide: the one distinction between the engine's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// With a look-ahead: slot `t` is decided once guide segment `t + L − 1` is known, and
    /// plays the reported latency after its guide segment.
    Aligned,
    /// Look-ahead 0: slot `t` is decided from the guide before it (and its reaction window),
    /// and plays as soon as it can.
    Live,
}

/// A slot's decision.
#[derive(Debug, Clone, Copy)]
pub(super) struct Choice {
    /// The slot decided.
    pub slot: u64,
    /// The label the sampler asked for.
    pub requested: u32,
    /// The label played (differs after the navigator substituted one), if any.
    pub played: Option<u32>,
    /// The corpus segment chosen, or `None` for silence.
    pub segment: Option<SegmentId>,
}

/// The last slot decided, as a revision or a guide note change may choose again for it.
#[derive(Debug, Clone, Copy)]
pub(super) struct LastChoice {
    /// The slot.
    pub slot: u64,
    /// The label asked for.
    pub asked: u32,
    /// The label committed to the decision stream.
    pub committed: u32,
    /// The segment chosen.
    pub segment: Option<SegmentId>,
}

/// The per-preset state: perception, decision and navigation for one loaded preset.
pub(super) struct Pipeline {
    /// Host frame where this pipeline's segment 0 starts.
    origin: u64,
    /// Segment length, look-ahead, worker margin and the companion's shift, in host frames
    /// (see [`SlotTiming`]; the shift's reason with a look-ahead is in
    /// [`super::onset_follower`]).
    pub timing: SlotTiming,
    /// Whether the decision model hears reaction windows: slot `t` is decided once the first
    /// W of guide segment `t` is encoded.
    pub window: bool,
    perception: SegmentEncoderCore<Box<dyn FrameEncoder>>,
    stream: DecisionStream,
    sampler: Sampler,
    /// Picks the corpus segment for each label.
    pub navigator: Navigator,
    distances: LabelDistances,
    /// The corpus the navigator picks from.
    pub corpus: Arc<CorpusMemory>,
    origins: CorpusOrigins,
    encoded: Vec<EncodedSegment>,
    /// Live with a reaction window: how long after a guide onset the onset has surely been
    /// detected and its window resampled, in host frames.
    pub revise_delay: u64,
    /// The slot the next decision is for.
    pub next_slot: u64,
    /// The last slot decided.
    pub last_choice: Option<LastChoice>,
    logits: Vec<f32>,
    distribution: Vec<f32>,
    last_a: Option<u32>,
}

impl Pipeline {
    /// The pipeline of `preset` for an engine configured by `config`, with `settings`, at
    /// `host_rate` Hz, whose segment 0 starts at host frame `origin`. Returns the corpus too,
    /// for the scheduler.
    pub(super) fn new(
        preset: LoadedPreset,
        config: &EngineConfig,
        settings: &EngineSettings,
        host_rate: u32,
        origin: u64,
    ) -> Result<(Self, Arc<CorpusMemory>), EngineError> {
        let model_lookahead = preset.decision.config().lookahead;
        let reaction_s = preset.decision.config().reaction_s;
        if let Some(l) = config.lookahead {
            if l != model_lookahead {
                return Err(EngineError::Config(format!(
                    "look-ahead {l} was asked for, but the preset's decision model was trained \
                     for look-ahead {model_lookahead}"
                )));
            }
        }
        let segmentation = engine_segmentation(preset.segmentation, config);
        let seconds = segmentation.length.seconds()?;
        let timing = SlotTiming::new(model_lookahead, reaction_s, seconds, config, host_rate)?;
        let k = preset.codebook.k();
        let encoder: Box<dyn FrameEncoder> = Box::new(preset.encoder);
        let perception = SegmentEncoderCore::new(
            &SegmentEncoderConfig {
                segmentation,
                context_s: preset.context_seconds,
                reaction_s,
            },
            host_rate,
            encoder,
            Some(preset.codebook),
        )?;
        let stream = DecisionStream::new(&preset.decision)?;
        let sampler = Sampler::new(&preset.label_counts, settings.sampler(), config.seed)?;
        let navigator = Navigator::new(
            Arc::clone(&preset.corpus),
            NavigatorConfig {
                continuity: settings.continuity,
                no_immediate_repeat: settings.no_immediate_repeat,
                missing_label: policy(settings.missing_label, &preset.label_distances),
                seed: config.seed ^ 0x9e37_79b9_7f4a_7c15,
                ..NavigatorConfig::default()
            },
        )?;
        let corpus = Arc::clone(&preset.corpus);
        Ok((
            Self {
                origin,
                timing,
                window: reaction_s > 0.0,
                perception,
                stream,
                sampler,
                navigator,
                distances: preset.label_distances,
                corpus: preset.corpus,
                origins: preset.origins,
                encoded: Vec::new(),
                revise_delay: revise_delay(reaction_s, host_rate),
                next_slot: 0,
                last_choice: None,
                logits: vec![0.0; k],
                distribution: Vec::with_capacity(k),
                last_a: None,
            },
            corpus,
        ))
    }

    /// Whether this pipeline answers live or aligned.
    pub(super) fn mode(&self) -> Mode {
        if self.timing.lookahead == 0 {
            Mode::Live
        } else {
            Mode::Aligned
        }
    }

    /// Boundary `k` of this pipeline's grid, in host frames.
    pub(super) fn boundary(&self, k: u64) -> u64 {
        self.origin + (k as f64 * self.timing.period).round() as u64
    }

    /// Host frame where this pipeline's segment 0 starts.
    pub(super) fn origin(&self) -> u64 {
        self.origin
    }

    /// The latency this pipeline reports, in samples.
    pub(super) fn latency(&self) -> u32 {
        self.timing.latency_samples()
    }

    /// Where the companion sounds what goes with guide frame `frame` (in slot `slot`).
    pub(super) fn output_frame(&self, slot: u64, frame: u64) -> u64 {
        frame
            + (self.boundary(slot + self.timing.lookahead as u64) - self.boundary(slot))
            + self.timing.margin
            + self.timing.shift
    }

    /// Where the companion fades out for a rest known from guide frame `from` (in slot `slot`):
    /// as [`Self::output_frame`], but live the reaction window is not waited for (a rest is
    /// known when the guide has been silent for the hold, whatever the window).
    pub(super) fn rest_frame(&self, slot: u64, from: u64) -> u64 {
        let window = if self.window { self.timing.shift } else { 0 };
        self.output_frame(slot, from) - window
    }

    /// The guide frame up to which the decision for slot `t` has heard the guide: the slot's
    /// start, and its reaction window.
    pub(super) fn heard_to(&self, t: u64) -> u64 {
        self.boundary(t) + if self.window { self.timing.shift } else { 0 }
    }

    /// Applies the sampler's and the navigator's share of new `settings` (`old` are those in
    /// force).
    pub(super) fn apply_settings(
        &mut self,
        settings: &EngineSettings,
        old: &EngineSettings,
    ) -> Result<(), EngineError> {
        self.sampler.set_settings(settings.sampler())?;
        self.navigator.set_continuity(settings.continuity)?;
        self.navigator
            .set_no_immediate_repeat(settings.no_immediate_repeat);
        if settings.missing_label != old.missing_label {
            let last = self.navigator.last_played();
            self.navigator.set_corpus(
                Arc::clone(&self.corpus),
                policy(settings.missing_label, &self.distances),
            )?;
            self.navigator.observe_played(last);
        }
        Ok(())
    }

    /// Encodes `guide` (the guide frames after those already pushed) into
    /// [`Self::take_encoded`], skipping the windows `skip` says lie within a rest (given their
    /// span in host frames).
    pub(super) fn perceive(
        &mut self,
        guide: &[f32],
        skip: impl Fn(u64, u64) -> bool,
    ) -> Result<(), EngineError> {
        self.encoded.clear();
        let origin = self.origin;
        self.perception
            .push_skipping(guide, &mut self.encoded, |segment| {
                skip(origin + segment.start, origin + segment.end)
            })?;
        Ok(())
    }

    /// The segments [`Self::perceive`] encoded (give them back with [`Self::restore_encoded`]).
    pub(super) fn take_encoded(&mut self) -> Vec<EncodedSegment> {
        std::mem::take(&mut self.encoded)
    }

    /// Gives back the buffer [`Self::take_encoded`] took, to be reused.
    pub(super) fn restore_encoded(&mut self, encoded: Vec<EncodedSegment>) {
        self.encoded = encoded;
    }

    /// Feeds guide token `token` of an encoded segment (`index`; `partial`: the first W of it)
    /// to the decision stream, and moves on the slot the next decision is for.
    pub(super) fn push_token(
        &mut self,
        index: u64,
        token: u32,
        partial: bool,
    ) -> Result<(), EngineError> {
        if partial {
            // The first W of guide segment `index`: slot `index` can be decided.
            self.stream.push_window(token)?;
            self.next_slot = index;
        } else {
            self.stream.push_guide(token)?;
            self.last_a = Some(token);
            if !self.window {
                // Guide segment k completes slot k + 1 − L's inputs.
                self.next_slot = index + 1 - self.timing.lookahead as u64;
            }
        }
        Ok(())
    }

    /// Whether the next slot's guide tokens are all known.
    pub(super) fn ready(&self) -> bool {
        self.stream.ready()
    }

    /// Decides the next slot: samples a label, and picks a segment for it hearing `guide`'s
    /// notes (frozen: the corpus plays on from the segment sounding, where it can).
    pub(super) fn choose(
        &mut self,
        guide: Option<&Pitches>,
        freeze: bool,
    ) -> Result<Choice, EngineError> {
        let t = self.next_slot;
        self.next_slot += 1;
        self.logits.copy_from_slice(self.stream.next_logits()?);
        let requested = self.sampler.sample(&self.logits)?;
        self.distribution.clear();
        self.distribution
            .extend_from_slice(self.sampler.distribution(&self.logits)?);
        // Frozen: the corpus plays on from the segment that is sounding. Where there is nothing
        // to continue (silence, or the end of a recording), the navigator picks a new run.
        let frozen_next = if freeze {
            self.navigator
                .last_played()
                .and_then(|last| self.corpus.successor(last))
        } else {
            None
        };
        let (segment, played) = match frozen_next {
            Some(next) => {
                self.navigator.observe_played(Some(next));
                (Some(next), Some(self.corpus.segments()[next.index()].label))
            }
            None => {
                let decision = self.navigator.decide_hearing(requested, guide)?;
                (decision.segment, decision.played)
            }
        };
        let committed = played.unwrap_or(requested);
        self.stream.push_response(committed)?;
        self.last_choice = Some(LastChoice {
            slot: t,
            asked: requested,
            committed,
            segment,
        });
        Ok(Choice {
            slot: t,
            requested,
            played,
            segment,
        })
    }

    /// Chooses the segment of the last slot decided (`last`) again among its label's, hearing
    /// the guide's new notes `pitches`.
    pub(super) fn choose_again(
        &mut self,
        last: LastChoice,
        pitches: &Pitches,
    ) -> Result<Choice, EngineError> {
        let decision = self.navigator.decide_again(last.asked, Some(pitches))?;
        self.last_choice = Some(LastChoice {
            segment: decision.segment,
            ..last
        });
        Ok(Choice {
            slot: last.slot,
            requested: last.asked,
            played: decision.played,
            segment: decision.segment,
        })
    }

    /// The last guide token, the label distribution of the last decision: for the telemetry.
    pub(super) fn last_decision(&self) -> (Option<u32>, &[f32]) {
        (self.last_a, &self.distribution)
    }

    /// Live with a reaction window: asks perception for the window that starts at guide
    /// `onset` (a note the decision of its slot did not hear), to decide the slot again. An
    /// onset too near its segment's end (its revision would not come before the segment ends)
    /// is left to the next slot's window.
    pub(super) fn request_revision(&mut self, onset: u64) {
        if self.mode() != Mode::Live || !self.window || onset < self.origin {
            return;
        }
        let mut t = ((onset - self.origin) as f64 / self.timing.period).floor() as u64;
        while t > 0 && self.boundary(t) > onset {
            t -= 1;
        }
        while self.boundary(t + 1) <= onset {
            t += 1;
        }
        if onset >= self.boundary(t) + self.timing.shift
            && onset + self.revise_delay <= self.boundary(t + 1)
        {
            self.perception.request_window(t, onset - self.origin);
        }
    }

    /// Decides slot `t` again from the token of the reaction window at a guide onset in its
    /// segment, hearing `guide`'s notes there. Returns the new choice when it differs (another
    /// label, or the segment playing clashes with the guide's new note); `None` when the slot
    /// was not the last decided or keeps its choice.
    pub(super) fn revise(
        &mut self,
        t: u64,
        token: u32,
        guide: Option<&Pitches>,
    ) -> Result<Option<Choice>, EngineError> {
        let last = self
            .last_choice
            .filter(|last| last.slot == t && self.next_slot == t + 1);
        let Some(last) = last.filter(|_| self.stream.can_revise()) else {
            return Ok(None);
        };
        self.stream.revise_window(token)?;
        self.logits.copy_from_slice(self.stream.next_logits()?);
        let requested = self.sampler.sample(&self.logits)?;
        let kept = last
            .segment
            .is_none_or(|segment| self.navigator.fits(segment, guide));
        if requested == last.asked && kept {
            self.stream.push_response(last.committed)?;
            return Ok(None);
        }
        let decision = self.navigator.decide_again(requested, guide)?;
        let committed = decision.played.unwrap_or(requested);
        self.stream.push_response(committed)?;
        self.last_choice = Some(LastChoice {
            slot: t,
            asked: requested,
            committed,
            segment: decision.segment,
        });
        Ok(Some(Choice {
            slot: t,
            requested,
            played: decision.played,
            segment: decision.segment,
        }))
    }

    /// Where corpus segment `id` lies in its file.
    pub(super) fn origin_of(&self, id: SegmentId) -> Option<SegmentOrigin> {
        self.origins.origin(&self.corpus, id)
    }

    /// Which of the preset's corpus files segment `id` comes from.
    pub(super) fn file_of(&self, id: SegmentId) -> Option<u32> {
        self.origins.file_index(&self.corpus, id)
    }
}

fn policy(mode: MissingLabel, distances: &LabelDistances) -> MissingLabelPolicy {
    match mode {
        MissingLabel::Nearest => MissingLabelPolicy::NearestLabel(distances.clone()),
        MissingLabel::Silence => MissingLabelPolicy::Silence,
    }
}

/// How long after a guide onset, in host frames at `host_rate`, the onset detector has surely
/// confirmed it and the reaction window of `reaction_s` seconds from it has been resampled for
/// the encoder (a few frames more for rounding).
fn revise_delay(reaction_s: f64, host_rate: u32) -> u64 {
    let rate = f64::from(host_rate);
    let window = reaction_s + crate::perception::resample::latency_seconds(host_rate);
    ((window * rate).ceil() as u64 + 3).max(OnsetDetector::delay_at(host_rate))
}
