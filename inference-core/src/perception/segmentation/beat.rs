//! Predicting the guide's next onsets from its recent ones: the live companion cannot wait to
//! hear a note before it starts its own (it would always come in late), so it places its
//! attacks where the guide's beat says the next notes fall.
//!
//! [`OnsetPredictor`] fits a pulse to the last onsets: the longest period of which (nearly) every
//! recent inter-onset interval is a whole multiple, refined by least squares, and its phase from
//! the same onsets. Held notes and rests in the pulse do not disturb it (an interval of two beats
//! is two beats); through a passage of freer rhythm the pulse found before goes on as long as
//! the guide's onsets fall on it; a guide with no steady pulse has none, and nothing is
//! predicted. Worker thread.

use std::collections::VecDeque;

/// How many recent onsets the pulse is fitted to.
const ONSETS: usize = 6;
/// Fewest onsets a pulse is fitted to.
const MIN_ONSETS: usize = 4;
/// Onsets older than this before the newest are forgotten, in seconds.
const MEMORY_S: f64 = 6.0;
/// Intervals shorter than this are ornaments or double detections, and not fitted, in seconds.
const MIN_INTERVAL_S: f64 = 0.12;
/// Shortest and longest pulse, in seconds (300 and 40 beats per minute).
const MIN_PERIOD_S: f64 = 0.2;
const MAX_PERIOD_S: f64 = 1.5;
/// Largest number of pulses one interval may span.
const MAX_MULTIPLE: f64 = 4.0;
/// How far an interval may be from a whole number of pulses and still fit, in seconds.
const FIT_S: f64 = 0.045;
/// Share of the recent intervals a pulse must fit.
const MIN_FIT: f64 = 0.6;
/// Predictions go no further than this after the newest onset, in pulses: past that, a held
/// note, a fermata or a rest is more likely than the pulse going on unheard.
const HORIZON_PULSES: f64 = 2.0;

/// A pulse fitted to the guide's recent onsets, in frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pulse {
    /// The period.
    pub period: f64,
    /// A frame on the pulse (fitted to the recent onsets, near the newest).
    pub anchor: f64,
}

/// Fits a pulse to the guide's onsets as they are detected and predicts the next ones.
#[derive(Debug)]
pub struct OnsetPredictor {
    rate: f64,
    recent: VecDeque<u64>,
    pulse: Option<Pulse>,
    intervals: Vec<f64>,
}

impl OnsetPredictor {
    /// A predictor for a stream at `rate` Hz, with no onset yet.
    pub fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate),
            recent: VecDeque::with_capacity(ONSETS + 1),
            pulse: None,
            intervals: Vec::with_capacity(ONSETS),
        }
    }

    /// Takes the next detected onset (frames, in increasing order) and refits the pulse.
    pub fn push(&mut self, onset: u64) {
        if self.recent.back().is_some_and(|&last| onset <= last) {
            return;
        }
        self.recent.push_back(onset);
        let memory = (MEMORY_S * self.rate) as u64;
        while self.recent.len() > ONSETS
            || self
                .recent
                .front()
                .is_some_and(|&first| first + memory < onset)
        {
            self.recent.pop_front();
        }
        self.pulse = self.fit().or_else(|| self.continued(onset));
    }

    /// The pulse so far, when the recent intervals fit none (a passage of freer rhythm) but
    /// `onset` falls on it: its phase moves halfway to the onset.
    fn continued(&self, onset: u64) -> Option<Pulse> {
        let pulse = self.pulse?;
        let k = ((onset as f64 - pulse.anchor) / pulse.period).round();
        let error = onset as f64 - (pulse.anchor + k * pulse.period);
        (error.abs() <= FIT_S * self.rate).then(|| Pulse {
            anchor: pulse.anchor + k * pulse.period + error / 2.0,
            ..pulse
        })
    }

    /// Forgets the onsets (the guide rests, or another preset starts).
    pub fn clear(&mut self) {
        self.recent.clear();
        self.pulse = None;
    }

    /// The pulse fitted to the recent onsets, if they have one.
    pub fn pulse(&self) -> Option<Pulse> {
        self.pulse
    }

    /// Appends to `out` the predicted onsets in frames `from..to`, in order: the pulse's beats
    /// after the newest onset, up to a few pulses after it.
    pub fn predict(&self, from: u64, to: u64, out: &mut Vec<u64>) {
        let (Some(pulse), Some(&newest)) = (self.pulse, self.recent.back()) else {
            return;
        };
        let horizon = newest as f64 + HORIZON_PULSES * pulse.period;
        let after = (newest as f64 + pulse.period / 2.0).max(from as f64);
        let mut k = ((after - pulse.anchor) / pulse.period).ceil();
        loop {
            let beat = pulse.anchor + k * pulse.period;
            if beat >= to as f64 || beat > horizon {
                return;
            }
            if beat >= from as f64 {
                out.push(beat.round() as u64);
            }
            k += 1.0;
        }
    }

    /// The longest period that fits [`MIN_FIT`] of the recent intervals, refined, and its phase.
    fn fit(&mut self) -> Option<Pulse> {
        if self.recent.len() < MIN_ONSETS {
            return None;
        }
        let min_interval = MIN_INTERVAL_S * self.rate;
        self.intervals.clear();
        self.intervals.extend(
            self.recent
                .iter()
                .zip(self.recent.iter().skip(1))
                .map(|(&a, &b)| (b - a) as f64)
                .filter(|&d| d >= min_interval),
        );
        let intervals = &self.intervals;
        if intervals.len() + 1 < MIN_ONSETS {
            return None;
        }
        let (min_period, max_period) = (MIN_PERIOD_S * self.rate, MAX_PERIOD_S * self.rate);
        let tolerance = FIT_S * self.rate;
        // Candidates: each interval and its whole fractions.
        let mut best: Option<f64> = None;
        for &d in intervals {
            for m in 1..=MAX_MULTIPLE as u32 {
                let c = d / f64::from(m);
                if !(min_period..=max_period).contains(&c) || best.is_some_and(|b| b >= c) {
                    continue;
                }
                let fitted = intervals
                    .iter()
                    .filter(|&&d| multiple(d, c).is_some_and(|m| (d - m * c).abs() <= tolerance))
                    .count();
                if fitted as f64 >= MIN_FIT * intervals.len() as f64 {
                    best = Some(c);
                }
            }
        }
        let c = best?;
        // Least squares over the fitted intervals: period = Σd / Σm.
        let (mut sum_d, mut sum_m) = (0.0, 0.0);
        for &d in intervals {
            if let Some(m) = multiple(d, c).filter(|&m| (d - m * c).abs() <= tolerance) {
                sum_d += d;
                sum_m += m;
            }
        }
        let period = sum_d / sum_m;
        // Phase: the mean offset from the pulse through the newest onset of the recent onsets
        // that fall on it (an off-beat note says nothing of where the beat is).
        let newest = *self.recent.back()? as f64;
        let (mut sum, mut count) = (0.0, 0.0);
        for &o in &self.recent {
            let k = ((newest - o as f64) / period).round();
            let offset = o as f64 + k * period - newest;
            if offset.abs() <= tolerance {
                sum += offset;
                count += 1.0;
            }
        }
        Some(Pulse {
            period,
            anchor: newest + sum / count,
        })
    }
}

