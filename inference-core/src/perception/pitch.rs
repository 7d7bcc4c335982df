//! Pitch: the notes sounding in a short stretch of audio, and how consonant two such sets are.
//!
//! The guide's current notes and each corpus segment's note are estimated the same way, so
//! that the navigator can prefer, among the segments the decision model's label allows, one
//! that sounds consonant with what the guide plays (see [`crate::action::Navigator`]).
//!
//! The estimate is a harmonic sum over spectral peaks: the stretch is Hann-windowed and
//! zero-padded, the peaks of its magnitude spectrum (within `RANGE_DB` of the strongest) are
//! located to a fraction of a bin by a parabola through their log magnitudes, and each peak of
//! frequency `f` votes for the pitches whose `h`-th harmonic it could be (`h` up to
//! `HARMONICS`, with weight `HARMONIC_DECAY``^(h-1)`). The pitch with the most votes is the
//! predominant note; the next ones count too when they are strong and are not its octaves or
//! other harmonics (a chord, or two voices). Monophonic wind, brass and string notes come out
//! right to the semitone from 40 ms of audio above about 100 Hz, and from 100 ms for basses.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Intervals (semitones modulo 12) that count as consonant: unison and octave, thirds, fifth
/// and sixths. The fourth (5) counts as a dissonance, as against a lower voice in two-part
/// writing (the same rule as `counterpart eval-heard`'s harmony).
pub const CONSONANT_INTERVALS: [u8; 6] = [0, 3, 4, 7, 8, 9];
/// Most notes a [`Pitches`] holds.
pub const MAX_PITCHES: usize = 3;
/// Lowest and highest MIDI pitch estimated (C1 to C7).
const LOWEST: usize = 24;
const HIGHEST: usize = 96;
/// Harmonics a spectral peak may be.
const HARMONICS: usize = 8;
/// Weight of harmonic `h`: `HARMONIC_DECAY^(h-1)`.
const HARMONIC_DECAY: f32 = 0.8;
/// Peaks weaker than the strongest by more than this (dB) are ignored.
const RANGE_DB: f32 = 40.0;
/// A peak votes for the pitches within this many semitones of where it would be a harmonic.
const KERNEL_SEMITONES: f32 = 0.5;
/// A second or third note counts when its votes reach this share of the first's.
const SECOND_NOTE: f32 = 0.5;
/// Intervals (semitones) between a note and pitches that its own harmonics vote for: these
/// are never taken as further notes.
const HARMONIC_INTERVALS: [usize; 6] = [12, 19, 24, 28, 31, 36];
/// Stretches quieter than this (RMS, dBFS) hold no note.
const FLOOR_DBFS: f32 = -60.0;
/// Shortest FFT, in samples (zero padding makes the peak positions precise).
const MIN_FFT: usize = 4096;

/// Up to [`MAX_PITCHES`] notes (MIDI pitches) with weights that sum to one, the strongest
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pitches {
    notes: [(u8, f32); MAX_PITCHES],
    len: usize,
}

impl Pitches {
    /// One note, alone.
    pub fn single(midi: u8) -> Self {
        let mut notes = [(0, 0.0); MAX_PITCHES];
        notes[0] = (midi, 1.0);
        Self { notes, len: 1 }
    }

    /// The notes and their weights, the strongest first.
    pub fn notes(&self) -> &[(u8, f32)] {
        &self.notes[..self.len]
    }

    /// The strongest note.
    pub fn first(&self) -> Option<u8> {
        self.notes().first().map(|&(midi, _)| midi)
    }

    /// How consonant the two sets sound together, in `[0, 1]`: the weighted share of note
    /// pairs whose interval is in [`CONSONANT_INTERVALS`].
    pub fn consonance(&self, other: &Pitches) -> f32 {
        let mut sum = 0.0;
        for &(a, wa) in self.notes() {
            for &(b, wb) in other.notes() {
                if CONSONANT_INTERVALS.contains(&(a.abs_diff(b) % 12)) {
                    sum += wa * wb;
                }
            }
        }
        sum
    }
}

