//! How far a long load has got, for a progress bar.

use std::sync::atomic::{AtomicU32, Ordering};

/// Steps done out of steps planned, of a load on a loader thread (reading recordings, cutting
/// and labelling a corpus). Written by that thread, read by the GUI; lock-free.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU32,
    planned: AtomicU32,
}

impl Progress {
    /// Starts counting afresh: nothing planned, nothing done.
    pub fn restart(&self) {
        self.planned.store(0, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    /// Plans `steps` more steps.
    pub fn plan(&self, steps: usize) {
        let steps = u32::try_from(steps).unwrap_or(u32::MAX);
        self.planned.fetch_add(steps, Ordering::Relaxed);
    }

    /// One planned step is done.
    pub fn step(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// The share done, in `[0, 1]`; `None` when nothing is planned.
    pub fn fraction(&self) -> Option<f32> {
        let planned = self.planned.load(Ordering::Relaxed);
        let done = self.done.load(Ordering::Relaxed);
        (planned > 0).then(|| (done as f32 / planned as f32).min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fraction_counts_steps_against_the_plan() {
        let progress = Progress::default();
        assert_eq!(progress.fraction(), None);
        progress.plan(3);
        progress.step();
        assert!((progress.fraction().unwrap() - 1.0 / 3.0).abs() < 1e-6);
        progress.plan(1);
        progress.step();
        assert_eq!(progress.fraction(), Some(0.5));
        progress.restart();
        assert_eq!(progress.fraction(), None);
    }
}
