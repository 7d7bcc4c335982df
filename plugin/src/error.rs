//! Why the plugin cannot play what was asked: the one error of the plugin's layer. The editor
//! shows it while the plugin passes dry audio. It is kept in the library's cache and cloned
//! into the status, so the engine's and the preset's errors travel as their messages.

/// Why a preset could not be loaded or an engine built (the message says what to do).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginError {
    /// The load was given up: a newer request came, or the plugin is going.
    #[error("cancelled")]
    Cancelled,
    /// The default preset compiled into the plugin does not read.
    #[error("the embedded default preset is damaged: {0}")]
    DefaultPresetDamaged(String),
    /// A preset file could not be read or is not a valid preset.
    #[error("cannot load preset {path}: {reason}")]
    PresetFile {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The corpus could not be re-cut at the note value asked for.
    #[error("cannot cut {what}: {reason}")]
    Cut {
        /// The preset and segment length.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// The preset could not be turned into runtime objects.
    #[error("cannot load {what}: {reason}")]
    Load {
        /// The preset (and segment length).
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// The loader thread could not be started.
    #[error("cannot start the loader thread: {0}")]
    LoaderThread(String),
    /// The loader thread ended without an answer.
    #[error("the preset loader stopped unexpectedly")]
    LoaderStopped,
    /// The engine could not be built.
    #[error("cannot start the engine: {0}")]
    Engine(String),
    /// The audio thread did not take the new engine (its hand-off ring was full).
    #[error("the audio thread is not taking new engines (is it processing?)")]
    AudioThreadBusy,
    /// The engine would report another latency than the one announced to the host.
    #[error(
        "the engine's latency ({engine} samples) is not the one announced to the host \
         ({announced}); restart the plugin or the transport"
    )]
    LatencyMismatch {
        /// The engine's latency in samples.
        engine: u32,
        /// The latency announced at activation.
        announced: u32,
    },
}
