//! Counterpart as a CLAP/VST3 plugin: nice-plug glue around the engine of `counterpart-core`.
//!
//! Thread ownership (the modules are private; their files are named here):
//! - **Audio thread**: [`Counterpart::process`] and `AudioSide` (`audio_thread.rs`). It mixes
//!   the guide (main input or sidechain) to the engine, renders the companion, and mixes it with
//!   the dry signal, delayed by the latency reported (`dry_delay.rs`). Its parts: the offline
//!   mode (`offline_render.rs`), the pre-roll (`preroll.rs`) and the transport gate
//!   (`transport_gate.rs`). No allocation, lock, I/O or logging (an offline render excepted,
//!   where the audio thread also runs the engine's worker half: only when the host says so,
//!   through CLAP's render extension or VST3's per-call process mode; the half travels through
//!   `worker_migration.rs`).
//! - **Main thread**: `activate` computes the latency from the preset's header and reports
//!   it, and it holds for the whole activation (`latency.rs`).
//! - **Worker thread**: `WorkerThread` (`worker_thread.rs`), started at the first `activate`
//!   and joined when the plugin is dropped: loads presets (on a loader thread) and keeps them
//!   across activations (`library.rs`), builds engines, segments, encodes, decides and
//!   schedules, and frees what the audio thread is done with. No host call waits for it. What
//!   fails is a `PluginError` (`error.rs`), shown in the editor.
//! - **GUI thread**: the editor (`editor.rs`).
//!
//! The three share [`CounterpartParams`] (atomics), `SharedState` (`shared.rs`: atomics, plus
//! mutexes the audio thread never touches) and two SPSC rings (`handoff.rs`).

use std::sync::Arc;

use nice_plug::prelude::*;
use ringbuf::traits::Split;
use ringbuf::HeapRb;

mod audio_thread;
mod dry_delay;
mod editor;
mod error;
mod handoff;
mod latency;
mod library;
mod my_recordings;
mod offline_render;
mod params;
mod preroll;
mod preset_source;
mod ramp;
mod saved_state;
mod shared;
mod transport_gate;
mod worker_migration;
mod worker_thread;

use audio_thread::{AudioLinks, AudioSetup, AudioSide};
use handoff::{BuildProgress, HANDOFF_CAPACITY, RETURN_CAPACITY};
use latency::{Announced, LatencyKey};
pub use params::{CounterpartParams, GuideSource, LookaheadMode};
use preset_source::PresetSource;
use shared::{EngineStatus, SharedState};
use transport_gate::TransportInfo;
use worker_thread::{HostSetup, WorkerLinks, WorkerThread};

/// The plugin instance, owned by the host.
pub struct Counterpart {
    params: Arc<CounterpartParams>,
    shared: Arc<SharedState>,
    /// Audio thread (created on the main thread while the plugin is inactive, and handed to the
    /// worker thread to be freed at deactivation).
    audio: Option<AudioSide>,
    /// Main thread: the worker thread, from the first activation on.
    worker: Option<WorkerThread>,
    /// Whether audio was processed since the last activation (a reset then asks for a fresh
    /// engine).
    processed: bool,
    /// Whether this is the standalone app, which has no timeline (set at activation).
    standalone: bool,
}

impl Default for Counterpart {
    fn default() -> Self {
        Self {
            params: Arc::new(CounterpartParams::default()),
            shared: Arc::new(SharedState::default()),
            audio: None,
            worker: None,
            processed: false,
            standalone: false,
        }
    }
}

impl Counterpart {
    /// Ends the worker's session (main thread, while inactive): returns at once, whatever the
    /// worker is doing. The audio side goes to the worker to be freed there: the engines in it
    /// may hold the last reference to a corpus of hundreds of megabytes.
    fn shut_down(&mut self) {
        let audio = self.audio.take();
        if let Some(worker) = &self.worker {
            worker.deactivate(audio);
        }
        self.shared.set_telemetry(None);
    }
}

