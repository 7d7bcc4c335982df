//! The options `render` and `eval-heard` share with the plugin's "Follow Rests", "Rest Hold",
//! "Follow Onsets" and "Follow Harmony" parameters.

use counterpart_core::engine::{EngineSettings, DEFAULT_REST_HOLD_S};

/// How the companion follows the guide: its rests, its onsets and its harmony.
#[derive(Debug, Clone, clap::Args)]
pub struct TimingArgs {
    /// Rest when the guide rests: the companion fades out once the guide has been silent for
    /// the hold and comes back with its next onset (pass `--follow-rests false` to play
    /// through).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    follow_rests: bool,
    /// Seconds the guide must be silent before the companion rests (0 to 4).
    #[arg(long, default_value_t = DEFAULT_REST_HOLD_S)]
    rest_hold: f32,
    /// Start the companion's notes with the guide's: the corpus audio changes at the guide's
    /// onsets (look-ahead 1), or at those predicted from its pulse (look-ahead 0), at a corpus
    /// note's attack, and notes are held in between (pass `--follow-onsets false` to change on
    /// the segment grid).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    follow_onsets: bool,
    /// Among the corpus segments with the label the model asks for, prefer one whose note is
    /// consonant with the notes the guide plays (pass `--follow-harmony false` for the
    /// model's label alone).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    follow_harmony: bool,
}

impl TimingArgs {
    /// `settings` with these timing options.
    pub fn apply(&self, settings: EngineSettings) -> EngineSettings {
        EngineSettings {
            follow_rests: self.follow_rests,
            rest_hold_seconds: self.rest_hold,
            follow_onsets: self.follow_onsets,
            follow_harmony: self.follow_harmony,
            ..settings
        }
    }
}
