//! A minimal CLAP host (clack-host) that loads the built `Counterpart.clap` the way a DAW does, for
//! the integration tests in `tests/tests/`.
//!
//! The main-thread side ([`HostedPlugin`]) owns the instance; activation hands an audio processor
//! to a dedicated audio thread ([`HostedPlugin::run_audio`]), as a real host does, while the
//! main thread answers the plugin's requests for main-thread callbacks.
//!
//! The host implements `clap.latency` and `clap.state` and records every call the plugin makes
//! to it ([`HostLog`]), with the thread it came from and whether the plugin was being
//! activated, so that tests can check the CLAP contract ([`HostedPlugin::contract`]).

use clack_extensions::latency::{HostLatency, HostLatencyImpl, PluginLatency};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::{HostState, HostStateImpl, PluginState};
use clack_host::events::event_types::{ParamValueEvent, TransportEvent};
use clack_host::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// The plugin's main input and sidechain are stereo, as is its output.
pub const CHANNELS: usize = 2;

/// A host function the plugin called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFunction {
    /// `clap_host.request_restart` (thread-safe).
    RequestRestart,
    /// `clap_host.request_process` (thread-safe).
    RequestProcess,
    /// `clap_host.request_callback` (thread-safe).
    RequestCallback,
    /// `clap_host_latency.changed` (main thread, while the plugin is being activated).
    LatencyChanged,
    /// `clap_host_state.mark_dirty` (main thread).
    StateMarkDirty,
}

impl HostFunction {
    /// Whether CLAP allows it only on the main thread.
    pub fn main_thread_only(self) -> bool {
        matches!(self, Self::LatencyChanged | Self::StateMarkDirty)
    }
}

/// One call the plugin made to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCall {
    /// What it called.
    pub function: HostFunction,
    /// Whether it called from the host's main thread.
    pub on_main_thread: bool,
    /// Whether the host was inside `clap_plugin.activate` then.
    pub in_activate: bool,
    /// How many activations had begun by then (1: during or after the first).
    pub activation: u32,
}

/// Every call the plugin made to the host, in order. Shared by the host's handlers.
#[derive(Debug)]
pub struct HostLog {
    main_thread: ThreadId,
    in_activate: AtomicBool,
    activations: AtomicU32,
    callback_requested: AtomicBool,
    calls: Mutex<Vec<HostCall>>,
    /// The latency read after each activation.
    latencies: Mutex<Vec<u32>>,
}

impl HostLog {
    fn new() -> Self {
        Self {
            main_thread: std::thread::current().id(),
            in_activate: AtomicBool::new(false),
            activations: AtomicU32::new(0),
            callback_requested: AtomicBool::new(false),
            calls: Mutex::new(Vec::new()),
            latencies: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, function: HostFunction) {
        if function == HostFunction::RequestCallback {
            self.callback_requested.store(true, Ordering::Release);
        }
        let call = HostCall {
            function,
            on_main_thread: std::thread::current().id() == self.main_thread,
            in_activate: self.in_activate.load(Ordering::Acquire),
            activation: self.activations.load(Ordering::Acquire),
        };
        self.calls.lock().unwrap().push(call);
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<HostCall> {
        self.calls.lock().unwrap().clone()
    }
}

/// What [`HostedPlugin::contract`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractReport {
    /// Activations so far.
    pub activations: u32,
    /// Host calls checked.
    pub calls: usize,
    /// Of which `latency.changed`.
    pub latency_changes: usize,
    /// Of which `request_restart`.
    pub restarts: usize,
    /// Every breach of the contract, described.
    pub violations: Vec<String>,
    /// Restart requests not followed by a new latency at the next activation (a breach unless
    /// the host changed the settings back before it re-activated, as a fuzz does).
    pub unanswered_restarts: Vec<String>,
}

impl ContractReport {
    /// Panics, listing the breaches, unless there are none (restarts included when
    /// `restarts_answered`).
    pub fn assert_kept(&self, what: &str, restarts_answered: bool) {
        let mut violations = self.violations.clone();
        if restarts_answered {
            violations.extend(self.unanswered_restarts.iter().cloned());
        }
        assert!(
            violations.is_empty(),
            "{what}: the plugin broke the CLAP host contract {} times in {} activations:\n{}",
            violations.len(),
            self.activations,
            violations.join("\n")
        );
    }
}

/// Thread-safe host callbacks: recorded.
pub struct TestHostShared {
    log: Arc<HostLog>,
}

impl SharedHandler<'_> for TestHostShared {
    fn request_restart(&self) {
        self.log.record(HostFunction::RequestRestart);
    }
    fn request_process(&self) {
        self.log.record(HostFunction::RequestProcess);
    }
    fn request_callback(&self) {
        self.log.record(HostFunction::RequestCallback);
    }
}

