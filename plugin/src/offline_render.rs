//! Offline renders, as the host announces them (audio thread). When the host says it renders
//! offline (CLAP's render extension; VST3's `ProcessData::processMode`, per process call), the
//! audio thread runs the engine's worker half itself and waits for engines being built, so the
//! output is exactly what `counterpart render` gives for the guide the host renders. A bounce
//! that starts afresh gets a fresh engine. The host's word is the only way in: a host that says
//! nothing, or says it plays in real time, however fast it calls, never gets a wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::handoff::{BuildProgress, Installed};
use crate::shared::SharedState;

/// The longest an offline render waits for its engine to load.
const OFFLINE_WAIT: Duration = Duration::from_secs(120);

/// Whether the host renders offline, and the engines an offline render waits for.
#[derive(Debug)]
pub struct OfflineRender {
    /// Whether the host said, for the block being processed, that it renders offline.
    offline: bool,
    /// Build counters (an offline render waits for builds).
    progress: Arc<BuildProgress>,
    /// Fresh engines asked for (host resets, bounces).
    resets: u64,
    /// The reset count the playing engine (or the failure) was built after.
    epoch: Option<u64>,
}

impl OfflineRender {
    /// Real time until the host says otherwise; `progress` counts the worker's builds.
    pub fn new(progress: Arc<BuildProgress>) -> Self {
        Self {
            offline: false,
            progress,
            resets: 0,
            epoch: None,
        }
    }

    /// Takes the host's word for this block (`offline` or not) and shares it with the worker
    /// thread. Returns whether an offline render has just begun.
    pub fn enter_block(&mut self, offline: bool, shared: &SharedState) -> bool {
        let was_offline = self.offline;
        self.offline = offline;
        shared.set_offline(offline);
        !was_offline && offline
    }

    /// Whether the host said, for the block being processed, that it renders offline.
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// Asks the worker for a fresh engine (an offline render waits for it).
    pub fn ask_fresh_engine(&mut self, shared: &SharedState) {
        self.resets += 1;
        shared.request_reset();
    }

    /// An engine (or a failure to build one) arrived, built after reset `epoch`.
    pub fn arrived(&mut self, epoch: u64) {
        self.epoch = Some(epoch);
    }

    /// When this block's wait for engines began: now offline, never in real time.
    pub fn wait_start(&self) -> Option<Instant> {
        self.offline.then(Instant::now)
    }

    /// Whether a wait begun at `started` ([`Self::wait_start`]) goes on: an engine is being
    /// built, or the playing one (`current`) has not got its worker half yet, and the wait is
    /// not over [`OFFLINE_WAIT`].
    pub fn keeps_waiting(&self, started: Option<Instant>, current: Option<&Installed>) -> bool {
        let waiting = self.progress.pending()
            || self.epoch.is_none_or(|epoch| epoch < self.resets)
            || current.is_some_and(|e| e.worker.is_none());
        started.is_some_and(|started| waiting && started.elapsed() <= OFFLINE_WAIT)
    }
}