/// Estimates [`Pitches`] in stretches of audio at one sample rate. Owned by one thread (the
/// worker, or whoever builds a corpus); it allocates only when a stretch is longer than any
/// before. The FFT's length follows the stretch's alone, so an estimate does not depend on
/// what was analysed before.
pub struct PitchAnalyser {
    rate: f32,
    planner: RealFftPlanner<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    frame: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    db: Vec<f32>,
    /// (pitch in semitones, amplitude) of each peak.
    peaks: Vec<(f32, f32)>,
    votes: [f32; HIGHEST + 1],
}

impl std::fmt::Debug for PitchAnalyser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PitchAnalyser")
            .field("rate", &self.rate)
            .field("fft", &self.frame.len())
            .finish_non_exhaustive()
    }
}

impl PitchAnalyser {
    /// An analyser for audio at `sample_rate` Hz (positive).
    pub fn new(sample_rate: u32) -> Self {
        let mut planner = RealFftPlanner::new();
        let fft = planner.plan_fft_forward(MIN_FFT);
        let mut analyser = Self {
            rate: sample_rate.max(1) as f32,
            planner,
            frame: Vec::new(),
            spectrum: Vec::new(),
            scratch: Vec::new(),
            db: Vec::new(),
            peaks: Vec::new(),
            votes: [0.0; HIGHEST + 1],
            fft,
        };
        analyser.fit(MIN_FFT);
        analyser
    }

    /// Sets the FFT's length to `size` (plans are cached by the planner; the buffers keep
    /// their capacity).
    fn fit(&mut self, size: usize) {
        if self.frame.len() != size {
            self.fft = self.planner.plan_fft_forward(size);
            self.frame.resize(size, 0.0);
            self.spectrum.resize(size / 2 + 1, Complex::default());
            self.scratch
                .resize(self.fft.get_scratch_len(), Complex::default());
            self.db.resize(size / 2 + 1, 0.0);
        }
    }

    /// The notes sounding in `samples` (mono), or `None` when the stretch is silent, holds no
    /// finite samples, or is shorter than 10 ms.
    pub fn analyse(&mut self, samples: &[f32]) -> Option<Pitches> {
        let len = samples.len();
        if (len as f32) < self.rate * 0.01 {
            return None;
        }
        let power: f64 = samples
            .iter()
            .filter(|x| x.is_finite())
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            / len as f64;
        if (10.0 * (power + 1e-20).log10()) as f32 <= FLOOR_DBFS {
            return None;
        }
        let size = (2 * len).next_power_of_two().max(MIN_FFT);
        self.fit(size);
        self.frame.fill(0.0);
        for (i, (out, &x)) in self.frame.iter_mut().zip(samples).enumerate() {
            let phase = std::f32::consts::TAU * (i as f32 + 0.5) / len as f32;
            *out = if x.is_finite() { x } else { 0.0 } * (0.5 - 0.5 * phase.cos());
        }
        self.fft
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            .ok()?;
        for (db, c) in self.db.iter_mut().zip(&self.spectrum) {
            *db = 10.0 * (c.norm_sqr() + 1e-20).log10();
        }
        self.find_peaks(size);
        self.vote();
        self.pick()
    }

