//! The engine's worker thread: loads presets, builds engines, runs the engine's worker (segment,
//! encode, decide, schedule) and frees what the audio thread is done with.
//!
//! It lives as long as the plugin: started at the first activation, stopped and joined when the
//! plugin is dropped. Each activation is a session ([`WorkerThread::activate`]): its engines
//! and hand-off rings go when it ends ([`WorkerThread::deactivate`]), but what was loaded
//! stays in the [`Library`], so that the next activation plays again in milliseconds. Neither
//! call waits for the thread. Loading a preset (file reading, corpus resampling and re-cutting,
//! model and encoder sessions) runs on a loader thread, so that the engine that plays
//! meanwhile keeps deciding on time.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use counterpart_core::engine::{
    build, EngineConfig, EngineTelemetry, EngineWorker, LoadedPreset, WORKER_POLL,
};
use counterpart_core::perception::SegmentLength;
use counterpart_core::preset::PresetTiming;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};

use crate::audio_thread::AudioSide;
use crate::error::PluginError;
use crate::handoff::{BuildProgress, Handoff, Installed, SegmentGrid};
use crate::latency::{Announced, LatencyKey};
use crate::library::{Library, LoadKey};
use crate::params::CounterpartParams;
use crate::preset_source::PresetSource;
use crate::shared::{EngineStatus, SharedState};
use crate::worker_migration::WorkerEnd;

/// How long the worker waits for the host's first block (and tempo) before cutting the corpus
/// into note values at the default tempo.
const TEMPO_WAIT: Duration = Duration::from_millis(500);

/// How long settings that need a new engine must stay unchanged before it is built, once one
/// plays: a burst of changes (automation, a preset's parameters) builds one engine, for the
/// last of them.
const SETTLE: Duration = Duration::from_millis(40);

/// How long it sleeps when there is nothing to do and the companion rests with the guide:
/// the first decision after the rest then comes up to this much later, well within the
/// worker margin (120 ms), and a silent guide costs a tenth of the wake-ups.
const RESTING_SLEEP: Duration = Duration::from_millis(20);
/// How long it sleeps while the plugin is inactive and a load is under way (it wakes at once
/// for an activation).
const INACTIVE_SLEEP: Duration = Duration::from_millis(20);

/// What the worker thread needs to know about the host's audio setup.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSetup {
    /// The host's sample rate in Hz.
    pub sample_rate: u32,
    /// The latency reported at activation, which every engine of the session must have.
    pub announced: Announced,
    /// The preset's header it was computed from, as read at activation.
    pub header: TimingEntry,
}

/// The channels one activation's worker session works with.
pub struct WorkerLinks {
    /// Engines to the audio thread.
    pub handoff: HeapProd<Handoff>,
    /// Engines back from the audio thread, to be freed here.
    pub returned: HeapCons<Box<Installed>>,
    /// The worker half's road to the audio thread (the host renders offline) and back.
    pub migration: WorkerEnd,
    /// Build counters (for offline renders).
    pub progress: Arc<BuildProgress>,
}

/// What the main thread tells the worker thread.
enum WorkerCommand {
    /// The plugin was activated: play with these links.
    Activate(Box<Session>),
    /// The plugin was deactivated: drop the session's engines and the audio side, keep what
    /// was loaded.
    Deactivate(Option<Box<AudioSide>>),
}

/// The running worker thread, owned by the plugin on the main thread.
pub struct WorkerThread {
    commands: Option<Sender<WorkerCommand>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerThread").finish_non_exhaustive()
    }
}

impl WorkerThread {
    /// Starts the worker thread, inactive (main thread).
    pub fn spawn(
        params: Arc<CounterpartParams>,
        shared: Arc<SharedState>,
    ) -> std::io::Result<Self> {
        let (commands, received) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("counterpart-worker".into())
            .spawn(move || {
                WorkerState {
                    library: Library::new(Arc::clone(shared.load_progress())),
                    params,
                    shared,
                    session: None,
                    timing: None,
                }
                .run(&received)
            })?;
        Ok(Self {
            commands: Some(commands),
            thread: Some(thread),
        })
    }

    /// Starts a session for an activation: the worker builds the engine the parameters name
    /// (from what it keeps, or after loading it) and hands it to the audio thread through
    /// `links`. The caller must have counted that first build with [`BuildProgress::start`].
    /// Main thread; returns at once.
    pub fn activate(&self, links: WorkerLinks, setup: HostSetup) {
        let session = Session::new(links, setup);
        self.send(WorkerCommand::Activate(Box::new(session)));
    }

