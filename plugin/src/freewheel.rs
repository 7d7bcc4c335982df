//! Tells when a host renders faster than real time without saying so.
//!
//! CLAP hosts announce offline renders (the render extension), and so may VST3 hosts, in
//! `setupProcessing`. Others only flag each process call (Ardour 7 sets `ProcessData::processMode`
//! to offline while it exports, which the plugin framework does not pass on), or say nothing.
//! An offline render must not race the worker thread, so the plugin also watches the host's
//! pace: in real time the host waits for the sound card between blocks, about one block's
//! duration minus its own work; a freewheeling host calls again at once. The detector sums the
//! host's idle time between process calls over windows of audio and compares it with the
//! audio's duration. Our own processing time is not counted, so a slow engine (or one waiting
//! for its build) does not look like a real-time host.

use std::time::{Duration, Instant};

/// The audio a window spans before it is judged: short enough that a bounce is recognised
/// before its first decision is due (the worker margin, 120 ms), long enough to span several
/// of a real-time host's sound-card periods.
const WINDOW: Duration = Duration::from_millis(100);
/// The fewest process calls a window spans before it is judged.
const WINDOW_CALLS: u32 = 4;
/// Freewheeling starts when the host idles less than this share of the audio's duration
/// (it runs at least 8× faster than real time, counting our own work as free).
const ENTER_SHARE: f64 = 1.0 / 8.0;
/// Freewheeling ends when the host idles more than this share of the audio's duration...
const LEAVE_SHARE: f64 = 0.5;
/// ...in this many windows in a row: a freewheeling host that stalls for a moment (reading
/// from disk after a locate) is not taken for one back in real time.
const LEAVE_WINDOWS: u32 = 5;

/// The host's pace over the process calls so far. Audio thread: reading the monotonic clock is
/// a vDSO call, with no lock, allocation or system call.
#[derive(Debug)]
pub struct FreewheelDetector {
    sample_rate: f64,
    /// When the previous process call returned.
    last_end: Option<Instant>,
    /// The previous call's audio, counted once the gap after it is known.
    last_frames: usize,
    window_audio: Duration,
    window_idle: Duration,
    window_calls: u32,
    /// Windows in a row at a real-time pace while freewheeling.
    calm_windows: u32,
    freewheeling: bool,
}

impl FreewheelDetector {
    /// A detector for a host running at `sample_rate` Hz, which starts out in real time.
    pub fn new(sample_rate: f32) -> Self {
        Self {
            sample_rate: f64::from(sample_rate),
            last_end: None,
            last_frames: 0,
            window_audio: Duration::ZERO,
            window_idle: Duration::ZERO,
            window_calls: 0,
            calm_windows: 0,
            freewheeling: false,
        }
    }

    /// Notes the start of a process call of `frames` frames at `now`, and returns whether the
    /// host is freewheeling.
    pub fn block_started(&mut self, now: Instant, frames: usize) -> bool {
        if let Some(end) = self.last_end {
            self.window_idle += now.saturating_duration_since(end);
            self.window_audio +=
                Duration::from_secs_f64(self.last_frames as f64 / self.sample_rate);
            self.window_calls += 1;
            if self.window_audio >= WINDOW && self.window_calls >= WINDOW_CALLS {
                let share = self.window_idle.as_secs_f64() / self.window_audio.as_secs_f64();
                if share < ENTER_SHARE {
                    self.freewheeling = true;
                    self.calm_windows = 0;
                } else if share > LEAVE_SHARE && self.freewheeling {
                    self.calm_windows += 1;
                    if self.calm_windows >= LEAVE_WINDOWS {
                        self.freewheeling = false;
                        self.calm_windows = 0;
                    }
                } else {
                    self.calm_windows = 0;
                }
                self.window_audio = Duration::ZERO;
                self.window_idle = Duration::ZERO;
                self.window_calls = 0;
            }
        }
        self.last_frames = frames;
        self.freewheeling
    }

    /// Notes the end of the process call begun last, at `now`.
    pub fn block_finished(&mut self, now: Instant) {
        self.last_end = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `calls` blocks of `frames` frames at 48 kHz, each taking `work` of our time and
    /// followed by `idle` of the host's; returns the verdict at each call.
    fn run(
        detector: &mut FreewheelDetector,
        clock: &mut Instant,
        calls: usize,
        frames: usize,
        work: Duration,
        idle: Duration,
    ) -> Vec<bool> {
        (0..calls)
            .map(|_| {
                let verdict = detector.block_started(*clock, frames);
                *clock += work;
                detector.block_finished(*clock);
                *clock += idle;
                verdict
            })
            .collect()
    }

    #[test]
    fn a_real_time_host_is_never_taken_for_a_freewheeling_one() {
        let mut detector = FreewheelDetector::new(48_000.0);
        let mut clock = Instant::now();
        // 1024 frames every 21.3 ms, of which the plugin takes 80 % (far more than it does).
        let verdicts = run(
            &mut detector,
            &mut clock,
            500,
            1024,
            Duration::from_micros(17_067),
            Duration::from_micros(4_267),
        );
        assert!(verdicts.iter().all(|&v| !v));
    }

    #[test]
    fn a_bounce_is_recognised_before_the_first_decision_and_left_when_it_ends() {
        let mut detector = FreewheelDetector::new(48_000.0);
        let mut clock = Instant::now();
        // Ardour's export: 50× real time, the plugin's share included.
        let bounce = run(
            &mut detector,
            &mut clock,
            40,
            1024,
            Duration::from_micros(300),
            Duration::from_micros(126),
        );
        let first = bounce.iter().position(|&v| v).expect("never detected");
        // Detected within 120 ms of audio (5760 frames at 48 kHz): before the first decision.
        assert!(first * 1024 <= 5760, "detected at call {first}");
        assert!(bounce[first..].iter().all(|&v| v));
        // A stall of 0.2 s (the host reading from disk) does not end it.
        let stall = run(
            &mut detector,
            &mut clock,
            2,
            1024,
            Duration::from_micros(300),
            Duration::from_millis(100),
        );
        let on = run(
            &mut detector,
            &mut clock,
            20,
            1024,
            Duration::from_micros(300),
            Duration::from_micros(126),
        );
        assert!(stall.iter().chain(&on).all(|&v| v));
        // Back to real time for half a second, with the engine's worker still on the audio
        // thread.
        let after = run(
            &mut detector,
            &mut clock,
            40,
            1024,
            Duration::from_micros(8_000),
            Duration::from_micros(13_333),
        );
        assert!(!after.last().unwrap());
    }

    #[test]
    fn waiting_for_our_own_work_does_not_end_a_bounce() {
        let mut detector = FreewheelDetector::new(48_000.0);
        let mut clock = Instant::now();
        run(
            &mut detector,
            &mut clock,
            10,
            1024,
            Duration::from_micros(100),
            Duration::from_micros(50),
        );
        // The plugin waits 3 s for its engine; the host keeps calling at once.
        let waited = run(
            &mut detector,
            &mut clock,
            10,
            1024,
            Duration::from_secs(3),
            Duration::from_micros(50),
        );
        assert!(waited.iter().all(|&v| v));
    }
}
