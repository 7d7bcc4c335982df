//! Why the engine could not be built or could not go on.

use super::LoadError;
use crate::action::{NavigatorError, ProcessError, ScheduleError};
use crate::decision::DecisionError;
use crate::perception::PerceptionError;

/// Why the engine could not be built or could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A setting is out of range or does not fit the preset (the message says which).
    #[error("engine configuration: {0}")]
    Config(String),
    /// Loading a preset failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Perception failed.
    #[error("perception: {0}")]
    Perception(#[from] PerceptionError),
    /// The decision model or the sampler failed.
    #[error("decision: {0}")]
    Decision(#[from] DecisionError),
    /// The navigator refused a setting or a label.
    #[error("navigator: {0}")]
    Navigator(#[from] NavigatorError),
    /// The scheduler refused a command.
    #[error("scheduler: {0}")]
    Schedule(#[from] ScheduleError),
    /// The audio buffers have the wrong shape.
    #[error("audio buffers: {0}")]
    Process(#[from] ProcessError),
}
