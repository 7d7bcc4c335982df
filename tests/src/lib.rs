//! A minimal CLAP host (clack-host) that loads the built `Counterpart.clap` the way a DAW does, for
//! the integration tests in `tests/tests/`.
//!
//! The main-thread side ([`HostedPlugin`]) owns the instance; activation hands an audio processor
//! to a dedicated audio thread ([`HostedPlugin::run_audio`]), as a real host does.

use clack_extensions::latency::PluginLatency;
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::{ParamValueEvent, TransportEvent};
use clack_host::prelude::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The plugin's main input and sidechain are stereo, as is its output.
pub const CHANNELS: usize = 2;

/// Host callbacks: the tests need none of them.
pub struct TestHostShared;

impl SharedHandler<'_> for TestHostShared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

/// The host type.
pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = TestHostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
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
        let instance =
            PluginInstance::<TestHost>::new(|_| TestHostShared, |_| (), &entry, id, &host_info)
                .expect("the plugin instantiates");
        Self {
            instance,
            _entry: entry,
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
        let started = Instant::now();
        let processor = self
            .instance
            .activate(|_, _| (), config)
            .expect("the plugin activates");
        let activate = started.elapsed();
        let (stopped, result) = std::thread::scope(|s| {
            s.spawn(move || {
                let mut thread = AudioThread {
                    processor: processor.start_processing().expect("processing starts"),
                    inputs: AudioPorts::with_capacity(2 * CHANNELS, 2),
                    outputs: AudioPorts::with_capacity(CHANNELS, 1),
                    output_events: EventBuffer::new(),
                    steady_time: 0,
                    transport: None,
                };
                let result = audio(&mut thread);
                (thread.processor.stop_processing(), result)
            })
            .join()
            .expect("the audio thread does not panic")
        });
        let started = Instant::now();
        self.instance.deactivate(stopped);
        let times = ActivationTimes {
            activate,
            deactivate: started.elapsed(),
        };
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
}

impl AudioThread {
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
        let input = self.inputs.with_input_buffers([
            AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_input_only(input_channels(main)),
            },
            AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_input_only(input_channels(sidechain)),
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

/// A port's channels as CLAP input channels (non-constant).
fn input_channels(
    channels: &mut [Vec<f32>; CHANNELS],
) -> impl Iterator<Item = InputChannel<'_, f32>> {
    channels
        .iter_mut()
        .map(|c| InputChannel::variable(c.as_mut_slice()))
}
