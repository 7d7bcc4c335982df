//! The engine's worker thread: loads presets, builds engines, runs the engine's worker (segment,
//! encode, decide, schedule) and frees what the audio thread is done with.
//!
//! Started in [`Plugin::activate`](nice_plug::prelude::Plugin::activate), stopped (and joined)
//! when the plugin deactivates or is dropped. Loading a preset (file reading, corpus
//! resampling, model and encoder sessions) runs on a separate loader thread, so that the engine
//! that plays meanwhile keeps deciding on time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use counterpart_core::engine::{
    build, resegment, EncoderSearch, EngineConfig, EngineWorker, LoadedPreset,
    DEFAULT_WORKER_MARGIN_S,
};
use counterpart_core::perception::SegmentLength;
use counterpart_core::preset::Preset;
use crossbeam_channel::{Receiver, TryRecvError};
use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};

use crate::dry_delay::DryDelay;
use crate::handoff::{BuildProgress, Handoff, Installed, SegmentGrid, TravellingWorker};
use crate::params::{CounterpartParams, SegmentChoice};
use crate::preset_source::PresetSource;
use crate::shared::{EngineStatus, PresetInfo, SharedState};

/// The tempo note-value segments are measured at when the host reports none.
const DEFAULT_BPM: f64 = 120.0;

/// How long the worker waits for the host's first block (and tempo) before cutting the corpus
/// into note values at the default tempo.
const TEMPO_WAIT: Duration = Duration::from_millis(500);

/// How long the worker sleeps when there is nothing to do.
const IDLE_SLEEP: Duration = Duration::from_millis(2);
/// How long it sleeps when there is nothing to do and the companion rests with the guide:
/// the first decision after the rest then comes up to this much later, well within the
/// worker margin (120 ms), and a silent guide costs a tenth of the wake-ups.
const RESTING_SLEEP: Duration = Duration::from_millis(20);

/// What the worker thread needs to know about the host's audio setup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostSetup {
    /// The host's sample rate in Hz.
    pub sample_rate: u32,
    /// The audio thread's dry delay line's length at activation, in frames.
    pub dry_delay_frames: usize,
}

/// The channels and shared state the worker thread works with.
pub struct WorkerLinks {
    /// The plugin's parameters (structural values and the preset path are read here).
    pub params: Arc<CounterpartParams>,
    /// State shared with the GUI and the audio thread.
    pub shared: Arc<SharedState>,
    /// Engines to the audio thread.
    pub handoff: HeapProd<Handoff>,
    /// Engines back from the audio thread, to be freed here.
    pub returned: HeapCons<Box<Installed>>,
    /// Worker halves back from the audio thread (the host is in real time again).
    pub travel_in: HeapCons<TravellingWorker>,
    /// Worker halves to the audio thread (the host renders offline).
    pub travel_out: HeapProd<TravellingWorker>,
    /// Build counters (for offline renders).
    pub progress: Arc<BuildProgress>,
}

/// The running worker thread, owned by the plugin on the main thread.
pub struct WorkerThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerThread").finish_non_exhaustive()
    }
}

impl WorkerThread {
    /// Starts the worker thread; it loads the preset the parameters name and hands the engine to
    /// the audio thread. The caller must have counted that first build with
    /// [`BuildProgress::start`].
    pub fn spawn(links: WorkerLinks, setup: HostSetup) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("counterpart-worker".into())
            .spawn(move || Worker::new(links, setup).run(&thread_stop))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it (and for a load under way).
    pub fn stop(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                nice_plug::nice_error!("the Counterpart worker thread panicked");
            }
        }
    }
}

impl Drop for WorkerThread {
    fn drop(&mut self) {
        self.join();
    }
}

/// Everything that decides which engine should play: when it changes, a new one is built.
#[derive(Debug, Clone, PartialEq)]
struct BuildKey {
    source: PresetSource,
    reloads: u64,
    resets: u64,
    lookahead: usize,
    seed: u64,
    segment: SegmentChoice,
    /// The host tempo, in hundredths of a BPM, for tempo-synced segments.
    tempo_centi_bpm: Option<u64>,
}

impl BuildKey {
    /// The tempo segments follow: the host's, else [`DEFAULT_BPM`].
    fn bpm(&self) -> f64 {
        self.tempo_centi_bpm
            .map_or(DEFAULT_BPM, |centi| centi as f64 / 100.0)
    }
}

/// A preset ready to load, with the editor's view of it.
#[derive(Clone)]
struct Prepared {
    preset: Arc<Preset>,
    info: Arc<PresetInfo>,
}

impl Prepared {
    fn new(preset: Preset, source: &PresetSource) -> Self {
        let info = Arc::new(PresetInfo::new(&preset, source.describe()));
        Self {
            preset: Arc::new(preset),
            info,
        }
    }
}

