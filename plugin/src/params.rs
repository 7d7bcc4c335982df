//! The plugin's parameters and persisted fields. Written by the host and the GUI; read on the
//! audio thread (values and smoothers only) and by the engine's worker thread (structural
//! values: look-ahead, seed, the preset path).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use counterpart_core::engine::{EngineSettings, MissingLabel};
use counterpart_core::preset::NoteValueRecord;
use nice_plug::prelude::*;

/// Where the guide track A comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum GuideSource {
    /// The track the plugin sits on.
    #[id = "main"]
    #[name = "Main input"]
    Main,
    /// The "Guide sidechain" auxiliary input.
    #[id = "sidechain"]
    #[name = "Sidechain"]
    Sidechain,
}

/// How far the decision model may look ahead into the guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum LookaheadMode {
    /// L = 0: B answers A with no added latency (it trails its grid by the worker margin).
    #[id = "live"]
    #[name = "Live (L=0)"]
    Live,
    /// L = 1: B lines up with A; the plugin reports one and a half segments plus the worker
    /// margin of latency.
    #[id = "aligned"]
    #[name = "Aligned (L=1)"]
    Aligned,
}

impl LookaheadMode {
    /// The look-ahead in segments.
    pub fn segments(self) -> usize {
        match self {
            LookaheadMode::Live => 0,
            LookaheadMode::Aligned => 1,
        }
    }
}

/// How long the segments are: the preset's own length, or a note value at the host's tempo (the
/// corpus is then re-cut and re-labelled with the preset's encoder; the decision model stays the
/// one trained at the preset's length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum SegmentChoice {
    /// The length the preset was built with.
    #[id = "preset"]
    #[name = "Preset"]
    Preset,
    /// A sixteenth note.
    #[id = "1/16"]
    #[name = "1/16 note"]
    Sixteenth,
    /// An eighth note.
    #[id = "1/8"]
    #[name = "1/8 note"]
    Eighth,
    /// A quarter note.
    #[id = "1/4"]
    #[name = "1/4 note"]
    Quarter,
    /// A half note.
    #[id = "1/2"]
    #[name = "1/2 note"]
    Half,
    /// A whole note.
    #[id = "1/1"]
    #[name = "Whole note"]
    Whole,
}

impl SegmentChoice {
    /// The note value, or `None` for the preset's own length.
    pub fn note(self) -> Option<NoteValueRecord> {
        let denominator = match self {
            SegmentChoice::Preset => return None,
            SegmentChoice::Sixteenth => 16,
            SegmentChoice::Eighth => 8,
            SegmentChoice::Quarter => 4,
            SegmentChoice::Half => 2,
            SegmentChoice::Whole => 1,
        };
        Some(NoteValueRecord {
            numerator: 1,
            denominator,
        })
    }
}

/// All of Counterpart's parameters, and the preset path saved with the project.
#[derive(Params)]
pub struct CounterpartParams {
    /// The preset file; `None` plays the embedded default preset. Saved in the plugin state.
    /// GUI and worker threads only.
    #[persist = "preset-path"]
    pub preset_path: Arc<Mutex<Option<PathBuf>>>,
    /// The user's recordings (files or folders) that replace the preset's corpus; empty: the
    /// preset's own corpus plays. Saved in the plugin state. GUI and worker threads only.
    #[persist = "recordings"]
    pub recordings: Arc<Mutex<Vec<PathBuf>>>,
    /// The editor window's size in logical points, saved in the plugin state so the window
    /// reopens as the user left it. GUI thread only.
    #[persist = "editor-size"]
    pub editor_size: Arc<Mutex<(f32, f32)>>,
    /// What the last state loaded held that this version does not know (a newer version's
    /// parameters and settings), for the editor; written when a state is loaded
    /// (`saved_state.rs`). GUI and main threads only.
    #[persist = "ignored-on-load"]
    pub ignored_on_load: Arc<Mutex<Vec<String>>>,

    /// Sampling temperature τ (0: always the most likely label).
    #[id = "temp"]
    pub temperature: FloatParam,
    /// Nucleus sampling mass (1: off).
    #[id = "topp"]
    pub top_p: FloatParam,
    /// Follow ↔ free: 0 follows the model, 1 samples from the corpus's own label statistics.
    #[id = "free"]
    pub freedom: FloatParam,
    /// Only sample labels the corpus has.
    #[id = "constr"]
    pub constrained: BoolParam,
    /// Probability of continuing with the next corpus segment when it carries a fitting label.
    #[id = "contin"]
    pub continuity: FloatParam,
    /// Crossfade length at a jump between corpus segments.
    #[id = "xfade"]
    pub crossfade_ms: FloatParam,
    /// Segment length: the preset's, or a note value at the host's tempo (changing it re-cuts
    /// the corpus and rebuilds the engine).
    #[id = "segment"]
    pub segment: EnumParam<SegmentChoice>,
    /// Look-ahead mode (changing it rebuilds the engine and the reported latency).
    #[id = "lookahd"]
    pub lookahead: EnumParam<LookaheadMode>,
    /// Share of the companion track in the output.
    #[id = "drywet"]
    pub dry_wet: FloatParam,
    /// Gain applied to the whole output.
    #[id = "outgain"]
    pub output_gain: FloatParam,
    /// Where the guide comes from.
    #[id = "guide"]
    pub guide_source: EnumParam<GuideSource>,
    /// Seed of the sampler and the navigator (changing it restarts the engine).
    #[id = "seed"]
    pub seed: IntParam,
    /// Stop following the guide and keep playing the current corpus run.
    #[id = "freeze"]
    pub freeze: BoolParam,
    /// Rest when the guide rests, and come back with it.
    #[id = "rests"]
    pub follow_rests: BoolParam,
    /// How long the guide must be silent before the companion rests.
    #[id = "resthold"]
    pub rest_hold_ms: FloatParam,
    /// Start the companion's notes with the guide's (Live mode: on its predicted beat).
    #[id = "onsets"]
    pub follow_onsets: BoolParam,
    /// Prefer corpus notes consonant with the guide's, among those the model's label allows.
    #[id = "harmony"]
    pub follow_harmony: BoolParam,
    /// Keep playing while the host's transport is stopped (for live use without a timeline).
    #[id = "stopped"]
    pub play_stopped: BoolParam,
}

