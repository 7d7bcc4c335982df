//! The engine's settings: what is fixed when the engine is built ([`EngineConfig`]) and what can
//! change while it plays ([`EngineSettings`], sent to the worker through a lock-free queue).

use serde::{Deserialize, Serialize};

use super::EngineError;
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
    /// Start the companion's notes with the guide's: the corpus audio changes at the guide's
    /// onsets (aligned mode) or at those predicted from its pulse (live mode), each time at a
    /// corpus note's attack, and notes are held in between; a segment with no guide onset
    /// changes note by a slur (no attack). Live with a reaction window, a guide note heard
    /// inside a segment has that segment's choice made again from it. Off: the corpus audio
    /// changes on the segment grid.
    pub follow_onsets: bool,
    /// Follow the guide's harmony: among the corpus segments with the label the model asks
    /// for, prefer one whose note sounds consonant with the notes the guide plays (as heard
    /// when the decision is made: the reaction window, or the whole segment with a
    /// look-ahead; live, a guide note heard inside a segment is checked again). Off: the
    /// navigator does not listen to the guide's notes.
    pub follow_harmony: bool,
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
            follow_harmony: true,
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
    /// How long after its grid position each companion segment starts: the time the worker
    /// has to segment, encode and decide after a guide segment ends (host blocks, resampler
    /// delay, compute, half a crossfade). See the timing notes in [`crate::engine`].
    pub worker_margin: Margin,
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
            worker_margin: Margin::Host {
                max_block: DEFAULT_HOST_BLOCK,
            },
            tempo_bpm: None,
            ring_seconds: 4.0,
        }
    }
}

/// The host block size [`EngineConfig::default`] fits its margin to.
pub const DEFAULT_HOST_BLOCK: usize = 512;

/// How the worker margin is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Margin {
    /// Fitted to a host that calls the engine with blocks of up to `max_block` frames
    /// ([`WorkerMargin::for_host`], with the crossfade the engine starts with).
    Host {
        /// The host's largest block, in frames.
        max_block: usize,
    },
    /// A fixed margin, in seconds.
    Seconds(f64),
}

impl EngineConfig {
    /// The worker margin in seconds at `rate` Hz, checked (0 to 2 s).
    pub fn margin_seconds(&self, rate: u32) -> Result<f64, EngineError> {
        let seconds = match self.worker_margin {
            Margin::Host { max_block } => {
                WorkerMargin::for_host(max_block, rate, self.settings.crossfade_seconds)?.seconds()
            }
            Margin::Seconds(seconds) => seconds,
        };
        if seconds.is_finite() && (0.0..=2.0).contains(&seconds) {
            Ok(seconds)
        } else {
            Err(EngineError::Config(format!(
                "worker margin {seconds} s must be between 0 and 2 s"
            )))
        }
    }
}

/// How often a real-time worker looks for new guide audio when it has nothing to do.
pub const WORKER_POLL: std::time::Duration = std::time::Duration::from_millis(2);

/// The worker's compute per segment boundary that the margin allows for: the encoder on the
/// segment and its context, the quantiser, one Transformer step and the navigator. The
/// `reaction` bench measures it: at most 8.4–9.9 ms per segment with the default preset on a
/// 2-core machine, with the encoder session warm (once in four runs a 26 ms spike, whose
/// decision came late and was covered by the corpus playing on).
pub const COMPUTE_ALLOWANCE_S: f64 = 0.010;

/// What the worker margin is made of, for a host that calls the plugin with blocks of up to
/// `max_block` frames (see the timing notes in [`crate::engine`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerMargin {
    /// Two host blocks: the one that carries a guide segment's end (its last sample may arrive
    /// at the end of a block), and the one the answer starts in (the audio thread picks a
    /// decision up when a block begins).
    pub blocks_s: f64,
    /// The resampler to the encoder's rate: a chunk waiting to fill, and its filter delay.
    pub resampler_s: f64,
    /// The worker's polling interval and its compute ([`WORKER_POLL`],
    /// [`COMPUTE_ALLOWANCE_S`]).
    pub compute_s: f64,
    /// Half the crossfade, which is centred on the slot's start.
    pub half_crossfade_s: f64,
}

impl WorkerMargin {
    /// The margin for blocks of up to `max_block` frames at `rate` Hz, with crossfades of
    /// `crossfade_s` seconds.
    pub fn for_host(max_block: usize, rate: u32, crossfade_s: f32) -> Result<Self, EngineError> {
        crate::perception::resample::check_rate(rate)?;
        Ok(Self {
            blocks_s: 2.0 * max_block.max(1) as f64 / f64::from(rate.max(1)),
            resampler_s: crate::perception::resample::latency_seconds(rate),
            compute_s: WORKER_POLL.as_secs_f64() + COMPUTE_ALLOWANCE_S,
            half_crossfade_s: f64::from(crossfade_s.max(0.0)) / 2.0,
        })
    }

    /// The margin: how long after its grid position a slot starts (the middle of its
    /// crossfade), capped at 2 s.
    pub fn seconds(&self) -> f64 {
        (self.reaction_seconds() + self.half_crossfade_s).min(2.0)
    }

    /// From the end of the guide audio a decision needs to the first sample of the companion's
    /// answer (where its crossfade begins).
    pub fn reaction_seconds(&self) -> f64 {
        self.blocks_s + self.resampler_s + self.compute_s
    }
}