    /// Ends the session: its engines, and the audio side the plugin is done with, are dropped
    /// on the worker thread; what was loaded (or is loading) is kept for the next activation.
    /// Main thread; returns at once.
    pub fn deactivate(&self, audio: Option<AudioSide>) {
        self.send(WorkerCommand::Deactivate(audio.map(Box::new)));
    }

    fn send(&self, command: WorkerCommand) {
        if let Some(commands) = &self.commands {
            // The thread only stops when this is dropped.
            let _ = commands.send(command);
        }
    }
}

impl Drop for WorkerThread {
    /// Stops the thread and waits for it, and for the loads it cancels (main thread, when the
    /// plugin is dropped).
    fn drop(&mut self) {
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                nice_plug::nice_error!("the Counterpart worker thread panicked");
            }
        }
    }
}

/// Everything that decides which engine should play: when it changes, a new one is built.
#[derive(Debug, Clone, PartialEq)]
struct BuildKey {
    load: LoadKey,
    resets: u64,
    lookahead: usize,
    seed: u64,
    /// The host tempo, in hundredths of a BPM, for tempo-synced segments.
    tempo_centi_bpm: Option<u64>,
}

/// One activation: its links to the audio thread and the engine it plays.
struct Session {
    links: WorkerLinks,
    setup: HostSetup,
    /// When it started (note-value segments wait a moment for the host's tempo).
    started: Instant,
    /// The key of the engine playing (or that failed to build).
    current: Option<BuildKey>,
    /// The settings asked for that differ from the current ones, settling.
    wanted: Settling<BuildKey>,
    /// Whether a build is counted in the build progress (an offline render waits for it).
    counted: bool,
    /// The playing engine's worker half, in real time (offline, it runs on the audio thread).
    worker: Option<EngineWorker>,
    /// The id of the last engine sent to the audio thread ([`Installed::id`]).
    engine_id: u64,
    /// Whether the host renders offline, as last seen.
    offline: bool,
    /// The settings last found to need a restart of the plugin (asked for once).
    restart_asked: Option<LatencyKey>,
}

/// The worker thread's state.
struct WorkerState {
    params: Arc<CounterpartParams>,
    shared: Arc<SharedState>,
    session: Option<Session>,
    library: Library,
    /// The header of the preset asked for last, with its reload count (read at activation,
    /// or when the preset or its reload count changes).
    timing: Option<TimingEntry>,
}

/// A preset's header as read for a source and reload count (its error when unreadable).
pub type TimingEntry = ((PresetSource, u64), Result<PresetTiming, PluginError>);