/// The preset as read from its source and, if the segment control asked for it, re-cut: kept
/// so that rebuilding (a reset, another seed or look-ahead) does not read, decode or re-cut the
/// corpus again.
struct PresetCache {
    source: PresetSource,
    reloads: u64,
    read: Prepared,
    recut: Option<(SegmentChoice, u64, Prepared)>,
}

/// What a loader thread is asked to do.
struct LoadRequest {
    source: PresetSource,
    /// The segment control, and the tempo a note value is measured at.
    segment: SegmentChoice,
    bpm: f64,
    /// The preset as read, when cached.
    read: Option<Prepared>,
    /// The re-cut preset, when cached.
    recut: Option<Prepared>,
    /// The look-ahead whose decision model to load.
    lookahead: usize,
    rate: u32,
    /// Set when the load is no longer wanted: a corpus re-cut then stops early.
    cancel: Arc<AtomicBool>,
}

/// What a loader thread sends back: the preset as read, the preset that plays (re-cut or
/// not), and its runtime objects.
type LoadResult = Result<(Prepared, Prepared, LoadedPreset), String>;

/// A load under way on a loader thread.
struct Loading {
    key: BuildKey,
    thread: JoinHandle<()>,
    result: Receiver<LoadResult>,
    cancel: Arc<AtomicBool>,
}

impl Loading {
    /// Asks the loader to stop early and hands back its thread, to be joined.
    fn abandon(self) -> JoinHandle<()> {
        self.cancel.store(true, Ordering::Relaxed);
        self.thread
    }
}

/// The worker thread's state.
struct Worker {
    links: WorkerLinks,
    setup: HostSetup,
    /// The key of the engine playing (or that failed to build).
    current: Option<BuildKey>,
    /// The playing engine's worker half, in real time (offline, it runs on the audio thread).
    worker: Option<EngineWorker>,
    /// The id of the last engine sent to the audio thread ([`Installed::id`]).
    engine_id: u64,
    /// Whether the host renders offline, as last seen.
    offline: bool,
    /// The audio thread's dry delay line's length, in frames: an engine with a longer latency
    /// brings a longer line.
    dry_delay_frames: usize,
    loading: Option<Loading>,
    /// Loader threads whose result is no longer wanted, joined once they finish.
    abandoned: Vec<JoinHandle<()>>,
    cache: Option<PresetCache>,
    /// Whether the preset as read is tempo-synced.
    tempo_synced: bool,
}

impl Worker {
    fn new(links: WorkerLinks, setup: HostSetup) -> Self {
        Self {
            links,
            setup,
            current: None,
            worker: None,
            engine_id: 0,
            offline: false,
            dry_delay_frames: setup.dry_delay_frames,
            loading: None,
            abandoned: Vec::new(),
            cache: None,
            tempo_synced: false,
        }
    }

    fn run(mut self, stop: &AtomicBool) {
        // The first build was counted by whoever spawned this thread.
        let mut counted = true;
        let started = std::time::Instant::now();
        while !stop.load(Ordering::Acquire) {
            let mut busy = self.free_returned();
            let wanted = self.wanted();
            // Note-value segments are measured at the host's tempo: give the host a moment to
            // report it before cutting the corpus.
            let tempo_pending = wanted.segment.note().is_some()
                && !self.links.shared.transport_seen()
                && started.elapsed() < TEMPO_WAIT;
            if self.current.as_ref() != Some(&wanted)
                && self.loading.as_ref().map(|l| &l.key) != Some(&wanted)
                && !tempo_pending
            {
                if !counted {
                    self.links.progress.start();
                }
                counted = false;
                self.start_loading(wanted);
                busy = true;
            }
            busy |= self.finish_loading();
            busy |= self.move_worker();
            if let Some(worker) = &mut self.worker {
                match worker.step() {
                    Ok(stepped) => busy |= stepped,
                    Err(error) => {
                        worker.telemetry().count_error();
                        nice_plug::nice_error!("Counterpart engine: {error}");
                    }
                }
            }
            if !busy {
                let resting = self.worker.as_ref().is_some_and(EngineWorker::resting);
                std::thread::sleep(if resting { RESTING_SLEEP } else { IDLE_SLEEP });
            }
        }
        // Cancel loads and wait for them (a re-cut stops after its current corpus file), so
        // that no thread outlives the plugin.
        if let Some(loading) = self.loading.take() {
            let _ = loading.abandon().join();
            self.links.progress.finish();
        }
        for thread in self.abandoned.drain(..) {
            let _ = thread.join();
        }
        if counted {
            // A build was counted but never started: do not leave an offline render waiting.
            self.links.progress.finish();
        }
    }