/// Main-thread host callbacks: recorded, with the thread they came from.
pub struct TestHostMainThread<'a> {
    shared: &'a TestHostShared,
}

impl<'a> MainThreadHandler<'a> for TestHostMainThread<'a> {}

impl HostLatencyImpl for TestHostMainThread<'_> {
    fn changed(&self) {
        self.shared.log.record(HostFunction::LatencyChanged);
    }
}

impl HostStateImpl for TestHostMainThread<'_> {
    fn mark_dirty(&self) {
        self.shared.log.record(HostFunction::StateMarkDirty);
    }
}

/// The host type.
pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = TestHostShared;
    type MainThread<'a> = TestHostMainThread<'a>;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostLatency>().register::<HostState>();
    }
}

/// The RMS level of `x`.
pub fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Asserts that `out` has no NaN or infinity and peaks at most at `ceiling` (1.0: full scale).
pub fn assert_clean(out: &[Vec<f32>; CHANNELS], ceiling: f64, what: &str) {
    for channel in out {
        let bad = channel.iter().position(|x| !x.is_finite());
        assert_eq!(bad, None, "{what}: non-finite sample");
        let peak = channel.iter().fold(0.0f32, |p, x| p.max(x.abs()));
        assert!(
            f64::from(peak) <= ceiling,
            "{what}: clips (peak {peak}, ceiling {ceiling:.2})"
        );
    }
}

/// Where the bundled plugin is: `$COUNTERPART_CLAP`, else `target/bundled/Counterpart.clap`.
pub fn bundled_clap() -> PathBuf {
    bundled("COUNTERPART_CLAP", "Counterpart.clap")
}

/// Where the bundled VST3 is: `$COUNTERPART_VST3`, else `target/bundled/Counterpart.vst3`.
pub fn bundled_vst3() -> PathBuf {
    bundled("COUNTERPART_VST3", "Counterpart.vst3")
}

/// `$variable`, else `target/bundled/<name>`; it must exist.
fn bundled(variable: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/bundled")
                .join(name)
        });
    assert!(
        path.exists(),
        "{} does not exist: run `cargo xtask bundle counterpart` first (the test command does)",
        path.display()
    );
    path
}

/// A parameter as the plugin describes it to the host.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRange {
    /// The parameter's id.
    pub id: ClapId,
    /// Its display name.
    pub name: String,
    /// Its smallest plain value.
    pub min: f64,
    /// Its largest plain value.
    pub max: f64,
    /// Whether it takes whole values only (integers, enums, switches).
    pub stepped: bool,
}

/// How long the host-thread calls around one activation took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivationTimes {
    /// `activate`.
    pub activate: Duration,
    /// `deactivate`.
    pub deactivate: Duration,
}

/// One plugin instance, on the main thread.
pub struct HostedPlugin {
    instance: PluginInstance<TestHost>,
    log: Arc<HostLog>,
    /// Whether the main thread answers the plugin's callback requests while the audio thread
    /// processes, or only once the plugin is deactivated (a busy host).
    pump_while_processing: bool,
    // Declared after the instance so that it is dropped after it.
    _entry: PluginEntry,
}

