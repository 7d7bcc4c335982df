//! What the engine reports to the GUI and the host, through atomics only.
//!
//! Writers: the audio thread (guide sanitising and overflow counts) and the worker (everything
//! else). Readers: any thread, without locks. The label distribution is published through a
//! sequence lock over an array of atomics: the worker writes, a reader copies and retries when
//! the copy was torn.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::perception::ALLOWED_K;

/// Value of the token and label atomics when there is nothing to show.
const NONE: u32 = u32::MAX;

/// Longest distribution the board holds: the largest codebook.
pub const MAX_LABELS: usize = ALLOWED_K[ALLOWED_K.len() - 1];

/// Where the companion segment playing now comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NowPlaying {
    /// Index of the corpus file in the preset.
    pub file: u32,
    /// Start of the segment in that file, in seconds.
    pub start_seconds: f32,
    /// The segment's label.
    pub label: u32,
}

/// Shared, lock-free engine telemetry.
#[derive(Debug)]
pub struct EngineTelemetry {
    decisions: AtomicU64,
    late_decisions: AtomicU64,
    worker_errors: AtomicU64,
    nonfinite_samples: AtomicU64,
    dropped_samples: AtomicU64,
    load: AtomicU32,
    peak_load: AtomicU32,
    token_a: AtomicU32,
    token_b: AtomicU32,
    sampled: AtomicU32,
    latency: AtomicU32,
    now_file: AtomicU32,
    now_start: AtomicU32,
    now_label: AtomicU32,
    sequence: AtomicU64,
    labels: AtomicU32,
    distribution: Box<[AtomicU32]>,
}

