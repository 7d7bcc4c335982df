//! Band-limited conversion from the working sample rate to the encoder's 16 kHz.
//!
//! [`StreamResampler`] wraps rubato's windowed-sinc resampler at a fixed ratio for a stream that
//! arrives in blocks of any size. It feeds rubato fixed chunks of about a millisecond, trims the
//! filter's delay, and so produces output sample `i` at input time `i · rate / 16000` (to within
//! half an output sample). Short chunks and a short filter keep the time from an input sample to
//! its output low (2.3 ms at 48 kHz), which live mode's reaction depends on
//! ([`crate::engine::WorkerMargin`]). Because rubato always sees the same chunks, the output
//! does not depend on how the input was split into blocks: a file resampled in one call and the
//! same audio streamed block by block give identical samples, which is what keeps offline
//! fitting and live use equal.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Async, FixedAsync, Indexing, Resampler, SincInterpolationParameters, WindowFunction};

use super::error::{check_finite, PerceptionError, Result};

/// The sample rate of every encoder input.
pub const ENCODER_RATE: u32 = 16_000;

/// What the resampler is, for caches of encoder outputs: a change of filter or chunking changes
/// every segment vector, so it must change their keys.
pub const RESAMPLER_ID: &str = "rubato-async-sinc/128/blackman-harris2/cubic-128/1ms";

/// Length of the windowed-sinc filter, in input samples: its delay is half of it (1.3 ms at
/// 48 kHz). With the automatic cutoff it passes up to about 7 kHz and removes what would alias.
const SINC_LEN: usize = 128;

/// The largest reduced input side `rate / gcd(rate, 16000)` accepted.
const MAX_REDUCED: u32 = 4_096;

/// Input frames per rubato chunk at `rate` Hz: one millisecond, rounded up.
fn chunk_frames(rate: u32) -> usize {
    (rate as usize).div_ceil(1000)
}

/// Maps a position at `rate` Hz to the nearest position at the encoder rate.
pub fn to_encoder_rate(position: u64, rate: u32) -> u64 {
    (position * ENCODER_RATE as u64 + rate as u64 / 2) / rate as u64
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Checks that `rate` can be resampled to the encoder rate.
pub fn check_rate(rate: u32) -> Result<()> {
    let ok = (8_000..=384_000).contains(&rate) && rate / gcd(rate, ENCODER_RATE) <= MAX_REDUCED;
    if ok {
        Ok(())
    } else {
        Err(PerceptionError::UnsupportedSampleRate {
            rate,
            max_reduced: MAX_REDUCED,
        })
    }
}

/// Streaming resampler from a working rate to [`ENCODER_RATE`], mono. Worker thread.
pub struct StreamResampler {
    rate: u32,
    inner: Option<Async<f32>>,
    pending: Vec<f32>,
    chunk_out: Vec<f32>,
    to_trim: usize,
    consumed: u64,
    produced: u64,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("rate", &self.rate)
            .field("consumed", &self.consumed)
            .field("produced", &self.produced)
            .finish()
    }
}