impl HostedPlugin {
    /// Loads the `.clap` file and instantiates its only plugin, checking its CLAP id.
    pub fn load(path: &std::path::Path, expected_id: &str) -> Self {
        // SAFETY: loading a dynamic library runs its initialisers; the file is our own plugin.
        let entry = unsafe { PluginEntry::load(path) }
            .unwrap_or_else(|e| panic!("loading {}: {e:?}", path.display()));
        // Keep the library loaded for the life of the process, as DAWs do: a thread that called
        // into the plugin runs the plugin's thread-local destructors when it exits, so unloading
        // the library (when the last entry of a parallel test is dropped) before every such
        // thread has exited makes that thread jump into unmapped code.
        std::mem::forget(entry.clone());
        let factory = entry
            .get_plugin_factory()
            .expect("the entry has a plugin factory");
        let descriptor = factory
            .plugin_descriptors()
            .next()
            .expect("the factory lists a plugin");
        let id = descriptor.id().expect("the plugin has an id");
        assert_eq!(id.to_str().unwrap(), expected_id);
        let host_info = HostInfo::new(
            "counterpart-tests",
            "Counterpart",
            "https://example.invalid",
            "0.1.0",
        )
        .unwrap();
        let log = Arc::new(HostLog::new());
        let shared_log = Arc::clone(&log);
        let instance = PluginInstance::<TestHost>::new(
            |_| TestHostShared { log: shared_log },
            |shared| TestHostMainThread { shared },
            &entry,
            id,
            &host_info,
        )
        .expect("the plugin instantiates");
        Self {
            instance,
            log,
            pump_while_processing: true,
            _entry: entry,
        }
    }

    /// Every call the plugin made to the host so far.
    pub fn host_log(&self) -> &HostLog {
        &self.log
    }

    /// Whether the main thread answers the plugin's requests for a main-thread callback while
    /// the audio thread processes (the default), or only after the plugin is deactivated, as a
    /// host busy on its main thread does. CLAP allows both.
    pub fn set_pump_while_processing(&mut self, pump: bool) {
        self.pump_while_processing = pump;
    }

    /// Runs the plugin's main-thread callback if it asked for one, as a host's event loop does.
    pub fn pump_main_thread(&mut self) {
        if self.log.callback_requested.swap(false, Ordering::AcqRel) {
            self.instance.call_on_main_thread_callback();
        }
    }

    /// Checks the calls the plugin made so far against the CLAP contract:
    /// `clap_host_latency.changed` only while the plugin is being activated; main-thread-only
    /// host functions only from the main thread; and every `request_restart` followed, at the
    /// next activation, by the plugin reporting a latency other than the one it had
    /// (`latency.changed` inside `activate`, and a new value from `latency.get`).
    pub fn contract(&self) -> ContractReport {
        let calls = self.log.calls();
        let latencies = self.log.latencies.lock().unwrap().clone();
        let activations = self.log.activations.load(Ordering::Acquire);
        let mut violations = Vec::new();
        for call in &calls {
            if call.function == HostFunction::LatencyChanged && !call.in_activate {
                violations.push(format!(
                    "latency.changed() outside activate (after activation {}, {} thread)",
                    call.activation,
                    if call.on_main_thread {
                        "main"
                    } else {
                        "another"
                    }
                ));
            }
            if call.function.main_thread_only() && !call.on_main_thread {
                violations.push(format!(
                    "{:?} called from a thread other than the main thread (activation {})",
                    call.function, call.activation
                ));
            }
        }
        let mut unanswered_restarts = Vec::new();
        let mut restart_activations: Vec<u32> = calls
            .iter()
            .filter(|c| c.function == HostFunction::RequestRestart)
            .map(|c| c.activation)
            .collect();
        restart_activations.dedup();
        for asked in restart_activations {
            let next = asked + 1;
            if next > activations {
                // Not restarted yet.
                continue;
            }
            let reported = calls.iter().any(|c| {
                c.function == HostFunction::LatencyChanged && c.in_activate && c.activation == next
            });
            let (before, after) = (
                latencies.get(asked as usize - 1),
                latencies.get(next as usize - 1),
            );
            if !reported || before == after {
                unanswered_restarts.push(format!(
                    "request_restart during activation {asked} was not followed by a new \
                     latency at activation {next} (latency.changed in activate: {reported}; \
                     latency {before:?} -> {after:?})"
                ));
            }
        }
        ContractReport {
            activations,
            calls: calls.len(),
            latency_changes: calls
                .iter()
                .filter(|c| c.function == HostFunction::LatencyChanged)
                .count(),
            restarts: calls
                .iter()
                .filter(|c| c.function == HostFunction::RequestRestart)
                .count(),
            violations,
            unanswered_restarts,
        }
    }