impl WorkerState {
    fn run(mut self, commands: &Receiver<WorkerCommand>) {
        let mut busy = true;
        loop {
            let wait = match &self.session {
                _ if busy => Duration::ZERO,
                None => INACTIVE_SLEEP,
                Some(session) if session.worker.as_ref().is_some_and(EngineWorker::resting) => {
                    RESTING_SLEEP
                }
                Some(_) => WORKER_POLL,
            };
            match commands.recv_timeout(wait) {
                Ok(WorkerCommand::Activate(session)) => self.start_session(*session),
                Ok(WorkerCommand::Deactivate(audio)) => {
                    self.end_session();
                    drop(audio);
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The plugin is going.
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.session.is_none() && self.library.is_idle() {
                // Nothing to do until the next command.
                match commands.recv() {
                    Ok(WorkerCommand::Activate(session)) => self.start_session(*session),
                    Ok(WorkerCommand::Deactivate(audio)) => drop(audio),
                    Err(_) => break,
                }
            }
            busy = self.turn();
        }
        self.end_session();
        // Cancel loads and wait for them, so that no thread outlives the plugin.
        self.library.shut_down();
    }

    /// Starts a session for an activation, which retries a load that failed.
    fn start_session(&mut self, session: Session) {
        self.end_session();
        self.library.forget_failure();
        // The header the latency was announced from, so that the session's engines follow it.
        self.timing = Some(session.setup.header.clone());
        self.session = Some(session);
    }

    /// Ends the session, if any: its engines go, and an offline render waits no longer.
    fn end_session(&mut self) {
        if let Some(session) = self.session.take() {
            if session.counted {
                session.links.progress.finish();
            }
        }
    }

    /// One turn of work. Returns whether there was any.
    fn turn(&mut self) -> bool {
        let mut busy = self.library.poll();
        let Some(session) = &mut self.session else {
            return busy;
        };
        busy |= session.free_returned();
        let (current, rate) = (session.current.clone(), session.setup.sample_rate);
        if let Some(wanted) = self.wanted(rate) {
            if current.as_ref() != Some(&wanted) {
                busy |= self.build(wanted);
            }
        }
        let Some(session) = &mut self.session else {
            return busy;
        };
        busy |= session.move_worker(&self.shared);
        if let Some(worker) = &mut session.worker {
            match worker.step() {
                Ok(stepped) => busy |= stepped,
                Err(error) => {
                    worker.telemetry().count_error();
                    nice_plug::nice_error!("Counterpart engine: {error}");
                }
            }
        }
        busy
    }

    /// The engine to build for what the parameters and the host ask for now, at the latency
    /// announced at activation: `None` when that cannot be (the engine playing goes on). A
    /// request that needs another latency asks the host, once, to restart the plugin.
    fn wanted(&mut self, rate: u32) -> Option<BuildKey> {
        let source = PresetSource::from_path(self.params.preset_path());
        let reloads = self.shared.reloads();
        let cached = (source.clone(), reloads);
        if self.timing.as_ref().is_none_or(|(key, _)| *key != cached) {
            self.timing = Some((cached, source.timing()));
        }
        let timing = self.timing.as_ref().map(|(_, timing)| timing.as_ref())?;
        let asked = LatencyKey::wanted(source, &self.params, self.shared.host_tempo(), timing.ok());
        let session = self.session.as_mut()?;
        let (fitted, restart) = session.setup.announced.fit(timing, &asked);
        self.shared.set_restart_pending(restart);
        if restart && session.restart_asked.as_ref() != Some(&asked) {
            nice_plug::nice_log!(
                "Counterpart: the settings asked for need another latency; asking the host to \
                 restart the plugin (it plays at the latency it announced until then)"
            );
            self.shared.request_restart();
            session.restart_asked = Some(asked);
        }
        let Some(key) = fitted else {
            // Nothing to build: an offline render waits for no build.
            session.finish_build();
            return None;
        };
        let note = key.segment.note().is_some();
        Some(BuildKey {
            load: LoadKey {
                source: key.source,
                reloads,
                recordings: self.params.recordings(),
                segment: key.segment,
                tempo_centi_bpm: key.tempo_centi_bpm.filter(|_| note),
                rate,
            },
            resets: self.shared.resets(),
            lookahead: key.lookahead,
            seed: self.params.seed.value().max(0) as u64,
            tempo_centi_bpm: key.tempo_centi_bpm,
        })
    }

    /// Works towards the engine `wanted`: once the settings have settled, builds it from what
    /// the library holds, or has the library load it. Returns whether anything changed.
    fn build(&mut self, wanted: BuildKey) -> bool {
        let Some(session) = &mut self.session else {
            return false;
        };
        if !session.counted {
            session.links.progress.start();
            session.counted = true;
        }
        // The first engine of a session is built at once, later ones once the settings settle.
        let settled = session.wanted.offer(&wanted, Instant::now());
        if session.current.is_some() && !settled {
            return false;
        }
        // Note-value segments are measured at the host's tempo: give the host a moment to
        // report it before cutting the corpus.
        if wanted.load.segment.note().is_some()
            && !self.shared.transport_seen()
            && session.started.elapsed() < TEMPO_WAIT
        {
            return false;
        }
        let loading = self.library.loading(&wanted.load);
        match self.library.ready(&wanted.load) {
            Some(Ok(loaded)) => {
                let (info, recorded) = (loaded.info(), loaded.recorded());
                match loaded.runtime(wanted.lookahead).and_then(|runtime| {
                    session.install(&wanted, runtime, &self.params, &self.shared)
                }) {
                    Ok(telemetry) => {
                        nice_plug::nice_log!("Counterpart: playing {}", info.name);
                        self.shared.set_telemetry(Some(telemetry));
                        self.shared.set_preset(Some(info));
                        self.shared.set_recorded(recorded);
                        self.shared.set_status(EngineStatus::Running);
                    }
                    Err(message) => session.fail(wanted, message, &self.shared),
                }
            }
            Some(Err(message)) => session.fail(wanted, message, &self.shared),
            None if loading => return false,
            None => {
                self.shared
                    .set_status(EngineStatus::Loading(wanted.load.describe()));
                if let Err(message) = self.library.request(&wanted.load, wanted.lookahead) {
                    session.fail(wanted, message, &self.shared);
                }
            }
        }
        true
    }
}

impl Session {
    fn new(links: WorkerLinks, setup: HostSetup) -> Self {
        Self {
            links,
            setup,
            started: Instant::now(),
            current: None,
            wanted: Settling::default(),
            // Counted by whoever activated the plugin.
            counted: true,
            worker: None,
            engine_id: 0,
            offline: false,
            restart_asked: None,
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
    fn move_worker(&mut self, shared: &SharedState) -> bool {
        let offline = shared.offline();
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
        self.links
            .migration
            .exchange(&mut self.worker, self.engine_id, offline)
    }

    /// The build asked for is done (or failed): an offline render waits no longer.
    fn finish_build(&mut self) {
        if std::mem::take(&mut self.counted) {
            self.links.progress.finish();
        }
        self.wanted = Settling::default();
    }

    /// Builds the engine for `runtime` and sends it to the audio thread. Returns its telemetry.
    fn install(
        &mut self,
        key: &BuildKey,
        runtime: LoadedPreset,
        params: &CounterpartParams,
        shared: &SharedState,
    ) -> Result<Arc<EngineTelemetry>, PluginError> {
        let rate = self.setup.sample_rate;
        let tempo_bpm = key.tempo_centi_bpm.map(|c| c as f64 / 100.0);
        let period_beats = match runtime.segmentation.length {
            SegmentLength::Seconds(_) => None,
            SegmentLength::Tempo { note, .. } => Some(note.beats()),
        };
        let settings = params.engine_settings();
        let config = EngineConfig {
            lookahead: Some(key.lookahead),
            settings,
            seed: key.seed,
            worker_margin: self.setup.announced.margin(),
            tempo_bpm,
            ..EngineConfig::default()
        };
        let engine =
            build(runtime, &config, rate).map_err(|e| PluginError::Engine(e.to_string()))?;
        let latency = engine.audio.latency_samples();
        if latency != self.setup.announced.latency {
            // Never reached when the preset's header is what the file holds: the engine would
            // play out of place by the difference, so it does not play.
            return Err(PluginError::LatencyMismatch {
                engine: latency,
                announced: self.setup.announced.latency,
            });
        }
        let grid = SegmentGrid {
            period_samples: engine.worker.segment_samples(),
            period_beats,
        };
        let telemetry = Arc::clone(engine.control.telemetry());
        // Offline, the audio thread runs the worker half itself.
        let (on_audio, worker) = if shared.offline() {
            (Some(engine.worker), None)
        } else {
            (None, Some(engine.worker))
        };
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
        });
        if self
            .links
            .handoff
            .try_push(Handoff::Install(installed))
            .is_err()
        {
            return Err(PluginError::AudioThreadBusy);
        }
        self.engine_id = id;
        self.current = Some(key.clone());
        self.finish_build();
        // The old engine's worker goes now; its audio half fades out on the audio thread and
        // comes back here to be freed.
        self.worker = worker;
        Ok(telemetry)
    }

    /// Reports a failed load or build: the audio thread passes dry audio.
    fn fail(&mut self, key: BuildKey, error: PluginError, shared: &SharedState) {
        let message = error.to_string();
        nice_plug::nice_error!("Counterpart: {message}");
        self.worker = None;
        let _ = self.links.handoff.try_push(Handoff::Clear(key.resets));
        self.current = Some(key);
        self.finish_build();
        shared.set_telemetry(None);
        shared.set_status(EngineStatus::Failed(message));
    }
}

/// Coalesces a burst of requests: the latest one, once it has stayed unchanged for [`SETTLE`].
#[derive(Debug)]
struct Settling<K> {
    latest: Option<(K, Instant)>,
}

impl<K> Default for Settling<K> {
    fn default() -> Self {
        Self { latest: None }
    }
}

impl<K: PartialEq + Clone> Settling<K> {
    /// Notes that `key` is wanted at `now`. Returns whether it has been for [`SETTLE`].
    fn offer(&mut self, key: &K, now: Instant) -> bool {
        match &self.latest {
            Some((latest, since)) if latest == key => now.duration_since(*since) >= SETTLE,
            _ => {
                self.latest = Some((key.clone(), now));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_requests_settles_on_the_last_one_only() {
        let mut settling = Settling::default();
        let start = Instant::now();
        let ms = |n: u64| start + Duration::from_millis(n);
        // Automation sweeps the seed: a new value every 5 ms for 200 ms.
        let built: Vec<u32> = (0..40u32)
            .filter(|&seed| settling.offer(&seed, ms(5 * u64::from(seed))))
            .collect();
        assert!(built.is_empty(), "{built:?} were built mid-burst");
        // The last value held: it settles after SETTLE, and only it.
        let last = 39u32;
        assert!(!settling.offer(&last, ms(195 + 39)));
        let settled_at = 195 + SETTLE.as_millis() as u64;
        assert!(settling.offer(&last, ms(settled_at)));
        assert!(settling.offer(&last, ms(settled_at + 1)));
        // Back to an earlier value: it settles anew.
        assert!(!settling.offer(&3, ms(settled_at + 2)));
    }
}
