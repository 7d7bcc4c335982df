//! The worker thread's side of the engine: segment, encode, quantise, decide, navigate,
//! schedule.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use ringbuf::traits::Consumer;
use ringbuf::HeapCons;

use super::config::{EngineConfig, EngineSettings, MissingLabel, WORKER_POLL};
use super::guide_pitch::{GuidePitch, NoteChange};
use super::latency::{engine_segmentation, SlotTiming};
use super::loaded_preset::{CorpusOrigins, LoadedPreset, SegmentOrigin};
use super::rests::RestDetector;
use super::telemetry::{EngineTelemetry, NowPlaying};
use super::timing::{Entry, Grain, OnsetFollower};
use super::EngineError;
use crate::action::{
    CorpusMemory, LabelDistances, MissingLabelPolicy, Navigator, NavigatorConfig,
    NowPlaying as SchedulerNowPlaying, SchedulerHandle, SegmentId,
};
use crate::decision::{DecisionStream, Sampler};
use crate::perception::{
    EncodedSegment, FrameEncoder, OnsetDetector, OnsetPredictor, Pitches, SegmentEncoderConfig,
    SegmentEncoderCore,
};

/// Live with a reaction window: how much of its end the guide's notes are taken from, in
/// seconds (chosen by `eval-heard`: the newest audio answers best; see docs/results.md).
const WINDOW_TAIL_S: f64 = 0.03;
/// Live: the shortest time a note chosen again inside a slot (at a revision, or a guide note
/// change) must be able to sound before the guide's next predicted note to be slurred into at
/// once, in seconds.
const MIN_ANSWER_S: f64 = 0.2;
/// Live without a reaction window: how much of the guide before a slot its decision hears the
/// notes of, in seconds.
const HEAR_S: f64 = 0.1;

/// Guide samples taken from the ring per pass.
const PASS: usize = 4096;

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

/// A grain planned in live mode for slot `slot` (label `requested`), not yet sent.
#[derive(Debug, Clone, Copy)]
struct QueuedGrain {
    slot: u64,
    requested: u32,
    grain: Grain,
}

/// The per-preset state: perception, decision and navigation for one loaded preset.
struct Pipeline {
    /// Host frame where this pipeline's segment 0 starts.
    origin: u64,
    /// Segment length, look-ahead, worker margin and the companion's shift, in host frames
    /// (see [`SlotTiming`]; the shift's reason with a look-ahead is in [`super::timing`]).
    timing: SlotTiming,
    /// Whether the decision model hears reaction windows: slot `t` is decided once the first
    /// W of guide segment `t` is encoded.
    window: bool,
    perception: SegmentEncoderCore<Box<dyn FrameEncoder>>,
    stream: DecisionStream,
    sampler: Sampler,
    navigator: Navigator,
    distances: LabelDistances,
    corpus: Arc<CorpusMemory>,
    origins: CorpusOrigins,
    encoded: Vec<EncodedSegment>,
    /// Live with a reaction window: how long after a guide onset the onset has surely been
    /// detected and its window resampled, in host frames ([`EngineWorker::revise`]).
    revise_delay: u64,
    /// The slot the next decision is for.
    next_slot: u64,
    /// The last slot decided: the label asked for it, the one committed to the decision
    /// stream and the segment chosen (for [`EngineWorker::revise`]).
    last_choice: Option<LastChoice>,
    logits: Vec<f32>,
    distribution: Vec<f32>,
    last_a: Option<u32>,
}

/// A slot's decision, as [`EngineWorker::revise`] may take it back.
#[derive(Debug, Clone, Copy)]
struct LastChoice {
    slot: u64,
    asked: u32,
    committed: u32,
    segment: Option<SegmentId>,
}