impl StreamResampler {
    /// A resampler from `rate` Hz. At 16 kHz it passes samples through unchanged.
    pub fn new(rate: u32) -> Result<Self> {
        check_rate(rate)?;
        let (inner, chunk_out, to_trim) = if rate == ENCODER_RATE {
            (None, Vec::new(), 0)
        } else {
            let ratio = f64::from(ENCODER_RATE) / f64::from(rate);
            let sinc = Async::<f32>::new_sinc(
                ratio,
                1.0,
                &SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris2),
                chunk_frames(rate),
                1,
                FixedAsync::Input,
            )
            .map_err(|e| PerceptionError::Resampler(e.to_string()))?;
            let out = vec![0.0; sinc.output_frames_max()];
            (Some(sinc), out, Self::delay_frames(rate))
        };
        Ok(Self {
            rate,
            inner,
            pending: Vec::with_capacity(4 * chunk_frames(rate)),
            chunk_out,
            to_trim,
            consumed: 0,
            produced: 0,
        })
    }

    /// The filter's delay in output samples, rounded: half its length, less the one output
    /// sample by which rubato's first output leads (the sine test checks the alignment).
    fn delay_frames(rate: u32) -> usize {
        let half = SINC_LEN as f64 * f64::from(ENCODER_RATE) / f64::from(rate) / 2.0;
        (half - 1.0).round() as usize
    }

    /// The input rate.
    pub fn input_rate(&self) -> u32 {
        self.rate
    }

    /// Output samples produced so far (after the start-up delay was trimmed).
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// Resamples `input` and appends every output sample that is ready to `output`.
    pub fn push(&mut self, input: &[f32], output: &mut Vec<f32>) -> Result<()> {
        check_finite(input)?;
        self.consumed += input.len() as u64;
        let Some(sinc) = self.inner.as_mut() else {
            output.extend_from_slice(input);
            self.produced += input.len() as u64;
            return Ok(());
        };
        self.pending.extend_from_slice(input);
        let need = sinc.input_frames_next();
        let mut offset = 0;
        while self.pending.len() - offset >= need {
            let n = Self::run_chunk(
                sinc,
                &self.pending[offset..offset + need],
                None,
                &mut self.chunk_out,
            )?;
            offset += need;
            Self::emit(
                &self.chunk_out[..n],
                &mut self.to_trim,
                &mut self.produced,
                output,
            );
        }
        self.pending.drain(..offset);
        Ok(())
    }

    /// Ends the stream: pushes silence through the filter until every input sample has its
    /// output and appends the rest, so that the output holds `round(consumed · 16000 / rate)`
    /// samples in all.
    pub fn finish(mut self, output: &mut Vec<f32>) -> Result<()> {
        let expected = to_encoder_rate(self.consumed, self.rate);
        let Some(sinc) = self.inner.as_mut() else {
            return Ok(());
        };
        let need = sinc.input_frames_next();
        let mut block = std::mem::take(&mut self.pending);
        while self.produced < expected {
            let partial = block.len().min(need);
            block.resize(need, 0.0);
            let n = Self::run_chunk(sinc, &block, Some(partial), &mut self.chunk_out)?;
            block.clear();
            Self::emit(
                &self.chunk_out[..n],
                &mut self.to_trim,
                &mut self.produced,
                output,
            );
        }
        // Before the flush the output lagged the input, so only flushed samples lie past the end.
        let extra = (self.produced - expected) as usize;
        output.truncate(output.len() - extra);
        Ok(())
    }

    fn run_chunk(
        resampler: &mut Async<f32>,
        input: &[f32],
        partial: Option<usize>,
        out: &mut [f32],
    ) -> Result<usize> {
        let map = |e: &dyn std::fmt::Display| PerceptionError::Resampler(e.to_string());
        let frames_out = out.len();
        let inp = InterleavedSlice::new(input, 1, input.len()).map_err(|e| map(&e))?;
        let mut outp = InterleavedSlice::new_mut(out, 1, frames_out).map_err(|e| map(&e))?;
        let indexing = Indexing {
            partial_len: partial,
            ..Indexing::default()
        };
        let (_, n) = resampler
            .process_into_buffer(&inp, &mut outp, Some(&indexing))
            .map_err(|e| map(&e))?;
        Ok(n)
    }

    fn emit(chunk: &[f32], to_trim: &mut usize, produced: &mut u64, output: &mut Vec<f32>) {
        let skip = (*to_trim).min(chunk.len());
        *to_trim -= skip;
        output.extend_from_slice(&chunk[skip..]);
        *produced += (chunk.len() - skip) as u64;
    }
}