    /// The id of the parameter with this display name.
    pub fn param_id(&mut self, name: &str) -> ClapId {
        self.params()
            .into_iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no parameter named {name}"))
            .id
    }

    /// Every parameter the plugin has, in its order.
    pub fn params(&mut self) -> Vec<ParamRange> {
        let handle = self.instance.plugin_handle();
        let params = handle
            .get_extension::<PluginParams>()
            .expect("params extension");
        let mut buffer = ParamInfoBuffer::new();
        (0..params.count(&handle))
            .filter_map(|i| {
                params
                    .get_info(&handle, i, &mut buffer)
                    .map(|p| ParamRange {
                        id: p.id,
                        name: String::from_utf8_lossy(p.name).into_owned(),
                        min: p.min_value,
                        max: p.max_value,
                        stepped: p
                            .flags
                            .contains(clack_extensions::params::ParamInfoFlags::IS_STEPPED),
                    })
            })
            .collect()
    }

    /// How the plugin shows `value` of parameter `id` (e.g. "-6.0 dB").
    pub fn value_text(&mut self, id: ClapId, value: f64) -> String {
        let handle = self.instance.plugin_handle();
        let params = handle.get_extension::<PluginParams>().unwrap();
        let mut buffer = [0u8; 256];
        let text = params
            .value_to_text(&handle, id, value, &mut buffer)
            .expect("the plugin formats its values");
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        String::from_utf8_lossy(&text[..end]).into_owned()
    }

    /// The value of parameter `id` that the plugin reads from `text` (e.g. "0 dB").
    pub fn text_value(&mut self, id: ClapId, text: &str) -> f64 {
        let handle = self.instance.plugin_handle();
        let params = handle.get_extension::<PluginParams>().unwrap();
        let text = std::ffi::CString::new(text).expect("no NUL in the text");
        params
            .text_to_value(&handle, id, &text)
            .unwrap_or_else(|| panic!("the plugin does not read {text:?}"))
    }

    /// A parameter's current value as the host sees it.
    pub fn param_value(&mut self, id: ClapId) -> f64 {
        let handle = self.instance.plugin_handle();
        let params = handle.get_extension::<PluginParams>().unwrap();
        params.get_value(&handle, id).expect("valid param id")
    }

    /// Sets a parameter (CLAP plain value) while the plugin is inactive, through the params
    /// extension's `flush`, as a host does when a project opens.
    pub fn set_param(&mut self, id: ClapId, value: f64) {
        self.flush_params(&[(id, value)]);
        assert!(
            (self.param_value(id) - value).abs() < 1e-6,
            "parameter {id} did not take the value {value}"
        );
    }

    /// Sets several parameters (CLAP plain values) in one `flush` while the plugin is inactive,
    /// as a host does when a project opens or automation is written. Returns how long the
    /// call took.
    pub fn flush_params(&mut self, values: &[(ClapId, f64)]) -> Duration {
        let params = self
            .instance
            .plugin_handle()
            .get_extension::<PluginParams>()
            .expect("params extension");
        let mut handle = self
            .instance
            .inactive_plugin_handle()
            .expect("the plugin is inactive");
        let events: Vec<_> = values
            .iter()
            .map(|&(id, value)| {
                ParamValueEvent::new(0, id, clack_host::events::Pckn::match_all(), value)
            })
            .collect();
        let mut output = EventBuffer::new();
        let started = Instant::now();
        params.flush(
            &mut handle,
            &InputEvents::from_buffer(&events),
            &mut OutputEvents::from_buffer(&mut output),
        );
        started.elapsed()
    }