impl Pipeline {
    fn new(
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

    /// Boundary `k` of this pipeline's grid, in host frames.
    fn boundary(&self, k: u64) -> u64 {
        self.origin + (k as f64 * self.timing.period).round() as u64
    }

    fn latency(&self) -> u32 {
        self.timing.latency_samples()
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

/// The engine on the worker thread. Owns perception, decision and navigation, and the
/// scheduler's handle; everything it does may allocate.
pub struct EngineWorker {
    guide: HeapCons<f32>,
    settings_rx: HeapCons<EngineSettings>,
    presets: Receiver<LoadedPreset>,
    handle: SchedulerHandle,
    pipeline: Pipeline,
    config: EngineConfig,
    settings: EngineSettings,
    host_rate: u32,
    telemetry: Arc<EngineTelemetry>,
    block: Vec<f32>,
    /// Guide frames consumed (with inserted silence): the worker's clock.
    consumed: u64,
    /// Where the guide sounds and rests.
    rests: RestDetector,
    /// Where the guide's notes start (worker clock), and those not yet planned for.
    onsets: OnsetDetector,
    /// What the guide's notes are, for the navigator's harmony.
    guide_pitch: GuidePitch,
    pending_onsets: VecDeque<u64>,
    /// When the companion's notes start (following onsets).
    follower: OnsetFollower,
    /// Live mode: the guide's pulse, which says where its next notes will start (fed from
    /// `pending_onsets` as each slot is decided).
    predictor: OnsetPredictor,
    /// Live mode: the grains planned for predicted onsets, sent to the scheduler a margin
    /// before they play (so that a rest can still take back those after it).
    queued: VecDeque<QueuedGrain>,
    /// Scratch for the predicted onsets of a slot.
    predicted: Vec<u64>,
    /// Whether the companion has been faded out for a rest of the guide (a silence is
    /// scheduled and no segment since).
    resting: bool,
    /// What the scheduler played at the last publication of what plays now.
    now_playing_seen: Option<SchedulerNowPlaying>,
    dropped_seen: u64,
    log: Option<Vec<PlayedSlot>>,
}

impl std::fmt::Debug for EngineWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineWorker")
            .field("consumed", &self.consumed)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The channels a worker is built with.
pub(super) struct WorkerParts {
    pub guide: HeapCons<f32>,
    pub settings_rx: HeapCons<EngineSettings>,
    pub presets: Receiver<LoadedPreset>,
    pub handle: SchedulerHandle,
    pub telemetry: Arc<EngineTelemetry>,
}

impl EngineWorker {
    pub(super) fn new(
        parts: WorkerParts,
        preset: LoadedPreset,
        config: &EngineConfig,
        host_rate: u32,
    ) -> Result<Self, EngineError> {
        let WorkerParts {
            guide,
            settings_rx,
            presets,
            mut handle,
            telemetry,
        } = parts;
        config.settings.validate().map_err(EngineError::Config)?;
        let (pipeline, corpus) = Pipeline::new(preset, config, &config.settings, host_rate, 0)?;
        handle.set_crossfade(config.settings.crossfade_seconds)?;
        handle.load_corpus(corpus)?;
        telemetry.set_latency(pipeline.latency());
        let mut worker = Self {
            guide,
            settings_rx,
            presets,
            handle,
            pipeline,
            config: config.clone(),
            settings: config.settings,
            host_rate,
            telemetry,
            block: vec![0.0; PASS],
            consumed: 0,
            rests: RestDetector::new(host_rate, 0),
            onsets: OnsetDetector::new(host_rate),
            guide_pitch: GuidePitch::new(host_rate),
            pending_onsets: VecDeque::new(),
            follower: OnsetFollower::new(host_rate),
            predictor: OnsetPredictor::new(host_rate),
            queued: VecDeque::new(),
            predicted: Vec::new(),
            resting: false,
            now_playing_seen: None,
            dropped_seen: 0,
            log: None,
        };
        worker.decide_ready()?;
        Ok(worker)
    }

    /// Starts (or stops) keeping a record of every slot decided, for [`Self::take_played`].
    pub fn record_played(&mut self, enabled: bool) {
        self.log = enabled.then(Vec::new);
    }

    /// The slots decided since the last call (when recording).
    pub fn take_played(&mut self) -> Vec<PlayedSlot> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The shared telemetry.
    pub fn telemetry(&self) -> &Arc<EngineTelemetry> {
        &self.telemetry
    }

    /// The settings in force.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Whether the companion rests with the guide: nothing is encoded or decided until the
    /// guide sounds again, so the worker thread may poll less often.
    pub fn resting(&self) -> bool {
        self.resting
    }

    /// Guide frames processed so far (the worker's clock).
    pub fn position(&self) -> u64 {
        self.consumed
    }

    /// The latency to report to the host, in samples.
    pub fn latency_samples(&self) -> u32 {
        self.pipeline.latency()
    }

    /// The segment length in host samples (at the configured tempo for tempo-synced presets).
    pub fn segment_samples(&self) -> f64 {
        self.pipeline.timing.period
    }

    /// Applies new settings now (the queued path is [`super::EngineControl::set_settings`]).
    pub fn apply_settings(&mut self, settings: EngineSettings) -> Result<(), EngineError> {
        settings.validate().map_err(EngineError::Config)?;
        let p = &mut self.pipeline;
        p.sampler.set_settings(settings.sampler())?;
        p.navigator.set_continuity(settings.continuity)?;
        p.navigator
            .set_no_immediate_repeat(settings.no_immediate_repeat);
        if settings.missing_label != self.settings.missing_label {
            let last = p.navigator.last_played();
            p.navigator.set_corpus(
                Arc::clone(&p.corpus),
                policy(settings.missing_label, &p.distances),
            )?;
            p.navigator.observe_played(last);
        }
        if settings.crossfade_seconds != self.settings.crossfade_seconds {
            self.handle.set_crossfade(settings.crossfade_seconds)?;
        }
        self.settings = settings;
        Ok(())
    }

    /// Switches to another preset (built for this host rate) from the current position on: the
    /// scheduler fades the old corpus out, which comes back here to be freed.
    pub fn load_preset(&mut self, preset: LoadedPreset) -> Result<(), EngineError> {
        let (pipeline, corpus) = Pipeline::new(
            preset,
            &self.config,
            &self.settings,
            self.host_rate,
            self.consumed,
        )?;
        self.handle.load_corpus(corpus)?;
        self.follower.stop();
        self.queued.clear();
        let old = std::mem::replace(&mut self.pipeline, pipeline);
        drop(old);
        self.telemetry.set_latency(self.pipeline.latency());
        self.decide_ready()
    }

    /// Processes all guide audio available: applies queued settings and presets, frees retired
    /// corpora, then segments, encodes, decides and schedules at every segment boundary the
    /// audio crosses. Returns whether there was anything to do.
    pub fn step(&mut self) -> Result<bool, EngineError> {
        let mut busy = false;
        while let Some(settings) = self.settings_rx.try_pop() {
            self.apply_settings(settings)?;
            busy = true;
        }
        while let Ok(preset) = self.presets.try_recv() {
            self.load_preset(preset)?;
            busy = true;
        }
        busy |= self.handle.collect_retired() > 0;
        loop {
            let n = self.guide.pop_slice(&mut self.block);
            if n == 0 {
                break;
            }
            busy = true;
            self.push(n)?;
        }
        let dropped = self.telemetry.dropped_samples();
        while self.dropped_seen < dropped {
            // Keep the clock on the host's: as much silence as was lost.
            let n = ((dropped - self.dropped_seen) as usize).min(PASS);
            self.block[..n].fill(0.0);
            self.dropped_seen += n as u64;
            self.push(n)?;
            busy = true;
        }
        self.publish_now_playing();
        Ok(busy)
    }

    /// Runs [`Self::step`] until `stop` is set, sleeping briefly when idle. Errors are logged,
    /// counted in the telemetry, and the worker carries on.
    pub fn run(mut self, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Acquire) {
            match self.step() {
                Ok(true) => {}
                Ok(false) => std::thread::sleep(WORKER_POLL),
                Err(error) => {
                    self.telemetry.count_error();
                    tracing::error!("engine worker: {error}");
                }
            }
        }
    }

    /// Feeds `self.block[..n]` to the rest detector and perception, and decides every slot
    /// that becomes ready. Guide segments within a rest (silent throughout, and for the hold
    /// before them) are not encoded and not decided: their slots rest.
    fn push(&mut self, n: usize) -> Result<(), EngineError> {
        let mut start = 0;
        while start < n {
            let end = n.min(start + self.guide_pitch.until_hop());
            self.push_piece(start..end)?;
            start = end;
        }
        Ok(())
    }

    /// [`Self::push`] for `self.block[piece]`, which ends at the latest on the note tracker's
    /// next hop; then answers the note changes it heard.
    fn push_piece(&mut self, piece: std::ops::Range<usize>) -> Result<(), EngineError> {
        let started = Instant::now();
        let n = piece.len();
        let track = self.tracks_notes();
        self.rests.push(&self.block[piece.clone()]);
        self.onsets.push(&self.block[piece.clone()]);
        self.guide_pitch.push(&self.block[piece.clone()], track);
        let onsets = self.onsets.take_onsets();
        if self.follows_onsets() {
            for &onset in &onsets {
                self.request_revision(onset);
            }
            self.pending_onsets.extend(onsets);
        } else {
            self.pending_onsets.clear();
        }
        // Onsets no slot took (the guide rested around them) do not pile up.
        let horizon = self.consumed.saturating_sub(u64::from(self.host_rate) * 10);
        while self.pending_onsets.front().is_some_and(|&o| o < horizon) {
            self.pending_onsets.pop_front();
        }
        let hold = self.follows_rests().then(|| self.hold_frames());
        let p = &mut self.pipeline;
        p.encoded.clear();
        let (rests, origin) = (&self.rests, p.origin);
        let result = p
            .perception
            .push_skipping(&self.block[piece], &mut p.encoded, |segment| {
                hold.is_some_and(|hold| {
                    let (start, end) = (origin + segment.start, origin + segment.end);
                    rests.silent_over(start, end)
                        && rests
                            .silence_before(end)
                            .is_some_and(|since| since + hold <= start)
                })
            });
        self.consumed += n as u64;
        result?;
        let encoded = std::mem::take(&mut self.pipeline.encoded);
        for segment in &encoded {
            let index = segment.segment.index;
            if segment.frames == 0 {
                // A skipped window is no decision: its whole segment says whether to rest.
                if !segment.partial {
                    self.rest_through(index)?;
                }
                continue;
            }
            let token = segment.token.ok_or_else(|| {
                EngineError::Config("perception returned a segment without a token".into())
            })?;
            if segment.onset {
                let onset = self.pipeline.origin + segment.segment.start;
                self.revise(index, onset, token)?;
                continue;
            }
            let p = &mut self.pipeline;
            if segment.partial {
                // The first W of guide segment `index`: slot `index` can be decided.
                p.stream.push_window(token)?;
                p.next_slot = index;
            } else {
                p.stream.push_guide(token)?;
                p.last_a = Some(token);
                if !p.window {
                    // Guide segment k completes slot k + 1 − L's inputs.
                    p.next_slot = index + 1 - p.timing.lookahead as u64;
                }
            }
            self.decide_ready_timed(started)?;
        }
        self.pipeline.encoded = encoded;
        let changes: Vec<NoteChange> = self.guide_pitch.take_changes().collect();
        for change in changes {
            self.answer_note_change(change)?;
        }
        self.rest_live()?;
        self.release_queued()
    }

    /// Live mode, Follow Harmony: the guide moved to a new note, heard at guide frame
    /// `change.at` ([`GuidePitch`]: about 35 ms into the note, before the onset detector has
    /// confirmed it, and for legato changes too). When the companion's note planned for a
    /// margin later clashes with it, the segment of the slot decided last is chosen again
    /// among its label's, hearing the new note, and the companion slurs into it then. Answered
    /// at that hop of the worker's clock, a margin ahead of what has been sent, so the output
    /// does not depend on the block size.
    fn answer_note_change(&mut self, change: NoteChange) -> Result<(), EngineError> {
        let p = &self.pipeline;
        let Some(last) = p.last_choice.filter(|_| !self.resting) else {
            return Ok(());
        };
        let at = (change.at + p.timing.margin).max(self.handle.last_at());
        if at >= self.follower.planned() {
            // Not planned yet: the next slot's decision hears the new note.
            return Ok(());
        }
        let corpus = Arc::clone(&p.corpus);
        let playing = self.follower.segment_planned_at(&corpus, at);
        if playing.is_none_or(|segment| p.navigator.fits(segment, Some(&change.pitches))) {
            return Ok(());
        }
        if self.beat_is_near(at) {
            return Ok(());
        }
        let decision = self
            .pipeline
            .navigator
            .decide_again(last.asked, Some(&change.pitches))?;
        let at = self.take_back_from(at);
        let entry = Entry::Now { at };
        self.queue_plan(
            last.slot,
            change.at,
            at,
            entry,
            last.asked,
            decision.segment,
        );
        self.pipeline.last_choice = Some(LastChoice {
            segment: decision.segment,
            ..last
        });
        Ok(())
    }

    /// Live with a reaction window, following onsets: a guide onset after the window its slot
    /// was decided from (a note that decision did not hear) asks perception for the window
    /// that starts at it, to decide the slot again ([`Self::revise`]). An onset too near the
    /// segment's end (its revision would not come before the segment ends) is left to the next
    /// slot's window.
    fn request_revision(&mut self, onset: u64) {
        let p = &mut self.pipeline;
        if p.timing.lookahead != 0 || !p.window || onset < p.origin {
            return;
        }
        let mut t = ((onset - p.origin) as f64 / p.timing.period).floor() as u64;
        while t > 0 && p.boundary(t) > onset {
            t -= 1;
        }
        while p.boundary(t + 1) <= onset {
            t += 1;
        }
        if onset >= p.boundary(t) + p.timing.shift && onset + p.revise_delay <= p.boundary(t + 1) {
            p.perception.request_window(t, onset - p.origin);
        }
    }

    /// Live mode: decides slot `t` again from the reaction window at a guide `onset` in its
    /// segment (a note its decision could not hear yet). When the label changes, or the note
    /// playing clashes with the guide's new one (Follow Harmony), the rest of the slot is
    /// planned again with a new segment from a margin after the onset was heard (detected, and
    /// its window resampled): the companion slurs into the new note there, and the predicted
    /// onsets after it go on as a slot's later ones do. The time depends on the onset only, and no
    /// grain from then on has been sent yet (they are sent a margin ahead), so the output
    /// still does not depend on the block size.
    fn revise(&mut self, t: u64, onset: u64, token: u32) -> Result<(), EngineError> {
        if self.resting || !self.follows_onsets() {
            return Ok(());
        }
        let guide = self.window_pitches(onset + self.pipeline.timing.shift);
        let p = &mut self.pipeline;
        let last = p
            .last_choice
            .filter(|last| last.slot == t && p.next_slot == t + 1);
        let Some(last) = last.filter(|_| p.stream.can_revise()) else {
            return Ok(());
        };
        p.stream.revise_window(token)?;
        p.logits.copy_from_slice(p.stream.next_logits()?);
        let requested = p.sampler.sample(&p.logits)?;
        let kept = last
            .segment
            .is_none_or(|segment| p.navigator.fits(segment, guide.as_ref()));
        if requested == last.asked && kept {
            p.stream.push_response(last.committed)?;
            return Ok(());
        }
        let decision = p.navigator.decide_again(requested, guide.as_ref())?;
        let committed = decision.played.unwrap_or(requested);
        p.stream.push_response(committed)?;
        p.last_choice = Some(LastChoice {
            slot: t,
            asked: requested,
            committed,
            segment: decision.segment,
        });
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
        self.queue_plan(t, heard, at, entry, requested, decision.segment);
        Ok(())
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

    /// Live mode: sends the queued grains due within the margin. Judged on the rest detector's
    /// settled clock, as rests are, so that what a rest takes back does not depend on the
    /// block size.
    fn release_queued(&mut self) -> Result<(), EngineError> {
        let due = self.rests.settled(self.consumed) + self.pipeline.timing.margin;
        while let Some(&QueuedGrain {
            slot,
            requested,
            grain,
        }) = self.queued.front().filter(|q| q.grain.at() <= due)
        {
            self.queued.pop_front();
            self.send_grain(slot, requested, grain)?;
        }
        Ok(())
    }

    /// Sends every queued grain now (before a command that must come after them).
    fn send_all_queued(&mut self) -> Result<(), EngineError> {
        while let Some(QueuedGrain {
            slot,
            requested,
            grain,
        }) = self.queued.pop_front()
        {
            self.send_grain(slot, requested, grain)?;
        }
        Ok(())
    }

    /// Sends one planned grain of slot `slot` (label `requested`) to the scheduler. Returns
    /// its time when it is a jump that was played (an attack, or a loop in a note's sustain).
    fn send_grain(
        &mut self,
        slot: u64,
        requested: u32,
        grain: Grain,
    ) -> Result<Option<u64>, EngineError> {
        match grain {
            Grain::Jump { at, memory } => {
                let corpus = &self.pipeline.corpus;
                let Some(id) = corpus.segment_at(memory) else {
                    return Ok(None);
                };
                let offset = memory - corpus.segments()[id.index()].start;
                self.handle.play_from(at, id, offset as u32)?;
                self.log_played(slot, at, Some(requested), Some(id), offset);
                self.resting = false;
                Ok(Some(at))
            }
            Grain::Continue { at, segment } => {
                self.handle.play(at, segment)?;
                Ok(None)
            }
        }
    }

    /// Live mode: once the guide has been silent for the hold, the companion fades out then
    /// (the margin later), in the slot playing, without waiting for the next slot's decision.
    /// A rest that begins in a slot not decided yet is left to that slot's decision, which
    /// rests from the same frame: the output does not depend on the block size.
    fn rest_live(&mut self) -> Result<(), EngineError> {
        let p = &self.pipeline;
        if p.timing.lookahead != 0 || !self.follows_rests() || self.resting || p.next_slot == 0 {
            return Ok(());
        }
        let now = self.rests.settled(self.consumed);
        let Some(from) = self
            .rests
            .silence_before(now)
            .map(|since| since + self.hold_frames())
            .filter(|&from| from <= now && from < p.boundary(p.next_slot))
        else {
            return Ok(());
        };
        let slot = p.next_slot - 1;
        let at = self.rest_frame(slot, from).max(self.handle.last_at());
        self.rest_at(slot, at)
    }

    /// Whether the companion rests with the guide (not while frozen: Freeze ignores the
    /// guide).
    fn follows_rests(&self) -> bool {
        self.settings.follow_rests && !self.settings.freeze
    }

    /// Whether the navigator prefers segments consonant with the guide's notes.
    fn hears_harmony(&self) -> bool {
        self.settings.follow_harmony
    }

    /// Whether the guide's note changes are answered as they are heard (live, following
    /// onsets and harmony).
    fn tracks_notes(&self) -> bool {
        self.pipeline.timing.lookahead == 0 && self.follows_onsets() && self.hears_harmony()
    }

    /// The guide's notes at the end of a reaction window ending at guide frame `end`: over its
    /// last [`WINDOW_TAIL_S`], the newest audio (a note that began inside the window).
    fn window_pitches(&mut self, end: u64) -> Option<Pitches> {
        if !self.hears_harmony() {
            return None;
        }
        let tail = ((WINDOW_TAIL_S * f64::from(self.host_rate)).round() as u64)
            .min(self.pipeline.timing.shift);
        self.guide_pitch.pitches(end.saturating_sub(tail), end)
    }

    /// The guide's notes as the decision for slot `t` hears them: at the end of the reaction
    /// window (live), over the guide's segment `t` (with a look-ahead), or over the last
    /// [`HEAR_S`] before the slot (live, without a window).
    fn heard_pitches(&mut self, t: u64) -> Option<Pitches> {
        if !self.hears_harmony() {
            return None;
        }
        let p = &self.pipeline;
        let start = p.boundary(t);
        let (from, until) = if p.timing.lookahead > 0 {
            (start, p.boundary(t + 1))
        } else if p.window {
            return self.window_pitches(start + p.timing.shift);
        } else {
            let hear = (HEAR_S * f64::from(self.host_rate)).round() as u64;
            (start.saturating_sub(hear), start)
        };
        self.guide_pitch.pitches(from, until)
    }

    /// Whether the companion's notes start with the guide's (not frozen): the onsets heard
    /// with a look-ahead, those predicted from the guide's pulse live.
    fn follows_onsets(&self) -> bool {
        self.settings.follow_onsets && !self.settings.freeze
    }

    /// The rest hold in host frames.
    fn hold_frames(&self) -> u64 {
        (f64::from(self.settings.rest_hold_seconds) * f64::from(self.host_rate)).round() as u64
    }

    /// Where the companion fades out for a rest known from guide frame `from` (in slot `slot`):
    /// as [`Self::output_frame`], but live the reaction window is not waited for (a rest is
    /// known when the guide has been silent for the hold, whatever the window).
    fn rest_frame(&self, slot: u64, from: u64) -> u64 {
        let p = &self.pipeline;
        let window = if p.window { p.timing.shift } else { 0 };
        self.output_frame(slot, from) - window
    }

    /// Where the companion sounds what goes with guide frame `frame` (in slot `slot`).
    fn output_frame(&self, slot: u64, frame: u64) -> u64 {
        let p = &self.pipeline;
        frame
            + (p.boundary(slot + p.timing.lookahead as u64) - p.boundary(slot))
            + p.timing.margin
            + p.timing.shift
    }

    /// Guide segment `index` lies within a rest and was skipped: the slot that would have
    /// answered it rests (with L = 1 its own, with L = 0 the next one).
    fn rest_through(&mut self, index: u64) -> Result<(), EngineError> {
        if self.resting {
            return Ok(());
        }
        let p = &self.pipeline;
        let (slot, from) = if p.timing.lookahead == 0 {
            (index + 1, p.boundary(index + 1))
        } else {
            let since = self
                .rests
                .silence_before(p.boundary(index + 1))
                .unwrap_or(p.boundary(index));
            (index, since + self.hold_frames())
        };
        let at = self.rest_frame(slot, from).max(self.handle.last_at());
        self.rest_at(slot, at)
    }

    /// Fades the companion out at host frame `at` for a rest in slot `slot` (live: the grains
    /// planned from then on are dropped).
    fn rest_at(&mut self, slot: u64, at: u64) -> Result<(), EngineError> {
        while self.queued.back().is_some_and(|q| q.grain.at() >= at) {
            self.queued.pop_back();
        }
        self.send_all_queued()?;
        self.handle.silence(at)?;
        self.follower.stop();
        self.resting = true;
        self.pipeline.navigator.observe_played(None);
        self.log_played(slot, at, None, None, 0);
        Ok(())
    }

    fn decide_ready(&mut self) -> Result<(), EngineError> {
        self.decide_ready_timed(Instant::now())
    }

    /// Decides every slot whose guide tokens are all known.
    fn decide_ready_timed(&mut self, started: Instant) -> Result<(), EngineError> {
        while self.pipeline.stream.ready() {
            self.decide(started)?;
        }
        Ok(())
    }

    /// Decides slot `t` (`next_slot`): sample a label, pick a segment, schedule it at
    /// `boundary(t + L) + shift + margin`. When following rests, a slot the guide rests in is
    /// silenced (the label still goes to the decision model), a slot the guide comes back in
    /// starts with the guide's onset (L = 1), and a slot the guide stops in fades out after
    /// the hold (L = 1).
    fn decide(&mut self, started: Instant) -> Result<(), EngineError> {
        let guide = self.heard_pitches(self.pipeline.next_slot);
        let p = &mut self.pipeline;
        let t = p.next_slot;
        p.next_slot += 1;
        p.logits.copy_from_slice(p.stream.next_logits()?);
        let requested = p.sampler.sample(&p.logits)?;
        p.distribution.clear();
        p.distribution
            .extend_from_slice(p.sampler.distribution(&p.logits)?);
        // Frozen: the corpus plays on from the segment that is sounding. Where there is nothing
        // to continue (silence, or the end of a recording), the navigator picks a new run.
        let frozen_next = if self.settings.freeze {
            p.navigator
                .last_played()
                .and_then(|last| p.corpus.successor(last))
        } else {
            None
        };
        let (segment, played) = match frozen_next {
            Some(next) => {
                p.navigator.observe_played(Some(next));
                (Some(next), Some(p.corpus.segments()[next.index()].label))
            }
            None => {
                let decision = p.navigator.decide_hearing(requested, guide.as_ref())?;
                (decision.segment, decision.played)
            }
        };
        let (guide_start, guide_end) = (p.boundary(t), p.boundary(t + 1));
        let live = p.timing.lookahead == 0;
        let committed = played.unwrap_or(requested);
        p.stream.push_response(committed)?;
        p.last_choice = Some(LastChoice {
            slot: t,
            asked: requested,
            committed,
            segment,
        });
        let slot_at = self.output_frame(t, guide_start);
        let follow = self.follows_rests();
        let hold = self.hold_frames();
        if follow && live {
            // Only the guide before this slot is known (and its reaction window): rest when it
            // has rested long enough and still does, from when it had (as `rest_live` does
            // while a slot plays). A guide back within the window is answered.
            let heard_to = if self.pipeline.window {
                guide_start + self.pipeline.timing.shift
            } else {
                guide_start
            };
            let rested_from = self
                .rests
                .silence_before(heard_to)
                .map(|since| since + hold)
                .filter(|&from| from <= guide_start);
            if let Some(from) = rested_from {
                if !self.resting {
                    // In the slot the rest began in, as `rest_live` would have had it.
                    let slot = if from < guide_start {
                        t.saturating_sub(1)
                    } else {
                        t
                    };
                    let at = self.rest_frame(slot, from).max(self.handle.last_at());
                    self.rest_at(slot, at)?;
                }
                return Ok(());
            }
        }
        // Back from a rest with the whole slot known: enter with the guide.
        let at = if follow && !live && self.resting && !self.rests.sounding_at(guide_start) {
            self.rests
                .first_onset(guide_start, guide_end)
                .map_or(slot_at, |onset| self.output_frame(t, onset))
        } else {
            slot_at
        };
        // Where the companion stops for a rest that begins in this slot (L = 1).
        let rest_from = if follow && !live {
            self.rests.silence_before(guide_end).and_then(|since| {
                let from = (since + hold).max(guide_start);
                (from < guide_end).then(|| self.output_frame(t, from))
            })
        } else {
            None
        };
        let first_at = if self.follows_onsets() && live {
            self.plan_live(t, slot_at, requested, segment)
        } else if self.follows_onsets() {
            self.play_with_onsets(t, slot_at, requested, segment, rest_from)?
        } else {
            self.send_all_queued()?;
            match segment {
                Some(id) => self.handle.play(at, id)?,
                None => self.handle.silence(at)?,
            }
            self.follower.stop();
            self.resting = false;
            self.log_played(t, at, Some(requested), segment, 0);
            Some(at)
        };
        let p = &mut self.pipeline;
        let half_fade = (f64::from(self.settings.crossfade_seconds) * f64::from(self.host_rate)
            / 2.0)
            .round() as u64;
        let late = first_at
            .is_some_and(|at| self.handle.telemetry().position() > at.saturating_sub(half_fade));
        let load = started.elapsed().as_secs_f64() * f64::from(self.host_rate) / p.timing.period;
        self.telemetry.publish_decision(
            p.last_a,
            requested,
            played,
            late,
            load as f32,
            &p.distribution,
        );
        if let Some(rest) = rest_from {
            // The guide stops within this slot: fade out once it has rested for the hold.
            let at = rest.max(first_at.unwrap_or(0)).max(self.handle.last_at());
            self.rest_at(t, at)?;
        }
        Ok(())
    }

    /// Plays slot `t` (chosen `segment`, for label `requested`; on the grid it starts at
    /// `grid_at`) following the guide's onsets: plans the grains for the guide's onsets from
    /// half a slot (the onset shift) before the slot to half a slot before its end, up to
    /// `rest_from` where the companion rests. Returns the first grain's time.
    fn play_with_onsets(
        &mut self,
        t: u64,
        grid_at: u64,
        requested: u32,
        segment: Option<SegmentId>,
        rest_from: Option<u64>,
    ) -> Result<Option<u64>, EngineError> {
        let p = &self.pipeline;
        let (guide_start, guide_end) = (p.boundary(t), p.boundary(t + 1));
        // The guide onsets this slot answers: those whose notes mostly fall in its segment.
        let span_end = guide_end.saturating_sub(p.timing.shift);
        let from = self
            .output_frame(t, guide_start.saturating_sub(p.timing.shift))
            .max(self.handle.last_at());
        let to = self.output_frame(t, span_end);
        let mut onsets = Vec::new();
        while let Some(&onset) = self.pending_onsets.front() {
            if onset >= span_end {
                break;
            }
            self.pending_onsets.pop_front();
            onsets.push(self.output_frame(t, onset));
        }
        let enter = !self.follows_rests()
            || self.rests.sounding_at(guide_start)
            || self.rests.first_onset(guide_start, guide_end).is_some();
        self.follower.skip_to(from);
        let corpus = Arc::clone(&self.pipeline.corpus);
        let grains = self
            .follower
            .plan(
                &corpus,
                to,
                &onsets,
                segment,
                Entry::Onsets { grid_at, enter },
            )
            .to_vec();
        let mut first = None;
        for grain in grains {
            if rest_from.is_some_and(|rest| grain.at() >= rest) {
                break;
            }
            if let Some(at) = self.send_grain(t, requested, grain)? {
                first.get_or_insert(at);
            }
        }
        let playing = self.follower.segment_at(&corpus, to);
        self.pipeline.navigator.observe_played(playing.or(segment));
        Ok(first)
    }

    /// Live mode: plans slot `t` (on the grid from `slot_at` to the next slot's start) on the
    /// guide's predicted onsets and queues its grains (see [`Self::release_queued`]); with no
    /// pulse to predict from, the slot changes on the grid. Returns the first attack's time.
    fn plan_live(
        &mut self,
        t: u64,
        slot_at: u64,
        requested: u32,
        segment: Option<SegmentId>,
    ) -> Option<u64> {
        let p = &self.pipeline;
        // The pulse of the onsets heard when the decision could be made: up to the slot's
        // start, and its reaction window.
        let heard_to = p.boundary(t) + if p.window { p.timing.shift } else { 0 };
        // After everything planned, sent or not (what is sent depends on the block size).
        let planned = self.queued.back().map_or(0, |q| q.grain.at());
        let from = slot_at.max(planned).max(self.handle.last_at());
        let entry = Entry::Onsets {
            grid_at: slot_at,
            enter: true,
        };
        self.queue_plan(t, heard_to, from, entry, requested, segment)
    }

    /// Live mode: plans slot `t` from output frame `from` to the next slot's start with the
    /// pulse of the guide onsets heard by guide frame `heard_to`, `segment` (for label
    /// `requested`) coming in as `entry` says, and queues the grains. Returns the first
    /// attack's time.
    fn queue_plan(
        &mut self,
        t: u64,
        heard_to: u64,
        from: u64,
        entry: Entry,
        requested: u32,
        segment: Option<SegmentId>,
    ) -> Option<u64> {
        let delay = OnsetDetector::delay_at(self.host_rate);
        while let Some(&onset) = self
            .pending_onsets
            .front()
            .filter(|&&o| o + delay <= heard_to)
        {
            self.pending_onsets.pop_front();
            self.predictor.push(onset);
        }
        let p = &self.pipeline;
        let to = self.output_frame(t + 1, p.boundary(t + 1));
        let corpus = Arc::clone(&p.corpus);
        self.predicted.clear();
        self.predictor.predict(from, to, &mut self.predicted);
        self.follower.skip_to(from);
        let grains = self
            .follower
            .plan(&corpus, to, &self.predicted, segment, entry);
        let first = grains
            .iter()
            .find(|g| matches!(g, Grain::Jump { .. }))
            .map(Grain::at);
        self.queued.extend(grains.iter().map(|&grain| QueuedGrain {
            slot: t,
            requested,
            grain,
        }));
        if first.is_some() {
            self.resting = false;
        }
        let playing = self.follower.segment_at(&corpus, to);
        self.pipeline.navigator.observe_played(playing.or(segment));
        first
    }

    /// Live mode: whether the guide's pulse predicts a note within [`MIN_ANSWER_S`] after
    /// output frame `at`. A note chosen again at `at` then waits for that beat: a slur into it
    /// at `at` would blur the beat more than the clash it mends.
    fn beat_is_near(&mut self, at: u64) -> bool {
        let hold = (MIN_ANSWER_S * f64::from(self.host_rate)).round() as u64;
        self.predicted.clear();
        self.predictor.predict(at, at + hold, &mut self.predicted);
        !self.predicted.is_empty()
    }

    /// Records a played slot (when recording): `segment` from `offset` frames into it.
    fn log_played(
        &mut self,
        slot: u64,
        at: u64,
        requested: Option<u32>,
        segment: Option<SegmentId>,
        offset: u64,
    ) {
        let Some(log) = &mut self.log else { return };
        let p = &self.pipeline;
        let origin = segment
            .and_then(|id| p.origins.origin(&p.corpus, id))
            .map(|mut origin| {
                let shift = offset as f64 / f64::from(self.host_rate);
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

    /// Publishes what plays now, when it changed since the last step.
    fn publish_now_playing(&mut self) {
        let raw = self.handle.telemetry().now_playing();
        if raw == self.now_playing_seen {
            return;
        }
        self.now_playing_seen = raw;
        let now = self.handle.now_playing().and_then(|(id, _)| {
            let p = &self.pipeline;
            let origin = p.origins.origin(&p.corpus, id)?;
            Some(NowPlaying {
                file: p.origins.file_index(&p.corpus, id)?,
                start_seconds: origin.start_seconds as f32,
                label: origin.label,
            })
        });
        self.telemetry.publish_now_playing(now);
    }
}
