//! When the guide rests: its level, judged in short windows with a threshold and hysteresis,
//! on the worker's clock (so that the plugin and `counterpart render` agree to the frame).
//!
//! A sounding guide becomes silent from the first window whose RMS level is below
//! [`SILENCE_DBFS`], or [`TAIL_DB`] under the loudest window of the last [`PEAK_SECONDS`]: a
//! note's release or a reverb tail does not count as playing once it has decayed that far,
//! while a held note that fades slowly does. A silent guide sounds again from the first window
//! at or above [`SOUND_DBFS`] and within [`ENTRY_DB`] of that loudest window, so a noise floor
//! or what is left of a tail does not wake it.

use std::collections::VecDeque;

/// A window's level at or above this starts the guide sounding (dBFS, RMS).
pub const SOUND_DBFS: f64 = -45.0;
/// A window's level below this makes a sounding guide silent (dBFS, RMS).
pub const SILENCE_DBFS: f64 = -55.0;
/// A window this far under the recent peak makes a sounding guide silent (dB).
pub const TAIL_DB: f64 = 24.0;
/// A silent guide sounds again only within this much of the recent peak (dB).
pub const ENTRY_DB: f64 = 18.0;
/// How far back the recent peak looks, in seconds.
pub const PEAK_SECONDS: f64 = 2.0;
/// The window the level is measured over, in seconds.
const WINDOW_SECONDS: f64 = 0.02;
/// How much history of changes is kept, in seconds (far more than a segment plus the
/// worker's backlog).
const HISTORY_SECONDS: f64 = 30.0;

/// The guide's sounding and silent spans. Worker thread.
#[derive(Debug)]
pub struct RestDetector {
    window: u64,
    history: u64,
    sound: f64,
    silence: f64,
    tail: f64,
    entry: f64,
    /// The last windows' powers, newest last ([`PEAK_SECONDS`] of them).
    recent: VecDeque<f64>,
    recent_len: usize,
    /// The first frame measured; windows are counted from it.
    start: u64,
    /// Frames measured so far (the worker's clock).
    position: u64,
    sum: f64,
    in_window: u64,
    sounding: bool,
    /// Where the guide changed state: (frame, sounding from there on), oldest first; before
    /// the first change the guide was silent.
    changes: VecDeque<(u64, bool)>,
}

impl RestDetector {
    /// A detector at `rate` Hz whose guide starts silent at frame `start`.
    pub fn new(rate: u32, start: u64) -> Self {
        let rate = f64::from(rate);
        let power = |dbfs: f64| 10f64.powf(dbfs / 10.0);
        Self {
            window: ((WINDOW_SECONDS * rate).round() as u64).max(1),
            history: (HISTORY_SECONDS * rate) as u64,
            sound: power(SOUND_DBFS),
            silence: power(SILENCE_DBFS),
            tail: power(-TAIL_DB),
            entry: power(-ENTRY_DB),
            recent: VecDeque::new(),
            recent_len: ((PEAK_SECONDS / WINDOW_SECONDS).round() as usize).max(1),
            start,
            position: start,
            sum: 0.0,
            in_window: 0,
            sounding: false,
            changes: VecDeque::new(),
        }
    }

    /// Measures the next guide frames. Windows are counted from the start frame, so the
    /// verdicts do not depend on how the guide is cut into blocks.
    pub fn push(&mut self, guide: &[f32]) {
        for &x in guide {
            self.sum += f64::from(x) * f64::from(x);
            self.in_window += 1;
            self.position += 1;
            if self.in_window == self.window {
                let power = self.sum / self.window as f64;
                let start = self.position - self.window;
                if self.recent.len() == self.recent_len {
                    self.recent.pop_front();
                }
                self.recent.push_back(power);
                let peak = self.recent.iter().copied().fold(0.0, f64::max);
                if !self.sounding && power >= self.sound && power >= peak * self.entry {
                    self.change(start, true);
                } else if self.sounding && (power < self.silence || power < peak * self.tail) {
                    self.change(start, false);
                }
                self.sum = 0.0;
                self.in_window = 0;
            }
        }
    }

    /// The last window boundary at or before `frame`: what is known of the guide up to
    /// `frame` without depending on how far past it the guide has been measured.
    pub fn settled(&self, frame: u64) -> u64 {
        frame - (frame - self.start) % self.window
    }