impl Plugin for Counterpart {
    const NAME: &'static str = "Counterpart";
    const VENDOR: &'static str = "Counterpart developers";
    const URL: &'static str = env!("CARGO_PKG_REPOSITORY");
    const EMAIL: &'static str = "counterpart@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[AudioIOLayout {
        main_input_channels: NonZeroU32::new(2),
        main_output_channels: NonZeroU32::new(2),
        aux_input_ports: &[new_nonzero_u32(2)],
        names: PortNames {
            layout: Some("Stereo with guide sidechain"),
            main_input: Some("Input"),
            main_output: Some("Output"),
            aux_inputs: &["Guide sidechain"],
            aux_outputs: &[],
        },
        ..AudioIOLayout::const_default()
    }];

    const SAMPLE_ACCURATE_AUTOMATION: bool = true;

    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn filter_state(state: &mut PluginState) {
        saved_state::note_unknown_parts(state);
    }

    type Editor = nice_plug_egui::EguiEditor<editor::CounterpartUi>;

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone(), self.shared.clone())
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.shut_down();
        self.standalone = context.plugin_api() == PluginApi::Standalone;
        let sample_rate = buffer_config.sample_rate;
        self.shared.set_host_sample_rate(sample_rate);
        if !(sample_rate.is_finite() && (8_000.0..=384_000.0).contains(&sample_rate)) {
            context.set_latency_samples(0);
            self.shared.set_status(EngineStatus::Failed(format!(
                "the host's sample rate {sample_rate} Hz is outside 8–384 kHz; passing dry audio"
            )));
            return true;
        }
        let (handoff_tx, handoff_rx) = HeapRb::new(HANDOFF_CAPACITY).split();
        let (returned_tx, returned_rx) = HeapRb::new(RETURN_CAPACITY).split();
        let (audio_end, worker_end) = worker_migration::road();
        let progress = Arc::new(BuildProgress::default());
        let max_block = buffer_config.max_buffer_size as usize;
        // The latency for this activation, from the preset's header: no engine is waited for.
        let source = PresetSource::from_path(self.params.preset_path());
        let timing = source.timing();
        let announced = Announced::compute(
            timing.as_ref(),
            LatencyKey::wanted(
                source.clone(),
                &self.params,
                self.shared.host_tempo(),
                timing.as_ref().ok(),
            ),
            sample_rate.round() as u32,
            max_block,
            self.params.engine_settings().crossfade_seconds,
        );
        context.set_latency_samples(announced.latency);
        let setup = AudioSetup {
            sample_rate,
            max_block,
            latency: announced.latency,
        };
        self.shared
            .set_offline(buffer_config.process_mode == ProcessMode::Offline);
        // The worker's first build, counted before it starts so an offline render waits for it.
        progress.start();
        let links = WorkerLinks {
            handoff: handoff_tx,
            returned: returned_rx,
            migration: worker_end,
            progress: progress.clone(),
        };
        let host = HostSetup {
            sample_rate: sample_rate.round() as u32,
            announced,
            header: ((source, self.shared.reloads()), timing),
        };
        if self.worker.is_none() {
            match WorkerThread::spawn(self.params.clone(), self.shared.clone()) {
                Ok(worker) => self.worker = Some(worker),
                Err(error) => {
                    nice_error!("Counterpart: cannot start the worker thread: {error}");
                    self.shared.set_status(EngineStatus::Failed(format!(
                        "cannot start the worker thread: {error}; passing dry audio"
                    )));
                    return true;
                }
            }
        }
        if let Some(worker) = &self.worker {
            worker.activate(links, host);
        }
        self.audio = Some(AudioSide::new(
            AudioLinks {
                handoff: handoff_rx,
                returned: returned_tx,
                migration: audio_end,
                progress,
                shared: self.shared.clone(),
            },
            setup,
        ));
        self.processed = false;
        true
    }

    fn reset(&mut self) {
        // The first reset follows activation, whose engine is fresh already.
        if self.processed {
            if let Some(audio) = &mut self.audio {
                audio.note_reset();
            }
            self.processed = false;
        }
    }

    fn deactivate(&mut self) {
        self.shut_down();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        self.processed = true;
        let transport = context.transport();
        let info = TransportInfo {
            playing: transport.playing,
            pos_samples: transport.pos_samples(),
            pos_beats: transport.pos_beats(),
            tempo: transport.tempo,
        };
        self.shared.set_host_tempo(info.tempo);
        let params = &self.params;
        let Some(audio) = &mut self.audio else {
            for mut frame in buffer.iter_samples() {
                params.dry_wet.smoothed.next();
                let gain = params.output_gain.smoothed.next();
                for sample in frame.iter_mut() {
                    *sample *= gain;
                }
            }
            return ProcessStatus::Normal;
        };
        // The standalone app has no timeline: it always plays.
        let play_stopped = self.standalone || params.play_stopped.value();
        // A setting asked for another latency: the host reports it after a restart.
        if self.shared.take_restart_request() {
            context.request_restart();
        }
        audio.poll(
            params.engine_settings(),
            info,
            buffer.samples(),
            play_stopped,
            context.process_mode() == ProcessMode::Offline,
        );

        let frames = buffer.samples();
        let source = params.guide_source.value();
        let main = buffer.as_slice();
        let sidechain = aux.inputs.first_mut().map(|b| b.as_slice_immutable());
        let mut offset = 0;
        while offset < frames {
            let n = (frames - offset).min(audio.chunk());
            let range = offset..offset + n;
            let guide_channels: &[&mut [f32]] = match (source, &sidechain) {
                (GuideSource::Sidechain, Some(side)) => side,
                (GuideSource::Sidechain, None) => &[],
                (GuideSource::Main, _) => main,
            };
            let mut guide: [&[f32]; 2] = [&[], &[]];
            let mut peak = 0.0f32;
            for (slot, channel) in guide.iter_mut().zip(guide_channels.iter()) {
                *slot = &channel[range.clone()];
                peak = slot.iter().fold(peak, |p, x| p.max(x.abs()));
            }
            self.shared.note_input_peak(peak);
            let count = guide_channels.len().min(2);
            audio.render(&guide[..count], n);
            // The host delays the other tracks by the latency reported: so is the dry path.
            match main {
                [left, right, ..] => {
                    audio.delay_dry(&mut [&mut left[range.clone()], &mut right[range.clone()]])
                }
                [mono] => audio.delay_dry(&mut [&mut mono[range.clone()]]),
                [] => {}
            }
            let (wet, presence) = audio.output(n);
            for (i, &presence) in presence.iter().enumerate() {
                let mix = params.dry_wet.smoothed.next() * presence;
                let gain = params.output_gain.smoothed.next();
                for (c, channel) in main.iter_mut().enumerate() {
                    let sample = &mut channel[offset + i];
                    *sample = (*sample * (1.0 - mix) + wet[c.min(1)][i] * mix) * gain;
                }
            }
            offset += n;
        }
        ProcessStatus::Normal
    }
}

impl ClapPlugin for Counterpart {
    const CLAP_ID: &'static str = "org.counterpart.counterpart";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("A companion track cut from a recorded corpus that follows a live guide track");
    const CLAP_MANUAL_URL: Option<&'static str> = Some(Self::URL);
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Stereo,
        ClapFeature::Sampler,
        ClapFeature::Granular,
    ];
}

impl Vst3Plugin for Counterpart {
    const VST3_CLASS_ID: [u8; 16] = *b"CounterpartGuide";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Sampler];
}

nice_export_clap!(Counterpart);
nice_export_vst3!(Counterpart);
