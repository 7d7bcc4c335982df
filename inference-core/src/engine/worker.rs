//! The worker thread's side of the engine: an orchestrator that hears the guide, runs the
//! pipeline at every segment boundary and hands each decision to the companion's planner.
//!
//! * [`GuideListener`] (`guide/`): the guide's rests, onsets and notes;
//! * [`Pipeline`] (`pipeline.rs`): perception → decision → sampler → navigator;
//! * [`CompanionPlanner`] (`planner.rs`): the grains each decided slot plays.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use ringbuf::traits::Consumer;
use ringbuf::HeapCons;

use super::config::{EngineConfig, EngineSettings, WORKER_POLL};
use super::guide::GuideListener;
use super::loaded_preset::LoadedPreset;
use super::pipeline::{Mode, Pipeline};
use super::planner::{CompanionPlanner, Following, Played, PlayedSlot};
use super::telemetry::{EngineTelemetry, NowPlaying};
use super::EngineError;
use crate::action::{PlayingSegment, SchedulerHandle};
use crate::perception::Pitches;

/// Live with a reaction window: how much of its end the guide's notes are taken from, in
/// seconds (chosen by `eval-heard`: the newest audio answers best; see
/// docs/results/heard.md, "Following the guide's harmony").
const WINDOW_TAIL_S: f64 = 0.03;
/// Live without a reaction window: how much of the guide before a slot its decision hears the
/// notes of, in seconds.
const HEAR_S: f64 = 0.1;

/// Guide samples taken from the ring per pass.
const PASS: usize = 4096;

