//! State shared by the plugin's threads, with who writes what.
//!
//! * Atomics: written by the **audio thread** (input level, host tempo, reset requests, whether
//!   the host renders offline), the **worker thread** (restart requests) or the **GUI** (reload
//!   requests), read anywhere. The audio thread touches nothing else here.
//! * Mutexes: written by the **worker thread** (what is loaded, what went wrong), read by the
//!   **GUI**. Never locked on the audio thread.
//! * The load progress: written by the **loader thread**, read by the GUI (atomics).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use counterpart_core::engine::{EngineTelemetry, Progress};
use counterpart_core::preset::Preset;

/// What the engine is doing, for the editor.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineStatus {
    /// The plugin is not active yet.
    Idle,
    /// A preset is being loaded; the plugin passes dry audio meanwhile.
    Loading(String),
    /// The engine is playing.
    Running,
    /// Loading or building failed; the plugin passes dry audio. The message says why and what
    /// to do.
    Failed(String),
}

/// What the editor shows about the loaded preset.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetDisplay {
    /// Where it came from.
    pub source: String,
    /// Its name.
    pub name: String,
    /// Its author.
    pub author: String,
    /// Its licence.
    pub licence: String,
    /// Its description.
    pub description: String,
    /// The alphabet size K.
    pub k: usize,
    /// How the audio is cut, e.g. "0.5 s" or "1/8 note".
    pub segmentation: String,
    /// The corpus files' names, in preset order (the provenance display indexes them).
    pub corpus_files: Vec<String>,
    /// Total corpus length in seconds.
    pub corpus_seconds: f64,
    /// How many corpus segments carry each label.
    pub label_counts: Vec<usize>,
    /// The relation's character in one line, when the preset holds it
    /// ([`counterpart_core::preset::RelationCharacter::one_line`]).
    pub character: Option<String>,
    /// Something the user should know about what plays (the user's recordings: their label
    /// coverage, those left out and why).
    pub notice: Option<Notice>,
}

/// A note for the editor about what plays.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// What to say.
    pub text: String,
    /// Whether something the user asked for is not playing (a recording left out).
    pub warning: bool,
}

impl PresetDisplay {
    /// Collects the editor's view of `preset`, read from `source`.
    pub fn new(preset: &Preset, source: String) -> Self {
        let summary = preset.summary();
        Self {
            source,
            name: summary.name,
            author: summary.author,
            licence: summary.licence,
            description: summary.description,
            k: summary.k,
            segmentation: summary.segmentation.length.to_string(),
            corpus_files: preset.corpus.iter().map(|file| file.name.clone()).collect(),
            corpus_seconds: summary.corpus_seconds,
            label_counts: summary.label_counts,
            character: preset.character.as_ref().map(|c| c.one_line()),
            notice: None,
        }
    }
}

/// Shared between the audio thread, the worker thread and the GUI (see the module notes).
#[derive(Debug)]
pub struct SharedState {
    input_peak: AtomicU32,
    host_sample_rate: AtomicU32,
    host_tempo: AtomicU64,
    transport_seen: AtomicBool,
    offline: AtomicBool,
    restart_wanted: AtomicBool,
    restart_pending: AtomicBool,
    resets: AtomicU64,
    reloads: AtomicU64,
    status: Mutex<EngineStatus>,
    preset: Mutex<Option<Arc<PresetDisplay>>>,
    recorded: Mutex<Option<Arc<Preset>>>,
    telemetry: Mutex<Option<Arc<EngineTelemetry>>>,
    load_progress: Arc<Progress>,
}

impl Default for SharedState {
    fn default() -> Self {
        Self {
            input_peak: AtomicU32::new(0),
            host_sample_rate: AtomicU32::new(0),
            host_tempo: AtomicU64::new(0),
            transport_seen: AtomicBool::new(false),
            offline: AtomicBool::new(false),
            restart_wanted: AtomicBool::new(false),
            restart_pending: AtomicBool::new(false),
            resets: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            status: Mutex::new(EngineStatus::Idle),
            preset: Mutex::new(None),
            recorded: Mutex::new(None),
            telemetry: Mutex::new(None),
            load_progress: Arc::default(),
        }
    }
}