    /// Switches between real-time and offline ("freewheeling") rendering, as a host does
    /// before it exports a project.
    pub fn set_offline(&mut self, offline: bool) {
        let handle = self.instance.plugin_handle();
        let render = handle
            .get_extension::<PluginRender>()
            .expect("render extension");
        let mode = if offline {
            RenderMode::Offline
        } else {
            RenderMode::Realtime
        };
        render
            .set(&handle, mode)
            .expect("the plugin accepts the mode");
    }

    /// The latency the plugin reports, in samples.
    pub fn latency(&mut self) -> u32 {
        let handle = self.instance.plugin_handle();
        handle
            .get_extension::<PluginLatency>()
            .expect("latency extension")
            .get(&handle)
    }

    /// Saves the plugin's state, as a host does when the project is saved.
    pub fn save_state(&mut self) -> Vec<u8> {
        let handle = self.instance.plugin_handle();
        let state = handle
            .get_extension::<PluginState>()
            .expect("state extension");
        let mut bytes = Vec::new();
        state.save(&handle, &mut bytes).expect("state saves");
        bytes
    }

    /// Restores a saved state, as a host does when a project is opened.
    pub fn load_state(&mut self, bytes: &[u8]) {
        let handle = self.instance.plugin_handle();
        let state = handle
            .get_extension::<PluginState>()
            .expect("state extension");
        state.load(&handle, &mut &bytes[..]).expect("state loads");
    }

    /// Activates the plugin at `sample_rate`, runs `audio` on a dedicated audio thread with a
    /// started processor, then stops and deactivates it.
    pub fn run_audio<R: Send>(
        &mut self,
        sample_rate: f64,
        max_frames: u32,
        audio: impl FnOnce(&mut AudioThread) -> R + Send,
    ) -> R {
        self.run_audio_timed(sample_rate, max_frames, audio).0
    }

    /// [`Self::run_audio`], also saying how long `activate` and `deactivate` took.
    pub fn run_audio_timed<R: Send>(
        &mut self,
        sample_rate: f64,
        max_frames: u32,
        audio: impl FnOnce(&mut AudioThread) -> R + Send,
    ) -> (R, ActivationTimes) {
        let config = PluginAudioConfiguration {
            sample_rate,
            min_frames_count: 1,
            max_frames_count: max_frames,
        };
        self.pump_main_thread();
        self.log.activations.fetch_add(1, Ordering::AcqRel);
        self.log.in_activate.store(true, Ordering::Release);
        let started = Instant::now();
        let processor = self.instance.activate(|_, _| (), config);
        let activate = started.elapsed();
        self.log.in_activate.store(false, Ordering::Release);
        let processor = processor.expect("the plugin activates");
        // A host reads the latency once the plugin is active.
        let latency = self.latency();
        self.log.latencies.lock().unwrap().push(latency);
        let (stopped, result) = std::thread::scope(|s| {
            let audio_thread = s.spawn(move || {
                let mut thread = AudioThread {
                    processor: processor.start_processing().expect("processing starts"),
                    inputs: AudioPorts::with_capacity(2 * CHANNELS, 2),
                    outputs: AudioPorts::with_capacity(CHANNELS, 1),
                    output_events: EventBuffer::new(),
                    steady_time: 0,
                    transport: None,
                    constant_inputs: false,
                };
                let result = audio(&mut thread);
                (thread.processor.stop_processing(), result)
            });
            // The main thread's event loop, while the audio thread runs.
            while !audio_thread.is_finished() {
                if self.pump_while_processing {
                    self.pump_main_thread();
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            audio_thread
                .join()
                .expect("the audio thread does not panic")
        });
        if self.pump_while_processing {
            self.pump_main_thread();
        }
        let started = Instant::now();
        self.instance.deactivate(stopped);
        let times = ActivationTimes {
            activate,
            deactivate: started.elapsed(),
        };
        self.pump_main_thread();
        (result, times)
    }
}

/// The audio-thread side of an active plugin.
pub struct AudioThread {
    processor: StartedPluginAudioProcessor<TestHost>,
    inputs: AudioPorts,
    outputs: AudioPorts,
    output_events: EventBuffer,
    steady_time: u64,
    transport: Option<TransportEvent>,
    /// Whether the inputs are flagged constant (CLAP's constant mask) from the next block on.
    constant_inputs: bool,
}

impl AudioThread {
    /// From the next block on, flags every input channel as constant (CLAP's constant mask:
    /// the plugin may read the first sample only), as hosts do for silent or DC inputs; the
    /// test must then pass channels whose samples all equal the first.
    pub fn set_constant_inputs(&mut self, constant: bool) {
        self.constant_inputs = constant;
    }

    /// Processes one block: the main input, the sidechain and parameter events in, the output
    /// out. All slices have the block's length.
    pub fn process(
        &mut self,
        main: &mut [Vec<f32>; CHANNELS],
        sidechain: &mut [Vec<f32>; CHANNELS],
        out: &mut [Vec<f32>; CHANNELS],
        events: &[ParamValueEvent],
    ) {
        let frames = main[0].len();
        assert!(sidechain
            .iter()
            .chain(out.iter())
            .all(|c| c.len() == frames));
        let constant = self.constant_inputs;
        let input = self.inputs.with_input_buffers([
            AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_input_only(input_channels(main, constant)),
            },
            AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_input_only(input_channels(sidechain, constant)),
            },
        ]);
        let mut output = self.outputs.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                out.iter_mut().map(|c| c.as_mut_slice()),
            ),
        }]);
        self.output_events.clear();
        self.processor
            .process(
                &input,
                &mut output,
                &InputEvents::from_buffer(&events),
                &mut OutputEvents::from_buffer(&mut self.output_events),
                Some(self.steady_time),
                self.transport.as_ref(),
            )
            .expect("process succeeds");
        self.steady_time += frames as u64;
    }
}