/// The engine on the worker thread. Owns the guide listener, the pipeline and the companion's
/// planner (with the scheduler's handle); everything it does may allocate.
pub struct EngineWorker {
    guide: HeapCons<f32>,
    settings_rx: HeapCons<EngineSettings>,
    presets: Receiver<LoadedPreset>,
    config: EngineConfig,
    settings: EngineSettings,
    host_rate: u32,
    telemetry: Arc<EngineTelemetry>,
    block: Vec<f32>,
    /// Guide frames consumed (with inserted silence): the worker's clock.
    consumed: u64,
    listener: GuideListener,
    pipeline: Pipeline,
    planner: CompanionPlanner,
    /// What the scheduler played at the last publication of what plays now.
    now_playing_seen: Option<PlayingSegment>,
    dropped_seen: u64,
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
            handle,
            telemetry,
        } = parts;
        config.settings.validate().map_err(EngineError::Config)?;
        let (pipeline, corpus) = Pipeline::new(preset, config, &config.settings, host_rate, 0)?;
        let mut planner = CompanionPlanner::new(handle, host_rate);
        planner.set_crossfade(config.settings.crossfade_seconds)?;
        planner.load_corpus(corpus)?;
        telemetry.set_latency(pipeline.latency());
        let mut worker = Self {
            guide,
            settings_rx,
            presets,
            config: config.clone(),
            settings: config.settings,
            host_rate,
            telemetry,
            block: vec![0.0; PASS],
            consumed: 0,
            listener: GuideListener::new(host_rate),
            pipeline,
            planner,
            now_playing_seen: None,
            dropped_seen: 0,
        };
        worker.decide_ready()?;
        Ok(worker)
    }

    /// Starts (or stops) keeping a record of every slot decided, for [`Self::take_played`].
    pub fn record_played(&mut self, enabled: bool) {
        self.planner.record_played(enabled);
    }

    /// The slots decided since the last call (when recording).
    pub fn take_played(&mut self) -> Vec<PlayedSlot> {
        self.planner.take_played()
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
        self.planner.resting()
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
        self.pipeline.apply_settings(&settings, &self.settings)?;
        if settings.crossfade_seconds != self.settings.crossfade_seconds {
            self.planner.set_crossfade(settings.crossfade_seconds)?;
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
        self.planner.load_corpus(corpus)?;
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
        busy |= self.planner.collect_retired() > 0;
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

    /// Feeds `self.block[..n]` to the guide listener and the pipeline, and decides every slot
    /// that becomes ready. Guide segments within a rest (silent throughout, and for the hold
    /// before them) are not encoded and not decided: their slots rest.
    fn push(&mut self, n: usize) -> Result<(), EngineError> {
        let mut start = 0;
        while start < n {
            let end = n.min(start + self.listener.until_hop());
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
        let follow = self.following();
        let track = self.tracks_notes(follow);
        let onsets = self.listener.hear(
            &self.block[piece.clone()],
            self.consumed,
            track,
            follow.onsets,
        );
        if follow.onsets {
            for onset in onsets {
                self.pipeline.request_revision(onset);
            }
        }
        let hold = follow.rests.then_some(follow.hold);
        let rests = self.listener.rests();
        let result = self.pipeline.perceive(&self.block[piece], |start, end| {
            hold.is_some_and(|hold| {
                rests.silent_over(start, end)
                    && rests
                        .silence_before(end)
                        .is_some_and(|since| since + hold <= start)
            })
        });
        self.consumed += n as u64;
        result?;
        let encoded = self.pipeline.take_encoded();
        for segment in &encoded {
            let index = segment.segment.index;
            if segment.frames == 0 {
                // A skipped window is no decision: its whole segment says whether to rest.
                if !segment.partial {
                    self.planner
                        .rest_through(&mut self.pipeline, &self.listener, follow, index)?;
                }
                continue;
            }
            let token = segment.token.ok_or_else(|| {
                EngineError::Config("perception returned a segment without a token".into())
            })?;
            if segment.onset {
                let onset = self.pipeline.origin() + segment.segment.start;
                self.revise(index, onset, token)?;
                continue;
            }
            self.pipeline.push_token(index, token, segment.partial)?;
            self.decide_ready_timed(started)?;
        }
        self.pipeline.restore_encoded(encoded);
        for change in self.listener.take_note_changes() {
            self.planner
                .answer_note_change(&mut self.pipeline, &mut self.listener, &change)?;
        }
        self.planner
            .rest_live(&mut self.pipeline, &self.listener, follow, self.consumed)?;
        self.planner
            .release_queued(&mut self.pipeline, &self.listener, self.consumed)
    }

    fn decide_ready(&mut self) -> Result<(), EngineError> {
        self.decide_ready_timed(Instant::now())
    }

    /// Decides every slot whose guide tokens are all known.
    fn decide_ready_timed(&mut self, started: Instant) -> Result<(), EngineError> {
        while self.pipeline.ready() {
            self.decide(started)?;
        }
        Ok(())
    }

    /// Decides the next slot (hearing the guide's notes as its decision can), has the planner
    /// play it, and publishes the decision.
    fn decide(&mut self, started: Instant) -> Result<(), EngineError> {
        let guide = self.heard_notes(self.pipeline.next_slot);
        let choice = self.pipeline.choose(guide.as_ref(), self.settings.freeze)?;
        let follow = self.following();
        let played = self
            .planner
            .play(&mut self.pipeline, &mut self.listener, follow, &choice)?;
        let Played::Slot {
            first_at,
            rest_from,
        } = played
        else {
            return Ok(());
        };
        let late = self
            .planner
            .is_late(first_at, self.settings.crossfade_seconds);
        let load = started.elapsed().as_secs_f64() * f64::from(self.host_rate)
            / self.pipeline.timing.period;
        let (last_a, distribution) = self.pipeline.last_decision();
        self.telemetry.publish_decision(
            last_a,
            choice.requested,
            choice.played,
            late,
            load as f32,
            distribution,
        );
        if let Some(rest) = rest_from {
            self.planner
                .rest_after(&mut self.pipeline, choice.slot, rest, first_at)?;
        }
        Ok(())
    }

    /// Live with a reaction window, following onsets: decides slot `t` again from the reaction
    /// window at a guide `onset` in its segment (a note its decision could not hear yet), and
    /// has the planner play the rest of the slot again when the choice changes.
    fn revise(&mut self, t: u64, onset: u64, token: u32) -> Result<(), EngineError> {
        if self.planner.resting() || !self.following().onsets {
            return Ok(());
        }
        let guide = self.window_notes(onset + self.pipeline.timing.shift);
        let Some(choice) = self.pipeline.revise(t, token, guide.as_ref())? else {
            return Ok(());
        };
        self.planner
            .replan_from_onset(&mut self.pipeline, &mut self.listener, &choice, onset);
        Ok(())
    }

    /// What of the guide the companion follows.
    fn following(&self) -> Following {
        Following::new(&self.settings, self.host_rate)
    }

    /// Whether the guide's note changes are answered as they are heard (live, following
    /// onsets and harmony).
    fn tracks_notes(&self, follow: Following) -> bool {
        self.pipeline.mode() == Mode::Live && follow.onsets && follow.harmony
    }

    /// The guide's notes at the end of a reaction window ending at guide frame `end`: over its
    /// last [`WINDOW_TAIL_S`], the newest audio (a note that began inside the window).
    fn window_notes(&mut self, end: u64) -> Option<Pitches> {
        if !self.settings.follow_harmony {
            return None;
        }
        let tail = ((WINDOW_TAIL_S * f64::from(self.host_rate)).round() as u64)
            .min(self.pipeline.timing.shift);
        self.listener.notes_over(end.saturating_sub(tail), end)
    }

    /// The guide's notes as the decision for slot `t` hears them: over the guide's segment `t`
    /// (with a look-ahead), at the end of the reaction window (live), or over the last
    /// [`HEAR_S`] before the slot (live, without a window).
    fn heard_notes(&mut self, t: u64) -> Option<Pitches> {
        if !self.settings.follow_harmony {
            return None;
        }
        let p = &self.pipeline;
        let start = p.boundary(t);
        let (from, until) = match p.mode() {
            Mode::Aligned => (start, p.boundary(t + 1)),
            Mode::Live if p.window => return self.window_notes(start + p.timing.shift),
            Mode::Live => {
                let hear = (HEAR_S * f64::from(self.host_rate)).round() as u64;
                (start.saturating_sub(hear), start)
            }
        };
        self.listener.notes_over(from, until)
    }

    /// Publishes what plays now, when it changed since the last step.
    fn publish_now_playing(&mut self) {
        let raw = self.planner.handle().telemetry().now_playing();
        if raw == self.now_playing_seen {
            return;
        }
        self.now_playing_seen = raw;
        let now = self.planner.handle().now_playing().and_then(|(id, _)| {
            let origin = self.pipeline.origin_of(id)?;
            Some(NowPlaying {
                file: self.pipeline.file_of(id)?,
                start_seconds: origin.start_seconds as f32,
                label: origin.label,
            })
        });
        self.telemetry.publish_now_playing(now);
    }
}
