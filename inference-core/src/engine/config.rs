//! The engine's settings: what is fixed when the engine is built ([`EngineConfig`]) and what can
//! change while it plays ([`EngineSettings`], sent to the worker through a lock-free queue).

use serde::{Deserialize, Serialize};

use crate::decision::SamplerSettings;

/// What the navigator does when no corpus segment carries the predicted label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingLabel {
    /// Play the present label nearest to it (codebook distance).
    Nearest,
    /// Play nothing for that segment.
    Silence,
}

/// Settings that may change while the engine plays. Plain `Copy` data: sending them allocates
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// Sampling temperature τ ≥ 0 (0: arg-max).
    pub temperature: f32,
    /// Nucleus mass in (0, 1] (1: off).
    pub top_p: f32,
    /// Keep at most this many labels (0: off).
    pub top_k: usize,
    /// Follow ↔ free blend in [0, 1]: weight of the corpus label prior.
    pub freedom: f32,
    /// Only sample labels the corpus has.
    pub constrained: bool,
    /// Probability in [0, 1] of continuing with the corpus successor when it fits.
    pub continuity: f32,
    /// Never play the same segment twice in a row.
    pub no_immediate_repeat: bool,
    /// What to do with labels the corpus lacks.
    pub missing_label: MissingLabel,
    /// Crossfade length of a jump, in seconds, in (0, 1].
    pub crossfade_seconds: f32,
    /// Rest when the guide rests: once it has been silent for [`Self::rest_hold_seconds`], the
    /// companion fades out, and it comes back with the guide's next onset.
    pub follow_rests: bool,
    /// How long the guide must be silent before the companion rests, in seconds, in [0, 4].
    pub rest_hold_seconds: f32,
    /// Start the companion's notes with the guide's (aligned mode): the corpus audio changes
    /// at the guide's onsets, each time at a corpus note's attack, and notes are held in
    /// between. Off: the corpus audio changes on the segment grid.
    pub follow_onsets: bool,
    /// Stop following the guide: keep playing the corpus on from the current segment (where a
    /// recording ends, or nothing is sounding, the navigator starts a new run).
    pub freeze: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        let sampler = SamplerSettings::default();
        Self {
            temperature: sampler.temperature,
            top_p: sampler.top_p,
            top_k: sampler.top_k,
            freedom: sampler.freedom,
            constrained: sampler.constrain,
            continuity: 1.0,
            no_immediate_repeat: true,
            missing_label: MissingLabel::Nearest,
            crossfade_seconds: 0.04,
            follow_rests: true,
            rest_hold_seconds: DEFAULT_REST_HOLD_S,
            follow_onsets: true,
            freeze: false,
        }
    }
}

impl EngineSettings {
    /// The sampler's part.
    pub fn sampler(&self) -> SamplerSettings {
        SamplerSettings {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            freedom: self.freedom,
            constrain: self.constrained,
        }
    }

    /// Checks every value's range; the message names the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(format!(
                "temperature {} must be finite and ≥ 0",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("top-p {} must be in (0, 1]", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.freedom) {
            return Err(format!("freedom {} must be in [0, 1]", self.freedom));
        }
        if !(0.0..=1.0).contains(&self.continuity) {
            return Err(format!("continuity {} must be in [0, 1]", self.continuity));
        }
        if !(self.crossfade_seconds > 0.0 && self.crossfade_seconds <= 1.0) {
            return Err(format!(
                "crossfade {} s must be in (0, 1] s",
                self.crossfade_seconds
            ));
        }
        if !(0.0..=4.0).contains(&self.rest_hold_seconds) {
            return Err(format!(
                "rest hold {} s must be in [0, 4] s",
                self.rest_hold_seconds
            ));
        }
        Ok(())
    }
}

/// Default rest hold: a quarter of a second of silence in the guide (longer than the gaps
/// between legato notes, shorter than a rest a musician would notice being played through).
pub const DEFAULT_REST_HOLD_S: f32 = 0.15;

/// Everything the engine needs besides the preset. Serialisable (the plugin stores it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Look-ahead L in segments (0: live, 1: aligned). `None` takes the decision model's; a
    /// value that differs from the model's is refused (a model is trained for one L).
    pub lookahead: Option<usize>,
    /// The settings that may change while playing.
    pub settings: EngineSettings,
    /// Seed of the sampler and the navigator: the same seed and guide give the same output
    /// offline.
    pub seed: u64,
    /// How long after its grid position each companion segment starts, in seconds: the time
    /// the worker has to segment, encode and decide after a guide segment ends (audio block,
    /// resampler delay, compute, half a crossfade). See the timing notes in [`crate::engine`].
    pub worker_margin_seconds: f64,
    /// For tempo-synced presets: the tempo to segment at (the host's), instead of the
    /// preset's.
    pub tempo_bpm: Option<f64>,
    /// Capacity of the guide ring buffer, in seconds of audio.
    pub ring_seconds: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            lookahead: None,
            settings: EngineSettings::default(),
            seed: 0,
            worker_margin_seconds: DEFAULT_WORKER_MARGIN_S,
            tempo_bpm: None,
            ring_seconds: 4.0,
        }
    }
}

/// Default worker margin: 120 ms covers a 4096-frame block at 48 kHz (85 ms), the resampler's
/// chunk and filter delay, and half the default crossfade; offline rendering needs less.
pub const DEFAULT_WORKER_MARGIN_S: f64 = 0.12;
