//! Counterpart as a CLAP/VST3 plugin (nice-plug glue only; the engine is `counterpart-core`).
//!
//! Thread ownership:
//! - [`Counterpart::process`] runs on the **audio thread**: no allocation, lock, I/O or logging.
//! - [`editor`] runs on the **GUI thread**.

use nice_plug::prelude::*;
use std::sync::Arc;

mod editor;
mod params;

pub use params::CounterpartParams;

/// The plugin instance, owned by the host.
pub struct Counterpart {
    params: Arc<CounterpartParams>,
}

impl Default for Counterpart {
    fn default() -> Self {
        Self {
            params: Arc::new(CounterpartParams::default()),
        }
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

    type Editor = nice_plug_egui::EguiEditor<editor::CounterpartUi>;

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone())
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        for mut frame in buffer.iter_samples() {
            // The wet path (the companion track) is silent until the engine is wired in, so the
            // output is the dry signal scaled by its share of the mix.
            let dry = 1.0 - self.params.dry_wet.smoothed.next();
            let gain = self.params.output_gain.smoothed.next();
            for sample in frame.iter_mut() {
                *sample *= dry * gain;
            }
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
