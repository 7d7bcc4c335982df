//! The engine's worker half on the move between the worker thread and the audio thread.
//!
//! In real time the worker thread runs the playing engine's worker half. When the host says it
//! renders offline, the half goes to the audio thread, which runs it block by block (every
//! decision on time); when the host is back in real time, it comes back. Two rings carry it,
//! one each way, and each thread holds one end: [`AudioEnd`] (never frees a half: it sends
//! back those it cannot use) and [`WorkerEnd`] (frees halves of engines no longer playing).

use counterpart_core::engine::EngineWorker;
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::handoff::Installed;

/// Worker halves that may be on their way at once, each way.
const TRAVEL_CAPACITY: usize = 2;

/// An engine's worker half on its way, with the id of the engine it belongs to.
#[derive(Debug)]
pub struct TravellingWorker {
    /// The engine's id ([`Installed::id`]).
    pub id: u64,
    /// The worker half.
    pub worker: EngineWorker,
}

/// The two ends of the road, for the audio thread and for the worker thread.
pub fn road() -> (AudioEnd, WorkerEnd) {
    let (to_audio_tx, to_audio_rx) = HeapRb::<TravellingWorker>::new(TRAVEL_CAPACITY).split();
    let (to_worker_tx, to_worker_rx) = HeapRb::<TravellingWorker>::new(TRAVEL_CAPACITY).split();
    (
        AudioEnd {
            inbox: to_audio_rx,
            outbox: to_worker_tx,
            stray: None,
        },
        WorkerEnd {
            inbox: to_worker_rx,
            outbox: to_audio_tx,
        },
    )
}

/// The audio thread's end: lock-free and allocation-free.
pub struct AudioEnd {
    inbox: HeapCons<TravellingWorker>,
    outbox: HeapProd<TravellingWorker>,
    /// A worker half that could not go back yet (its ring was full).
    stray: Option<TravellingWorker>,
}

impl std::fmt::Debug for AudioEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioEnd")
            .field("stray", &self.stray.is_some())
            .finish_non_exhaustive()
    }
}

impl AudioEnd {
    /// `offline`: takes the worker half of the playing engine (`current`) from the worker
    /// thread. In real time: sends it back. Halves of engines no longer playing go back to be
    /// freed.
    pub fn exchange(&mut self, mut current: Option<&mut Installed>, offline: bool) {
        while self.stray.is_none() {
            let Some(travelling) = self.inbox.try_pop() else {
                break;
            };
            match &mut current {
                Some(engine)
                    if engine.id == travelling.id && engine.worker.is_none() && offline =>
                {
                    engine.worker = Some(travelling.worker);
                }
                _ => self.stray = Some(travelling),
            }
            self.send_stray();
        }
        if !offline && self.stray.is_none() {
            if let Some(engine) = current {
                if let Some(worker) = engine.worker.take() {
                    self.stray = Some(TravellingWorker {
                        id: engine.id,
                        worker,
                    });
                }
            }
        }
        self.send_stray();
    }

    /// Sends a worker half back to the worker thread, if one is waiting to go.
    fn send_stray(&mut self) {
        if let Some(travelling) = self.stray.take() {
            if let Err(travelling) = self.outbox.try_push(travelling) {
                self.stray = Some(travelling);
            }
        }
    }
}

/// The worker thread's end.
pub struct WorkerEnd {
    inbox: HeapCons<TravellingWorker>,
    outbox: HeapProd<TravellingWorker>,
}

impl std::fmt::Debug for WorkerEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerEnd").finish_non_exhaustive()
    }
}

impl WorkerEnd {
    /// Takes back the worker half of engine `id` into `worker` when the audio thread returns
    /// it (halves of other engines are freed), and hands it to the audio thread while the
    /// host renders `offline`. Returns whether one moved.
    pub fn exchange(&mut self, worker: &mut Option<EngineWorker>, id: u64, offline: bool) -> bool {
        let mut moved = false;
        while let Some(travelling) = self.inbox.try_pop() {
            if travelling.id == id && worker.is_none() {
                *worker = Some(travelling.worker);
            }
            moved = true;
        }
        if offline {
            if let Some(half) = worker.take() {
                if let Err(travelling) = self.outbox.try_push(TravellingWorker { id, worker: half })
                {
                    *worker = Some(travelling.worker);
                } else {
                    moved = true;
                }
            }
        }
        moved
    }
}