    /// Where the silence in force just before `settled(end)` began, or `None` when the guide
    /// sounds there.
    pub fn silence_before(&self, end: u64) -> Option<u64> {
        let end = self.settled(end);
        match self.changes.iter().take_while(|&&(at, _)| at < end).last() {
            Some(&(_, true)) => None,
            Some(&(at, false)) => Some(at),
            None => Some(self.start),
        }
    }

    /// Whether the guide is silent over all of `start..settled(end)`.
    pub fn silent_over(&self, start: u64, end: u64) -> bool {
        !self.sounding_at(start) && self.first_onset(start, end).is_none()
    }

    /// Where the guide starts sounding within `start..settled(end)`, if it does.
    pub fn first_onset(&self, start: u64, end: u64) -> Option<u64> {
        let end = self.settled(end);
        self.changes
            .iter()
            .find(|&&(frame, sounding)| sounding && frame > start && frame < end)
            .map(|&(frame, _)| frame)
    }

    /// Whether the guide sounds at `frame` (a judged frame).
    pub fn sounding_at(&self, frame: u64) -> bool {
        self.changes
            .iter()
            .take_while(|&&(at, _)| at <= frame)
            .last()
            .is_some_and(|&(_, sounding)| sounding)
    }

    fn change(&mut self, frame: u64, sounding: bool) {
        self.sounding = sounding;
        self.changes.push_back((frame, sounding));
        // Keep the last change before the horizon: it says what the state was there.
        let horizon = frame.saturating_sub(self.history);
        while self.changes.len() > 1 && self.changes[1].0 <= horizon {
            self.changes.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 1000;

    fn tone(frames: usize, amplitude: f32) -> Vec<f32> {
        (0..frames)
            .map(|n| if n % 2 == 0 { amplitude } else { -amplitude })
            .collect()
    }

    #[test]
    fn spans_follow_the_level_with_hysteresis_on_any_block_size() {
        // 20-frame windows at 1 kHz. Silence; a note at −20 dBFS; its tail at −40 dBFS (20 dB
        // under the note: still sounding), then at −50 dBFS (30 dB under: silent); a bump at
        // −42 dBFS (above the absolute threshold, but 22 dB under the note: no entry); noise at
        // −50 dBFS; then a soft note at −35 dBFS, which enters.
        let mut guide = vec![0.0; 200];
        guide.extend(tone(300, 0.1));
        guide.extend(tone(100, 0.01));
        guide.extend(tone(100, 0.003_162));
        guide.extend(tone(100, 0.007_943));
        guide.extend(tone(200, 0.003_162));
        guide.extend(tone(100, 0.017_78));
        for block in [1, 7, 20, 64, 1000] {
            let mut rests = RestDetector::new(RATE, 0);
            assert_eq!(rests.silence_before(0), Some(0));
            for chunk in guide.chunks(block) {
                rests.push(chunk);
            }
            assert!(rests.silent_over(0, 200));
            assert_eq!(rests.silence_before(200), Some(0));
            assert_eq!(rests.silence_before(219), Some(0), "not settled past 200");
            assert_eq!(rests.silence_before(220), None);
            assert_eq!(rests.first_onset(0, 1100), Some(200));
            assert!(rests.sounding_at(200) && rests.sounding_at(599));
            assert!(!rests.silent_over(150, 250));
            assert_eq!(rests.silence_before(1000), Some(600), "block {block}");
            assert_eq!(rests.silence_before(620), Some(600));
            assert_eq!(rests.silence_before(619), None);
            assert!(rests.silent_over(600, 1000));
            assert_eq!(rests.first_onset(600, 1100), Some(1000));
        }
    }

    #[test]
    fn windows_count_from_the_start_frame() {
        let mut rests = RestDetector::new(RATE, 10_000);
        rests.push(&[0.0; 30]);
        rests.push(&tone(30, 0.5));
        // Windows [10000, 10020), [10020, 10040), [10040, 10060): the second is half loud.
        assert_eq!(rests.first_onset(10_000, 10_060), Some(10_020));
        assert_eq!(rests.first_onset(10_000, 10_039), None, "not settled");
        assert_eq!(rests.settled(10_039), 10_020);
    }
}