/// The longest time, in seconds, between an input sample at `rate` Hz arriving and the output
/// sample for its time being produced: a whole chunk waiting to fill, then the filter's delay.
/// None at 16 kHz.
pub fn latency_seconds(rate: u32) -> f64 {
    if rate == ENCODER_RATE {
        0.0
    } else {
        chunk_frames(rate) as f64 / f64::from(rate)
            + StreamResampler::delay_frames(rate) as f64 / f64::from(ENCODER_RATE)
    }
}

/// Resamples a whole clip at `rate` Hz to [`ENCODER_RATE`], exactly as the stream would.
pub fn resample_to_encoder_rate(audio: &[f32], rate: u32) -> Result<Vec<f32>> {
    let mut r = StreamResampler::new(rate)?;
    let mut out =
        Vec::with_capacity(to_encoder_rate(audio.len() as u64, rate) as usize + chunk_frames(rate));
    r.push(audio, &mut out)?;
    r.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Largest deviation of `y[2000..30000]` from a 440 Hz sine at 16 kHz delayed by `delay`.
    fn deviation(y: &[f32], delay: f32) -> f32 {
        let w = 2.0 * std::f32::consts::PI * 440.0 / ENCODER_RATE as f32;
        (2000..30_000)
            .map(|i| (y[i] - (w * (i as f32 - delay)).sin()).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn sine_keeps_length_and_timing_at_common_rates() {
        for rate in [22_050u32, 44_100, 48_000, 96_000] {
            let x = sine(440.0, rate, rate as usize * 2);
            let y = resample_to_encoder_rate(&x, rate).unwrap();
            assert_eq!(y.len(), 32_000, "rate {rate}");
            // The best-fitting delay is within half an output sample of zero, and there the
            // output is the same sine.
            let (delay, err) = (-100..=100)
                .map(|d| d as f32 * 0.01)
                .map(|d| (d, deviation(&y, d)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            assert!(delay.abs() <= 0.5, "rate {rate}: delay {delay}");
            assert!(err < 2e-3, "rate {rate}: max error {err}");
        }
    }

    #[test]
    fn content_above_8khz_is_removed() {
        let rate = 44_100;
        let x = sine(11_000.0, rate, rate as usize);
        let y = resample_to_encoder_rate(&x, rate).unwrap();
        let rms = (y[1000..15_000].iter().map(|v| v * v).sum::<f32>() / 14_000.0).sqrt();
        assert!(rms < 1e-3, "alias rms {rms}");
    }

    #[test]
    fn streaming_in_odd_blocks_equals_one_call() {
        let rate = 44_100;
        let x: Vec<f32> = sine(330.0, rate, 50_000)
            .iter()
            .enumerate()
            .map(|(i, v)| v * (1.0 + (i % 97) as f32 / 97.0))
            .collect();
        let whole = resample_to_encoder_rate(&x, rate).unwrap();
        let mut r = StreamResampler::new(rate).unwrap();
        let mut streamed = Vec::new();
        let mut i = 0;
        let mut step = 1;
        while i < x.len() {
            let end = (i + step).min(x.len());
            r.push(&x[i..end], &mut streamed).unwrap();
            i = end;
            step = step * 7 % 1999 + 1;
        }
        r.finish(&mut streamed).unwrap();
        assert_eq!(streamed, whole);
    }

    #[test]
    fn bad_rates_and_samples_are_errors() {
        assert!(StreamResampler::new(44_101).is_err());
        assert!(StreamResampler::new(1_000).is_err());
        let mut r = StreamResampler::new(48_000).unwrap();
        let mut out = Vec::new();
        let err = r.push(&[0.0, f32::NAN], &mut out).unwrap_err();
        assert!(matches!(err, PerceptionError::NonFinite { index: 1 }));
    }

    #[test]
    fn encoder_rate_is_passed_through() {
        let x = sine(100.0, ENCODER_RATE, 1234);
        assert_eq!(resample_to_encoder_rate(&x, ENCODER_RATE).unwrap(), x);
    }
}
