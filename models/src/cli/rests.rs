//! The rest options `render` and `eval-heard` share with the plugin's "Follow Rests" and
//! "Rest Hold" parameters.

use counterpart_core::engine::{EngineSettings, DEFAULT_REST_HOLD_S};

/// Whether and when the companion rests with the guide.
#[derive(Debug, Clone, clap::Args)]
pub struct RestArgs {
    /// Rest when the guide rests: the companion fades out once the guide has been silent for
    /// the hold and comes back with its next onset (pass `--follow-rests false` to play
    /// through).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    follow_rests: bool,
    /// Seconds the guide must be silent before the companion rests (0 to 4).
    #[arg(long, default_value_t = DEFAULT_REST_HOLD_S)]
    rest_hold: f32,
}

impl RestArgs {
    /// `settings` with these rest options.
    pub fn apply(&self, settings: EngineSettings) -> EngineSettings {
        EngineSettings {
            follow_rests: self.follow_rests,
            rest_hold_seconds: self.rest_hold,
            ..settings
        }
    }
}