impl AudioThread {
    /// Resets the plugin's processing state, as a host does when it jumps in the timeline.
    pub fn reset(&mut self) {
        self.processor.reset();
    }

    /// From the next block on, tells the plugin that the transport plays at `bpm` and the block
    /// starts at `seconds` into the song (`None`: no transport information).
    pub fn set_transport(&mut self, position: Option<(f64, f64)>) {
        self.set_transport_state(position, true);
    }

    /// Like [`Self::set_transport`], with the transport playing or stopped at `seconds`.
    pub fn set_transport_state(&mut self, position: Option<(f64, f64)>, playing: bool) {
        self.transport = position.map(|(seconds, bpm)| {
            use clack_host::events::event_types::TransportFlags;
            use clack_host::events::EventFlags;
            use clack_host::utils::{BeatTime, SecondsTime};
            TransportEvent {
                header: clack_host::events::EventHeader::new_core(0, EventFlags::empty()),
                flags: TransportFlags::HAS_TEMPO
                    | TransportFlags::HAS_BEATS_TIMELINE
                    | TransportFlags::HAS_SECONDS_TIMELINE
                    | if playing {
                        TransportFlags::IS_PLAYING
                    } else {
                        TransportFlags::empty()
                    },
                song_pos_beats: BeatTime::from_float(seconds * bpm / 60.0),
                song_pos_seconds: SecondsTime::from_float(seconds),
                tempo: bpm,
                tempo_inc: 0.0,
                loop_start_beats: BeatTime::from_int(0),
                loop_end_beats: BeatTime::from_int(0),
                loop_start_seconds: SecondsTime::from_int(0),
                loop_end_seconds: SecondsTime::from_int(0),
                bar_start: BeatTime::from_int(0),
                bar_number: 0,
                time_signature_numerator: 4,
                time_signature_denominator: 4,
            }
        });
    }
}

/// A port's channels as CLAP input channels, flagged `constant` or not.
fn input_channels(
    channels: &mut [Vec<f32>; CHANNELS],
    constant: bool,
) -> impl Iterator<Item = InputChannel<'_, f32>> {
    channels
        .iter_mut()
        .map(move |c| InputChannel::from_buffer(c.as_mut_slice(), constant))
}