impl Default for EngineTelemetry {
    fn default() -> Self {
        Self {
            decisions: AtomicU64::new(0),
            late_decisions: AtomicU64::new(0),
            worker_errors: AtomicU64::new(0),
            nonfinite_samples: AtomicU64::new(0),
            dropped_samples: AtomicU64::new(0),
            load: AtomicU32::new(0),
            peak_load: AtomicU32::new(0),
            token_a: AtomicU32::new(NONE),
            token_b: AtomicU32::new(NONE),
            sampled: AtomicU32::new(NONE),
            latency: AtomicU32::new(0),
            now_file: AtomicU32::new(NONE),
            now_start: AtomicU32::new(0),
            now_label: AtomicU32::new(NONE),
            sequence: AtomicU64::new(0),
            labels: AtomicU32::new(0),
            distribution: (0..MAX_LABELS).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

fn some(value: u32) -> Option<u32> {
    (value != NONE).then_some(value)
}

impl EngineTelemetry {
    /// Companion segments decided so far.
    pub fn decisions(&self) -> u64 {
        self.decisions.load(Ordering::Relaxed)
    }

    /// Decisions that reached the audio thread after their crossfade should have begun.
    pub fn late_decisions(&self) -> u64 {
        self.late_decisions.load(Ordering::Relaxed)
    }

    /// Errors the worker thread met and skipped (see the log for what they were).
    pub fn worker_errors(&self) -> u64 {
        self.worker_errors.load(Ordering::Relaxed)
    }

    /// Guide samples that were NaN or infinite and were replaced by silence.
    pub fn nonfinite_samples(&self) -> u64 {
        self.nonfinite_samples.load(Ordering::Relaxed)
    }

    /// Guide samples lost because the worker fell so far behind that the ring was full (the
    /// worker inserts as much silence to keep its clock on the host's).
    pub fn dropped_samples(&self) -> u64 {
        self.dropped_samples.load(Ordering::Relaxed)
    }

    /// The worker's load for the last segment: time spent on it over the segment's duration
    /// (above 1 the worker cannot keep up).
    pub fn worker_load(&self) -> f32 {
        f32::from_bits(self.load.load(Ordering::Relaxed))
    }

    /// The highest worker load seen.
    pub fn peak_worker_load(&self) -> f32 {
        f32::from_bits(self.peak_load.load(Ordering::Relaxed))
    }

    /// The guide's latest token.
    pub fn token_a(&self) -> Option<u32> {
        some(self.token_a.load(Ordering::Relaxed))
    }

    /// The companion's latest label.
    pub fn token_b(&self) -> Option<u32> {
        some(self.token_b.load(Ordering::Relaxed))
    }

    /// The label last sampled from the distribution (the navigator may play another: the
    /// corpus successor, or the nearest label the corpus has).
    pub fn sampled_label(&self) -> Option<u32> {
        some(self.sampled.load(Ordering::Relaxed))
    }

    /// The latency to report to the host, in samples.
    pub fn latency_samples(&self) -> u32 {
        self.latency.load(Ordering::Relaxed)
    }

    /// Where the segment playing now comes from (as of the worker's last look).
    pub fn now_playing(&self) -> Option<NowPlaying> {
        let file = some(self.now_file.load(Ordering::Relaxed))?;
        Some(NowPlaying {
            file,
            start_seconds: f32::from_bits(self.now_start.load(Ordering::Relaxed)),
            label: self.now_label.load(Ordering::Relaxed),
        })
    }

    /// Copies the latest label distribution into `out` (cleared first). Returns `false` when
    /// nothing was published yet or the worker kept rewriting it during the copy.
    pub fn distribution(&self, out: &mut Vec<f32>) -> bool {
        for _ in 0..8 {
            let before = self.sequence.load(Ordering::Acquire);
            if before == 0 {
                return false;
            }
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let n = (self.labels.load(Ordering::Relaxed) as usize).min(MAX_LABELS);
            out.clear();
            out.extend(
                self.distribution[..n]
                    .iter()
                    .map(|value| f32::from_bits(value.load(Ordering::Relaxed))),
            );
            std::sync::atomic::fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                return true;
            }
        }
        false
    }

    pub(crate) fn count_nonfinite(&self, n: u64) {
        self.nonfinite_samples.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped(&self, n: u64) {
        self.dropped_samples.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts an error the worker met and skipped (whoever runs the worker: its thread, or an
    /// offline renderer's caller).
    pub fn count_error(&self) {
        self.worker_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_latency(&self, samples: u32) {
        self.latency.store(samples, Ordering::Relaxed);
    }

    /// Records one decision (worker): the guide's token, the label sampled, the label played.
    pub(crate) fn publish_decision(
        &self,
        token_a: Option<u32>,
        sampled: u32,
        token_b: Option<u32>,
        late: bool,
        load: f32,
        distribution: &[f32],
    ) {
        self.decisions.fetch_add(1, Ordering::Relaxed);
        if late {
            self.late_decisions.fetch_add(1, Ordering::Relaxed);
        }
        self.token_a
            .store(token_a.unwrap_or(NONE), Ordering::Relaxed);
        self.token_b
            .store(token_b.unwrap_or(NONE), Ordering::Relaxed);
        self.sampled.store(sampled, Ordering::Relaxed);
        self.load.store(load.to_bits(), Ordering::Relaxed);
        if load > self.peak_worker_load() {
            self.peak_load.store(load.to_bits(), Ordering::Relaxed);
        }
        let n = distribution.len().min(MAX_LABELS);
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence.store(sequence + 1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        for (slot, &p) in self.distribution.iter().zip(&distribution[..n]) {
            slot.store(p.to_bits(), Ordering::Relaxed);
        }
        self.labels.store(n as u32, Ordering::Relaxed);
        self.sequence.store(sequence + 2, Ordering::Release);
    }

    /// Records what is playing now (worker).
    pub(crate) fn publish_now_playing(&self, now: Option<NowPlaying>) {
        match now {
            Some(now) => {
                self.now_start
                    .store(now.start_seconds.to_bits(), Ordering::Relaxed);
                self.now_label.store(now.label, Ordering::Relaxed);
                self.now_file.store(now.file, Ordering::Relaxed);
            }
            None => self.now_file.store(NONE, Ordering::Relaxed),
        }
    }
}