    /// Fills `peaks` with the spectrum's local maxima within [`RANGE_DB`] of the strongest,
    /// between the lowest pitch and 5 kHz, placed by parabolic interpolation.
    fn find_peaks(&mut self, size: usize) {
        self.peaks.clear();
        let bin_hz = self.rate / size as f32;
        let lo = ((midi_hz(LOWEST as f32 - 1.0) / bin_hz) as usize).max(1);
        let hi = ((5000.0 / bin_hz) as usize).min(self.db.len().saturating_sub(2));
        if lo >= hi {
            return;
        }
        let strongest = self.db[lo..=hi].iter().copied().fold(f32::MIN, f32::max);
        let floor = strongest - RANGE_DB;
        for k in lo..=hi {
            let (a, b, c) = (self.db[k - 1], self.db[k], self.db[k + 1]);
            if b < floor || b <= a || b < c {
                continue;
            }
            let curvature = a - 2.0 * b + c;
            let delta = if curvature < 0.0 {
                (0.5 * (a - c) / curvature).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let hz = (k as f32 + delta) * bin_hz;
            let level = b - 0.25 * (a - c) * delta;
            self.peaks
                .push((hz_midi(hz), 10f32.powf((level - strongest) / 20.0)));
        }
    }

    /// Each peak votes for the pitches it could be a harmonic of.
    fn vote(&mut self) {
        self.votes.fill(0.0);
        for &(pitch, amplitude) in &self.peaks {
            let mut weight = amplitude;
            for h in 1..=HARMONICS {
                let fundamental = pitch - 12.0 * (h as f32).log2();
                let lo = (fundamental - KERNEL_SEMITONES).ceil().max(LOWEST as f32) as usize;
                let hi = (fundamental + KERNEL_SEMITONES).floor().min(HIGHEST as f32);
                if hi >= lo as f32 {
                    for m in lo..=hi as usize {
                        let distance = (m as f32 - fundamental).abs();
                        self.votes[m] += weight * (1.0 - distance / KERNEL_SEMITONES).max(0.0);
                    }
                }
                weight *= HARMONIC_DECAY;
            }
        }
    }

    /// The strongest pitch, then up to two more that reach [`SECOND_NOTE`] of its votes and
    /// are not its harmonics or subharmonics.
    fn pick(&self) -> Option<Pitches> {
        let mut pitches = Pitches::default();
        let mut taken = [0usize; MAX_PITCHES];
        let mut first_votes = 0.0;
        while pitches.len < MAX_PITCHES {
            let candidate = (LOWEST..=HIGHEST)
                .filter(|&m| {
                    taken[..pitches.len].iter().all(|&t| {
                        let d = m.abs_diff(t);
                        d != 0 && !HARMONIC_INTERVALS.contains(&d)
                    })
                })
                .max_by(|&a, &b| self.votes[a].total_cmp(&self.votes[b]))?;
            let votes = self.votes[candidate];
            if votes <= 0.0 || (pitches.len > 0 && votes < SECOND_NOTE * first_votes) {
                break;
            }
            if pitches.len == 0 {
                first_votes = votes;
            }
            taken[pitches.len] = candidate;
            pitches.notes[pitches.len] = (candidate as u8, votes);
            pitches.len += 1;
        }
        let total: f32 = pitches.notes().iter().map(|&(_, w)| w).sum();
        if pitches.len == 0 || total <= 0.0 {
            return None;
        }
        for note in &mut pitches.notes[..pitches.len] {
            note.1 /= total;
        }
        Some(pitches)
    }
}

fn midi_hz(midi: f32) -> f32 {
    440.0 * 2f32.powf((midi - 69.0) / 12.0)
}

fn hz_midi(hz: f32) -> f32 {
    69.0 + 12.0 * (hz.max(1e-3) / 440.0).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tone of `seconds` at `rate` with the given harmonic amplitudes (first: the
    /// fundamental).
    fn tone(midi: f32, harmonics: &[f32], seconds: f32, rate: u32) -> Vec<f32> {
        let f0 = midi_hz(midi);
        (0..(seconds * rate as f32) as usize)
            .map(|i| {
                let t = i as f32 / rate as f32;
                harmonics
                    .iter()
                    .enumerate()
                    .map(|(h, &a)| {
                        a * (std::f32::consts::TAU * f0 * (h + 1) as f32 * t + h as f32).sin()
                    })
                    .sum::<f32>()
                    * 0.2
            })
            .collect()
    }

    const BRIGHT: [f32; 8] = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1];
    /// Odd harmonics only, as a clarinet's low register.
    const HOLLOW: [f32; 7] = [1.0, 0.0, 0.7, 0.0, 0.4, 0.0, 0.2];
    /// A weak fundamental, as a bassoon's or a low brass note.
    const WEAK_FUNDAMENTAL: [f32; 6] = [0.3, 1.0, 0.8, 0.6, 0.4, 0.3];

    #[test]
    fn single_notes_are_found_to_the_semitone() {
        let mut analyser = PitchAnalyser::new(48_000);
        for midi in [48u8, 55, 60, 64, 67, 72, 76, 79, 84] {
            for harmonics in [&BRIGHT[..], &HOLLOW, &WEAK_FUNDAMENTAL] {
                let audio = tone(f32::from(midi) + 0.2, harmonics, 0.06, 48_000);
                let found = analyser.analyse(&audio).expect("a note");
                assert_eq!(found.first(), Some(midi), "{midi} {harmonics:?}: {found:?}");
                assert!(found.notes()[0].1 > 0.6, "{midi}: {found:?}");
            }
        }
    }

    #[test]
    fn bass_notes_are_found_from_a_tenth_of_a_second_at_any_rate() {
        for rate in [22_050, 44_100, 48_000, 96_000] {
            let mut analyser = PitchAnalyser::new(rate);
            for midi in [36u8, 40, 43, 47, 50] {
                let audio = tone(f32::from(midi), &BRIGHT, 0.1, rate);
                let found = analyser.analyse(&audio).expect("a note");
                assert_eq!(
                    found.first().map(|m| m % 12),
                    Some(midi % 12),
                    "{midi} at {rate}"
                );
            }
        }
    }

    #[test]
    fn an_estimate_does_not_depend_on_what_came_before() {
        let rate = 48_000;
        let short = tone(55.3, &BRIGHT, 0.05, rate);
        let long = tone(60.0, &HOLLOW, 0.5, rate);
        let fresh = PitchAnalyser::new(rate).analyse(&short);
        let mut used = PitchAnalyser::new(rate);
        used.analyse(&long);
        assert_eq!(used.analyse(&short), fresh);
    }

    #[test]
    fn two_voices_are_both_found() {
        let rate = 48_000;
        let low = tone(48.0, &BRIGHT, 0.1, rate);
        let high = tone(64.0, &BRIGHT, 0.1, rate);
        let both: Vec<f32> = low.iter().zip(&high).map(|(a, b)| a + b).collect();
        let found = PitchAnalyser::new(rate).analyse(&both).expect("notes");
        let mut notes: Vec<u8> = found.notes().iter().map(|&(m, _)| m).collect();
        notes.sort_unstable();
        assert!(notes.contains(&48) && notes.contains(&64), "{found:?}");
    }

    #[test]
    fn silence_and_garbage_hold_no_note() {
        let mut analyser = PitchAnalyser::new(48_000);
        assert_eq!(analyser.analyse(&vec![0.0; 4800]), None);
        assert_eq!(analyser.analyse(&vec![f32::NAN; 4800]), None);
        assert_eq!(analyser.analyse(&[0.5; 100]), None, "shorter than 10 ms");
        let quiet = tone(60.0, &BRIGHT, 0.05, 48_000)
            .iter()
            .map(|x| x * 1e-4)
            .collect::<Vec<_>>();
        assert_eq!(analyser.analyse(&quiet), None);
    }

    #[test]
    fn consonance_follows_the_interval() {
        let c4 = Pitches::single(60);
        for (other, consonant) in [
            (60, true),
            (48, true),
            (53, true),
            (57, true),
            (64, true),
            (55, false),
            (62, false),
            (61, false),
            (66, false),
            (70, false),
        ] {
            let expected = if consonant { 1.0 } else { 0.0 };
            assert_eq!(c4.consonance(&Pitches::single(other)), expected, "{other}");
        }
        let mut chord = Pitches::default();
        chord.notes[..2].copy_from_slice(&[(60, 0.5), (62, 0.5)]);
        chord.len = 2;
        assert_eq!(chord.consonance(&Pitches::single(55)), 0.5);
    }
}