    /// The engine the parameters and the host ask for now.
    fn wanted(&self) -> BuildKey {
        let params = &self.links.params;
        let shared = &self.links.shared;
        BuildKey {
            source: PresetSource::from_path(params.preset_path()),
            reloads: shared.reloads(),
            resets: shared.resets(),
            lookahead: params.lookahead.value().segments(),
            seed: params.seed.value().max(0) as u64,
            segment: params.segment.value(),
            tempo_centi_bpm: if self.tempo_synced || params.segment.value().note().is_some() {
                shared
                    .host_tempo()
                    .map(|bpm| (bpm * 100.0).round().max(1.0) as u64)
            } else {
                None
            },
        }
    }

    /// Frees engines the audio thread is done with. Returns whether there were any.
    fn free_returned(&mut self) -> bool {
        let mut any = false;
        while let Some(engine) = self.links.returned.try_pop() {
            drop(engine);
            any = true;
        }
        any
    }

    /// Hands the playing engine's worker half to the audio thread while the host renders
    /// offline, and takes it back when the audio thread returns it. Halves of engines no
    /// longer playing are freed. Returns whether one moved.
    fn move_worker(&mut self) -> bool {
        let mut moved = false;
        while let Some(travelling) = self.links.travel_in.try_pop() {
            if travelling.id == self.engine_id && self.worker.is_none() {
                self.worker = Some(travelling.worker);
            }
            moved = true;
        }
        let offline = self.links.shared.freewheeling();
        if offline != self.offline {
            self.offline = offline;
            nice_plug::nice_log!(
                "Counterpart: the host renders {}",
                if offline {
                    "offline: the audio thread decides"
                } else {
                    "in real time: the worker thread decides"
                }
            );
        }
        if offline {
            if let Some(worker) = self.worker.take() {
                let travelling = TravellingWorker {
                    id: self.engine_id,
                    worker,
                };
                if let Err(travelling) = self.links.travel_out.try_push(travelling) {
                    self.worker = Some(travelling.worker);
                } else {
                    moved = true;
                }
            }
        }
        moved
    }

    /// Starts loading the preset `key` names on a loader thread (reusing the decoded preset
    /// when only the seed, look-ahead, tempo or a reset changed).
    fn start_loading(&mut self, key: BuildKey) {
        if let Some(old) = self.loading.take() {
            // A newer request supersedes it: it is cancelled, its result is dropped if it
            // arrives, and its thread is joined once it has finished.
            self.abandoned.push(old.abandon());
            self.links.progress.finish();
        }
        self.abandoned.retain(|thread| !thread.is_finished());
        let cache = self
            .cache
            .as_ref()
            .filter(|c| c.source == key.source && c.reloads == key.reloads);
        let centi = key.tempo_centi_bpm.unwrap_or(0);
        let request = LoadRequest {
            source: key.source.clone(),
            segment: key.segment,
            bpm: key.bpm(),
            read: cache.map(|c| c.read.clone()),
            recut: cache
                .and_then(|c| c.recut.as_ref())
                .filter(|(segment, tempo, _)| *segment == key.segment && *tempo == centi)
                .map(|(_, _, prepared)| prepared.clone()),
            lookahead: key.lookahead,
            rate: self.setup.sample_rate,
            cancel: Arc::new(AtomicBool::new(false)),
        };
        let cancel = Arc::clone(&request.cancel);
        let what = match key.segment.note() {
            Some(note) if request.recut.is_none() => format!(
                "{}, re-cut into {note} notes at {:.1} BPM",
                key.source.describe(),
                request.bpm
            ),
            _ => key.source.describe(),
        };
        self.links.shared.set_status(EngineStatus::Loading(what));
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("counterpart-loader".into())
            .spawn(move || {
                let _ = tx.send(load(request));
            });
        match spawned {
            Ok(thread) => {
                self.loading = Some(Loading {
                    key,
                    thread,
                    result: rx,
                    cancel,
                })
            }
            Err(error) => self.fail(key, format!("cannot start the loader thread: {error}")),
        }
    }

