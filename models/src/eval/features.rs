//! Hand-made segment descriptors for baselines: mean MFCC (timbre) and mean chroma (pitch class)
//! over a segment of 16 kHz audio.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// 16 kHz input.
const RATE: f64 = 16_000.0;
/// STFT size: 128 ms, fine enough for chroma down to about 100 Hz.
pub const N_FFT: usize = 2048;
/// STFT hop.
pub const HOP: usize = 512;
/// Mel bands behind the MFCCs.
const N_MELS: usize = 40;
/// MFCCs kept (c0 included).
pub const N_MFCC: usize = 13;
/// Size of a descriptor: MFCCs then chroma.
pub const DIM: usize = N_MFCC + 12;

/// Computes [mean MFCC (13), mean chroma (12)] descriptors. Offline; allocates.
pub struct MfccChroma {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    mel: Vec<Vec<(usize, f32)>>,
    dct: Vec<f32>,
    /// Pitch class of each FFT bin between 55 Hz and 4.2 kHz, `None` elsewhere.
    bin_class: Vec<Option<usize>>,
}

impl std::fmt::Debug for MfccChroma {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfccChroma").finish_non_exhaustive()
    }
}

impl Default for MfccChroma {
    fn default() -> Self {
        Self::new()
    }
}

impl MfccChroma {
    /// Plans the FFT and the filter banks.
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        let window = (0..N_FFT)
            .map(|i| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        let bins = N_FFT / 2 + 1;
        let freq = |b: usize| b as f64 * RATE / N_FFT as f64;
        let to_mel = |f: f64| 2595.0 * (1.0 + f / 700.0).log10();
        let from_mel = |m: f64| 700.0 * (10f64.powf(m / 2595.0) - 1.0);
        let (lo, hi) = (to_mel(40.0), to_mel(7600.0));
        let edges: Vec<f64> = (0..N_MELS + 2)
            .map(|i| from_mel(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64))
            .collect();
        let mel = (0..N_MELS)
            .map(|m| {
                let (l, c, h) = (edges[m], edges[m + 1], edges[m + 2]);
                (0..bins)
                    .filter_map(|b| {
                        let f = freq(b);
                        let w = ((f - l) / (c - l)).min((h - f) / (h - c));
                        (w > 0.0).then_some((b, w as f32))
                    })
                    .collect()
            })
            .collect();
        let dct = (0..N_MFCC)
            .flat_map(|k| {
                (0..N_MELS).map(move |n| {
                    (std::f64::consts::PI / N_MELS as f64 * (n as f64 + 0.5) * k as f64).cos()
                        as f32
                })
            })
            .collect();
        let bin_class = (0..bins)
            .map(|b| {
                let f = freq(b);
                (55.0..=4200.0).contains(&f).then(|| {
                    let midi = 69.0 + 12.0 * (f / 440.0).log2();
                    (midi.round() as i64).rem_euclid(12) as usize
                })
            })
            .collect();
        Self {
            fft,
            window,
            mel,
            dct,
            bin_class,
        }
    }

    /// The descriptor of `audio` (16 kHz). Audio shorter than one FFT frame is zero-padded.
    pub fn describe(&self, audio: &[f32]) -> Vec<f32> {
        let mut padded;
        let audio = if audio.len() < N_FFT {
            padded = audio.to_vec();
            padded.resize(N_FFT, 0.0);
            &padded[..]
        } else {
            audio
        };
        let frames = (audio.len() - N_FFT) / HOP + 1;
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut power = vec![0f32; spectrum.len()];
        let mut out = vec![0f32; DIM];
        let mut log_mel = [0f32; N_MELS];
        for f in 0..frames {
            let frame = &audio[f * HOP..f * HOP + N_FFT];
            for ((i, &x), &w) in input.iter_mut().zip(frame).zip(&self.window) {
                *i = x * w;
            }
            // Sizes come from the planner, so processing cannot fail.
            self.fft
                .process(&mut input, &mut spectrum)
                .expect("buffers made by the planner");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            for (lm, bank) in log_mel.iter_mut().zip(&self.mel) {
                let e: f32 = bank.iter().map(|&(b, w)| power[b] * w).sum();
                *lm = (e + 1e-10).ln();
            }
            for (o, row) in out[..N_MFCC].iter_mut().zip(self.dct.chunks_exact(N_MELS)) {
                *o += row.iter().zip(&log_mel).map(|(a, b)| a * b).sum::<f32>();
            }
            let mut chroma = [0f32; 12];
            for (&p, class) in power.iter().zip(&self.bin_class) {
                if let Some(c) = class {
                    chroma[*c] += p;
                }
            }
            let total: f32 = chroma.iter().sum();
            if total > 0.0 {
                for (o, c) in out[N_MFCC..].iter_mut().zip(chroma) {
                    *o += c / total;
                }
            }
        }
        let inv = 1.0 / frames as f32;
        out.iter_mut().for_each(|o| *o *= inv);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chroma_finds_the_pitch_class_of_a_tone() {
        let d = MfccChroma::new();
        for (freq, class) in [(440.0f32, 9usize), (261.63, 0), (196.0, 7)] {
            let x: Vec<f32> = (0..8000)
                .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / 16_000.0).sin())
                .collect();
            let v = d.describe(&x);
            let chroma = &v[N_MFCC..];
            let top = (0..12)
                .max_by(|&a, &b| chroma[a].total_cmp(&chroma[b]))
                .unwrap();
            assert_eq!(top, class, "{freq} Hz: {chroma:?}");
            assert!(chroma[class] > 0.5, "{freq} Hz: {chroma:?}");
        }
    }
}
