//! The plugin's automatable parameters. Read on the audio thread, written by the host and the GUI.

use nice_plug::prelude::*;

/// All host-visible parameters of Counterpart.
#[derive(Params)]
pub struct CounterpartParams {
    /// Share of the companion track in the output: 0 = only the dry input, 1 = only the companion.
    #[id = "drywet"]
    pub dry_wet: FloatParam,
    /// Gain applied to the whole output.
    #[id = "outgain"]
    pub output_gain: FloatParam,
}

impl Default for CounterpartParams {
    fn default() -> Self {
        Self {
            dry_wet: FloatParam::new("Dry/Wet", 0.0, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_smoother(SmoothingStyle::Linear(20.0))
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage()),
            output_gain: FloatParam::new(
                "Output Gain",
                util::db_to_gain(0.0),
                FloatRange::Skewed {
                    min: util::db_to_gain(-30.0),
                    max: util::db_to_gain(12.0),
                    factor: FloatRange::gain_skew_factor(-30.0, 12.0),
                },
            )
            .with_smoother(SmoothingStyle::Logarithmic(20.0))
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_gain_to_db(1))
            .with_string_to_value(formatters::s2v_f32_gain_to_db()),
        }
    }
}