    /// Builds and hands over the engine when its preset has loaded. Returns whether it did.
    fn finish_loading(&mut self) -> bool {
        let Some(loading) = &self.loading else {
            return false;
        };
        let result = match loading.result.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => Err("the preset loader stopped unexpectedly".into()),
        };
        let Some(loading) = self.loading.take() else {
            return false;
        };
        let _ = loading.thread.join();
        let key = loading.key;
        if key != self.wanted() {
            // Superseded while loading: the next turn starts the newer one.
            self.links.progress.finish();
            self.current = None;
            return true;
        }
        match result.and_then(|(read, playing, loaded)| {
            self.tempo_synced = matches!(
                read.preset.segmentation.length,
                counterpart_core::preset::SegmentLength::TempoSynced { .. }
            );
            let info = Arc::clone(&playing.info);
            self.cache = Some(PresetCache {
                source: key.source.clone(),
                reloads: key.reloads,
                read,
                recut: key
                    .segment
                    .note()
                    .map(|_| (key.segment, key.tempo_centi_bpm.unwrap_or(0), playing)),
            });
            self.install(&key, loaded).map(|()| info)
        }) {
            Ok(info) => {
                nice_plug::nice_log!("Counterpart: playing {}", info.name);
                self.links.shared.set_preset(Some(info));
                self.links.shared.set_status(EngineStatus::Running);
                self.current = Some(key);
            }
            Err(message) => self.fail(key, message),
        }
        true
    }

    /// Builds the engine for `loaded` and sends it to the audio thread.
    fn install(&mut self, key: &BuildKey, loaded: LoadedPreset) -> Result<(), String> {
        let rate = self.setup.sample_rate;
        let tempo_bpm = key.tempo_centi_bpm.map(|c| c as f64 / 100.0);
        let period_beats = match loaded.segmentation.length {
            SegmentLength::Seconds(_) => None,
            SegmentLength::Tempo { note, .. } => Some(note.beats()),
        };
        let settings = self.links.params.engine_settings();
        let config = EngineConfig {
            lookahead: Some(key.lookahead),
            settings,
            seed: key.seed,
            worker_margin_seconds: DEFAULT_WORKER_MARGIN_S,
            tempo_bpm,
            ..EngineConfig::default()
        };
        let engine =
            build(loaded, &config, rate).map_err(|e| format!("cannot start the engine: {e}"))?;
        let latency = engine.audio.latency_samples();
        let grid = SegmentGrid {
            period_samples: engine.worker.segment_samples(),
            period_beats,
        };
        let telemetry = Arc::clone(engine.control.telemetry());
        // Offline, the audio thread runs the worker half itself.
        let (on_audio, worker) = if self.links.shared.freewheeling() {
            (Some(engine.worker), None)
        } else {
            (None, Some(engine.worker))
        };
        // Its crossfade length is taken from the line it continues.
        let dry_delay =
            (latency as usize > self.dry_delay_frames).then(|| DryDelay::new(latency as usize, 1));
        let id = self.engine_id + 1;
        let installed = Box::new(Installed {
            id,
            audio: engine.audio,
            worker: on_audio,
            control: engine.control,
            grid,
            latency,
            settings,
            epoch: key.resets,
            dry_delay,
        });
        if self
            .links
            .handoff
            .try_push(Handoff::Install(installed))
            .is_err()
        {
            return Err("the audio thread is not taking new engines (is it processing?)".into());
        }
        self.engine_id = id;
        if latency as usize > self.dry_delay_frames {
            self.dry_delay_frames = latency as usize;
        }
        self.links.progress.finish();
        // The old engine's worker goes now; its audio half fades out on the audio thread and
        // comes back here to be freed.
        self.worker = worker;
        self.links.shared.set_telemetry(Some(telemetry));
        Ok(())
    }

    /// Reports a failed load or build: the audio thread passes dry audio.
    fn fail(&mut self, key: BuildKey, message: String) {
        nice_plug::nice_error!("Counterpart: {message}");
        self.worker = None;
        let _ = self.links.handoff.try_push(Handoff::Clear(key.resets));
        self.links.progress.finish();
        self.links.shared.set_telemetry(None);
        self.links.shared.set_status(EngineStatus::Failed(message));
        self.current = Some(key);
    }
}

/// Reads the preset (unless cached), re-cuts its corpus if the segment control asks for it
/// (unless cached), and turns it into runtime objects (loader thread).
fn load(request: LoadRequest) -> LoadResult {
    let source = &request.source;
    let search = EncoderSearch::default();
    let read = match request.read {
        Some(read) => read,
        None => Prepared::new(source.read()?, source),
    };
    let playing = match (request.segment.note(), request.recut) {
        (None, _) => read.clone(),
        (Some(_), Some(recut)) => recut,
        (Some(note), None) => {
            let length = counterpart_core::preset::SegmentLength::TempoSynced {
                note,
                bpm: request.bpm,
            };
            let recut = resegment(&read.preset, length, &search, &request.cancel).map_err(|e| {
                format!(
                    "cannot cut {} into {note} notes at {:.1} BPM: {e}",
                    source.describe(),
                    request.bpm
                )
            })?;
            Prepared::new(recut, source)
        }
    };
    let loaded = LoadedPreset::load_for(
        &playing.preset,
        request.rate,
        &search,
        Some(request.lookahead),
    )
    .map_err(|e| format!("cannot load {}: {e}", source.describe()))?;
    Ok((read, playing, loaded))
}
