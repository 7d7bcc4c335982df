//! One-off, band-limited conversion of a recording to the host rate (worker thread only).
//!
//! Audio goes through rubato's synchronous FFT resampler, whose anti-aliasing filter keeps the
//! corpus at its native quality. Segment boundaries go through [`convert_position`], a single
//! exact integer mapping, so that contiguous segments stay contiguous after conversion.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

/// Why a recording could not be resampled.
#[derive(Debug, thiserror::Error)]
pub enum ResampleFailure {
    /// rubato refused the pair of rates.
    #[error("cannot build a resampler: {0}")]
    Construction(#[from] rubato::ResamplerConstructionError),
    /// rubato failed while resampling.
    #[error("resampling failed: {0}")]
    Process(#[from] rubato::ResampleError),
}

/// Chunk size hint handed to the FFT resampler: a compromise between speed and memory.
const CHUNK_FRAMES: usize = 1024;

/// Converts a sample position from `from_rate` to `to_rate`, rounding to the nearest sample
/// (halves round up). The mapping is monotonic and exact for integer rate ratios, and every
/// boundary of a corpus goes through it, so shared boundaries map to the same host sample.
pub fn convert_position(position: u64, from_rate: u32, to_rate: u32) -> u64 {
    let from = u128::from(from_rate);
    let scaled = u128::from(position) * u128::from(to_rate) + from / 2;
    // A u64 position times a u32 rate, divided by a rate >= 1, fits back in u64 unless the
    // target rate is higher than the source rate by a factor of 2^32, which no audio rate is.
    u64::try_from(scaled / from).unwrap_or(u64::MAX)
}

/// Resamples de-interleaved channels from `from_rate` to `to_rate` with rubato's FFT resampler,
/// trimming its delay so that output sample `n` lines up with input time `n / to_rate` to within
/// a frame (rubato trims whole frames; the rest, about half a frame, is below the rounding of
/// the boundaries). The output has `convert_position(frames, from_rate, to_rate)` frames.
///
/// Returns the input unchanged when the rates are equal.
pub fn resample_channels(
    channels: Vec<Vec<f32>>,
    from_rate: u32,
    to_rate: u32,
) -> Result<Vec<Vec<f32>>, ResampleFailure> {
    if from_rate == to_rate || channels.is_empty() {
        return Ok(channels);
    }
    let frames = channels[0].len();
    let channel_count = channels.len();
    let mut resampler = Fft::<f32>::new(
        from_rate as usize,
        to_rate as usize,
        CHUNK_FRAMES,
        channel_count,
        FixedSync::Both,
    )?;
    let needed = resampler.process_all_needed_output_len(frames);
    let mut output = vec![vec![0.0f32; needed]; channel_count];
    let input = SequentialSliceOfVecs::new(&channels, channel_count, frames)
        .expect("all channels were checked to have the same length");
    let mut adapter = SequentialSliceOfVecs::new_mut(&mut output, channel_count, needed)
        .expect("the output was allocated with the needed length");
    let (_, produced) = resampler.process_all_into_buffer(&input, &mut adapter, frames, None)?;
    // rubato rounds the length up in floating point; the corpus length follows the same
    // integer rule as its boundaries, so the last boundary lands exactly on the end.
    let length = produced.min(convert_position(frames as u64, from_rate, to_rate) as usize);
    for channel in &mut output {
        channel.truncate(length);
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_consistently() {
        assert_eq!(convert_position(0, 44_100, 48_000), 0);
        assert_eq!(convert_position(44_100, 44_100, 48_000), 48_000);
        assert_eq!(convert_position(15_435, 44_100, 48_000), 16_800);
        assert_eq!(convert_position(1, 48_000, 96_000), 2);
        assert_eq!(convert_position(3, 96_000, 48_000), 2);
        let mut previous = 0;
        for position in 0..10_000u64 {
            let converted = convert_position(position, 44_100, 48_000);
            assert!(converted >= previous);
            previous = converted;
        }
    }

    #[test]
    fn resampling_keeps_a_tone_in_place_and_in_tune() {
        let from = 44_100u32;
        let to = 48_000u32;
        let frequency = 1_000.0f64;
        let tone: Vec<f32> = (0..from as usize)
            .map(|n| {
                (0.5 * (std::f64::consts::TAU * frequency * n as f64 / f64::from(from)).sin())
                    as f32
            })
            .collect();
        let out = resample_channels(vec![tone], from, to).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), to as usize);
        // Away from the edges the output is the same tone sampled at the new rate, in tune and
        // within one frame of its place (rubato trims its delay to a whole frame).
        let deviation = |shift: f64| {
            let mut worst = 0.0f64;
            for (n, &sample) in out[0]
                .iter()
                .enumerate()
                .take(to as usize - 2_000)
                .skip(2_000)
            {
                let time = (n as f64 + shift) / f64::from(to);
                let expected = 0.5 * (std::f64::consts::TAU * frequency * time).sin();
                worst = worst.max((f64::from(sample) - expected).abs());
            }
            worst
        };
        let best = (-20..=20)
            .map(|step| deviation(f64::from(step) / 20.0))
            .fold(f64::INFINITY, f64::min);
        assert!(best < 5e-3, "best deviation {best}");
    }

    #[test]
    fn equal_rates_leave_samples_untouched() {
        let input = vec![vec![0.1, -0.2, 0.3], vec![0.4, 0.5, -0.6]];
        let out = resample_channels(input.clone(), 48_000, 48_000).unwrap();
        assert_eq!(out, input);
    }
}