/// The whole number of periods `c` nearest to interval `d`, if it is at most [`MAX_MULTIPLE`].
fn multiple(d: f64, c: f64) -> Option<f64> {
    let m = (d / c).round().max(1.0);
    (m <= MAX_MULTIPLE).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn frames(s: f64) -> u64 {
        (s * f64::from(RATE)).round() as u64
    }

    fn predictor(onsets_s: &[f64]) -> OnsetPredictor {
        let mut p = OnsetPredictor::new(RATE);
        for &o in onsets_s {
            p.push(frames(o));
        }
        p
    }

    fn predicted_s(p: &OnsetPredictor, from_s: f64, to_s: f64) -> Vec<f64> {
        let mut out = Vec::new();
        p.predict(frames(from_s), frames(to_s), &mut out);
        out.iter().map(|&f| f as f64 / f64::from(RATE)).collect()
    }

    #[test]
    fn a_steady_beat_with_held_notes_and_jitter_is_followed() {
        // Quarters at 100 bpm (0.6 s) with a half note, and ±15 ms of timing jitter.
        let p = predictor(&[0.0, 0.61, 1.19, 1.8, 3.0, 3.59, 4.21]);
        let pulse = p.pulse().expect("a pulse");
        let period = pulse.period / f64::from(RATE);
        assert!((period - 0.6).abs() < 0.01, "period {period}");
        let next = predicted_s(&p, 4.3, 6.0);
        assert!(!next.is_empty());
        for (i, &t) in next.iter().enumerate() {
            let expected = 4.2 + 0.6 * (i + 1) as f64;
            assert!(
                (t - expected).abs() < 0.03,
                "beat {i} at {t}, expected {expected}"
            );
        }
        // Only up to a few pulses after the newest onset.
        assert!(*next.last().unwrap() <= 4.21 + HORIZON_PULSES * 0.6 + 0.01);
    }

    #[test]
    fn eighths_among_quarters_keep_the_beat_when_most_intervals_are_beats() {
        let p = predictor(&[0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 3.5]);
        let period = p.pulse().unwrap().period / f64::from(RATE);
        assert!((period - 0.5).abs() < 0.01, "period {period}");
        // Mostly eighths: the pulse is the eighth.
        let p = predictor(&[0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 1.75, 2.0]);
        let period = p.pulse().unwrap().period / f64::from(RATE);
        assert!((period - 0.25).abs() < 0.01, "period {period}");
    }

    #[test]
    fn no_pulse_without_enough_or_regular_onsets() {
        assert!(predictor(&[0.0, 0.5, 1.0]).pulse().is_none());
        let irregular = predictor(&[0.0, 0.58, 0.74, 1.39, 1.54, 2.43, 3.49, 4.59]);
        assert!(irregular.pulse().is_none(), "{:?}", irregular.pulse());
        assert!(predicted_s(&irregular, 4.6, 6.0).is_empty());
        let mut p = predictor(&[0.0, 0.5, 1.0, 1.5, 2.0]);
        assert!(p.pulse().is_some());
        p.clear();
        assert!(predicted_s(&p, 2.0, 4.0).is_empty());
    }

    #[test]
    fn old_onsets_are_forgotten() {
        // A slow beat, a long gap, then a fast one: only the fast beat counts.
        let mut onsets = vec![0.0, 1.0, 2.0, 3.0];
        onsets.extend([10.0, 10.3, 10.6, 10.9, 11.2]);
        let p = predictor(&onsets);
        let period = p.pulse().unwrap().period / f64::from(RATE);
        assert!((period - 0.3).abs() < 0.01, "period {period}");
    }
}