/// Locks `mutex`, recovering the data if a thread panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SharedState {
    /// Raises the guide's peak level to `peak` (audio thread; lock-free).
    pub fn note_input_peak(&self, peak: f32) {
        if peak.is_finite() && peak > 0.0 {
            // Non-negative floats order like their bit patterns.
            self.input_peak.fetch_max(peak.to_bits(), Ordering::Relaxed);
        }
    }

    /// The guide's peak level since the last call, and resets it (GUI).
    pub fn take_input_peak(&self) -> f32 {
        f32::from_bits(self.input_peak.swap(0, Ordering::Relaxed))
    }

    /// Publishes the sample rate the host activated the plugin at (main thread, in `activate`).
    pub fn set_host_sample_rate(&self, sample_rate: f32) {
        let bits = if sample_rate.is_finite() && sample_rate > 0.0 {
            sample_rate.to_bits()
        } else {
            0
        };
        self.host_sample_rate.store(bits, Ordering::Relaxed);
    }

    /// The host's sample rate, once the plugin was activated (the editor turns sample counts
    /// into times with it).
    pub fn host_sample_rate(&self) -> Option<f32> {
        match self.host_sample_rate.load(Ordering::Relaxed) {
            0 => None,
            bits => Some(f32::from_bits(bits)),
        }
    }

    /// Publishes the host's tempo, if it reports one (audio thread, every block).
    pub fn set_host_tempo(&self, bpm: Option<f64>) {
        let bits = bpm
            .filter(|b| b.is_finite() && *b > 0.0)
            .map_or(0, f64::to_bits);
        self.host_tempo.store(bits, Ordering::Relaxed);
        self.transport_seen.store(true, Ordering::Release);
    }

    /// Whether the audio thread has processed a block, so the host's tempo is known if the
    /// host reports one.
    pub fn transport_seen(&self) -> bool {
        self.transport_seen.load(Ordering::Acquire)
    }

    /// The host's tempo, if it reports one.
    pub fn host_tempo(&self) -> Option<f64> {
        match self.host_tempo.load(Ordering::Relaxed) {
            0 => None,
            bits => Some(f64::from_bits(bits)),
        }
    }

    /// Says whether the host renders offline, as it said for the last block (audio thread):
    /// the worker then hands the engine's worker half to the audio thread, and builds new
    /// engines with it.
    pub fn set_offline(&self, offline: bool) {
        self.offline.store(offline, Ordering::Release);
    }

    /// Whether the host renders offline, as it said for the last block.
    pub fn offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    /// Asks for the plugin to be restarted by the host, so that it reports a new latency
    /// (worker thread: a control or the host's tempo asks for an engine with another one).
    pub fn request_restart(&self) {
        self.restart_wanted.store(true, Ordering::Release);
    }

    /// Whether a restart was asked for since the last call (audio thread, which passes the
    /// request on to the host).
    pub fn take_restart_request(&self) -> bool {
        self.restart_wanted.swap(false, Ordering::AcqRel)
    }

    /// Says whether the settings asked for wait for the host to restart the plugin (worker
    /// thread, every turn).
    pub fn set_restart_pending(&self, pending: bool) {
        self.restart_pending.store(pending, Ordering::Release);
    }

    /// Whether the settings asked for wait for the host to restart the plugin (for the
    /// editor).
    pub fn restart_pending(&self) -> bool {
        self.restart_pending.load(Ordering::Acquire)
    }

    /// Asks the worker for a fresh engine: the host reset the plugin (audio thread).
    pub fn request_reset(&self) {
        self.resets.fetch_add(1, Ordering::Release);
    }

    /// How many resets were requested.
    pub fn resets(&self) -> u64 {
        self.resets.load(Ordering::Acquire)
    }

    /// Asks the worker to read the preset file again (GUI), e.g. after it changed on disk or a
    /// new path was chosen.
    pub fn request_reload(&self) {
        self.reloads.fetch_add(1, Ordering::Release);
    }

    /// How many reloads were requested.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Acquire)
    }

    /// What the engine is doing.
    pub fn status(&self) -> EngineStatus {
        lock(&self.status).clone()
    }

    /// Sets the status (worker).
    pub fn set_status(&self, status: EngineStatus) {
        *lock(&self.status) = status;
    }

    /// The loaded preset, if any.
    pub fn preset(&self) -> Option<Arc<PresetDisplay>> {
        lock(&self.preset).clone()
    }

    /// Sets the loaded preset (worker).
    pub fn set_preset(&self, info: Option<Arc<PresetDisplay>>) {
        *lock(&self.preset) = info;
    }

    /// The preset made of the user's recordings, when they play (what "Save as preset…"
    /// writes).
    pub fn recorded(&self) -> Option<Arc<Preset>> {
        lock(&self.recorded).clone()
    }

    /// Sets the preset made of the user's recordings (worker).
    pub fn set_recorded(&self, preset: Option<Arc<Preset>>) {
        *lock(&self.recorded) = preset;
    }

    /// How far the load under way has got (written by the loader thread, lock-free).
    pub fn load_progress(&self) -> &Arc<Progress> {
        &self.load_progress
    }

    /// The running engine's telemetry, if an engine runs.
    pub fn telemetry(&self) -> Option<Arc<EngineTelemetry>> {
        lock(&self.telemetry).clone()
    }

    /// Sets the running engine's telemetry (worker).
    pub fn set_telemetry(&self, telemetry: Option<Arc<EngineTelemetry>>) {
        *lock(&self.telemetry) = telemetry;
    }
}