impl Default for CounterpartParams {
    fn default() -> Self {
        let defaults = EngineSettings::default();
        Self {
            preset_path: Arc::new(Mutex::new(None)),
            recordings: Arc::new(Mutex::new(Vec::new())),
            ignored_on_load: Arc::new(Mutex::new(Vec::new())),
            editor_size: Arc::new(Mutex::new(crate::editor::DEFAULT_SIZE)),
            temperature: FloatParam::new(
                "Temperature",
                defaults.temperature,
                FloatRange::Linear { min: 0.0, max: 2.0 },
            )
            .with_step_size(0.01)
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            top_p: FloatParam::new(
                "Top-p",
                defaults.top_p,
                FloatRange::Linear {
                    min: 0.05,
                    max: 1.0,
                },
            )
            .with_step_size(0.01)
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            freedom: FloatParam::new(
                "Follow/Free",
                defaults.freedom,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
            constrained: BoolParam::new("Constrained", defaults.constrained),
            continuity: FloatParam::new(
                "Continuity",
                defaults.continuity,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
            crossfade_ms: FloatParam::new(
                "Crossfade",
                defaults.crossfade_seconds * 1000.0,
                FloatRange::Skewed {
                    min: 2.0,
                    max: 250.0,
                    factor: FloatRange::skew_factor(-1.5),
                },
            )
            .with_unit(" ms")
            .with_value_to_string(formatters::v2s_f32_rounded(0)),
            segment: EnumParam::new("Segment", SegmentChoice::Preset),
            lookahead: EnumParam::new("Look-ahead", LookaheadMode::Aligned),
            dry_wet: FloatParam::new("Dry/Wet", 0.5, FloatRange::Linear { min: 0.0, max: 1.0 })
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
            guide_source: EnumParam::new("Guide Source", GuideSource::Main),
            seed: IntParam::new("Seed", 1, IntRange::Linear { min: 0, max: 9999 }),
            freeze: BoolParam::new("Freeze", false),
            follow_rests: BoolParam::new("Follow Rests", defaults.follow_rests),
            rest_hold_ms: FloatParam::new(
                "Rest Hold",
                defaults.rest_hold_seconds * 1000.0,
                FloatRange::Skewed {
                    min: 0.0,
                    max: 4000.0,
                    factor: FloatRange::skew_factor(-1.5),
                },
            )
            .with_unit(" ms")
            .with_value_to_string(formatters::v2s_f32_rounded(0)),
            follow_onsets: BoolParam::new("Follow Onsets", defaults.follow_onsets),
            follow_harmony: BoolParam::new("Follow Harmony", defaults.follow_harmony),
            play_stopped: BoolParam::new("Play When Stopped", false),
        }
    }
}

impl CounterpartParams {
    /// The engine settings the parameters ask for now. Allocation-free (audio thread).
    pub fn engine_settings(&self) -> EngineSettings {
        EngineSettings {
            temperature: self.temperature.value(),
            top_p: self.top_p.value(),
            top_k: 0,
            freedom: self.freedom.value(),
            constrained: self.constrained.value(),
            continuity: self.continuity.value(),
            no_immediate_repeat: true,
            missing_label: MissingLabel::Nearest,
            crossfade_seconds: self.crossfade_ms.value() / 1000.0,
            follow_rests: self.follow_rests.value(),
            rest_hold_seconds: self.rest_hold_ms.value() / 1000.0,
            follow_onsets: self.follow_onsets.value(),
            follow_harmony: self.follow_harmony.value(),
            freeze: self.freeze.value(),
        }
    }

    /// The preset file the user chose, if any (GUI and worker threads).
    pub fn preset_path(&self) -> Option<PathBuf> {
        get(&self.preset_path)
    }

    /// Chooses the preset file (`None`: the embedded default), played with its own corpus.
    /// GUI thread.
    pub fn set_preset_path(&self, path: Option<PathBuf>) {
        set(&self.preset_path, path);
        self.set_recordings(Vec::new());
    }

    /// The user's recordings that replace the preset's corpus (GUI and worker threads).
    pub fn recordings(&self) -> Vec<PathBuf> {
        get(&self.recordings)
    }

    /// Plays `paths` (files or folders; empty: the preset's own corpus) with the preset's
    /// model. GUI thread.
    pub fn set_recordings(&self, paths: Vec<PathBuf>) {
        set(&self.recordings, paths);
    }
}

/// The value in `slot`, also if a thread panicked while holding it.
fn get<T: Clone>(slot: &Mutex<T>) -> T {
    slot.lock().map_or_else(
        |poisoned| poisoned.into_inner().clone(),
        |value| value.clone(),
    )
}

/// Stores `value` in `slot`, also if a thread panicked while holding it.
fn set<T>(slot: &Mutex<T>, value: T) {
    match slot.lock() {
        Ok(mut guard) => *guard = value,
        Err(poisoned) => *poisoned.into_inner() = value,
    }
}
