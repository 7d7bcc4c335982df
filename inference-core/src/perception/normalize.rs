//! Amplitude normalisation of an encoder input window.
//!
//! Each context window is z-scored on its own (mean 0, variance 1 over the window), the same way
//! when fitting a codebook and at run time, as Hugging Face's Wav2Vec2 feature extractor does:
//! `(x − mean) / sqrt(var + 1e-7)`. Silence stays silence (all zeros) instead of blowing up.

use super::error::{check_finite, Result};

/// Added to the variance before the square root.
pub const VARIANCE_EPSILON: f64 = 1e-7;

/// Z-scores `window` in place. Non-finite samples are an error.
pub fn zscore_in_place(window: &mut [f32]) -> Result<()> {
    check_finite(window)?;
    if window.is_empty() {
        return Ok(());
    }
    let n = window.len() as f64;
    let mean = window.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = window
        .iter()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let scale = 1.0 / (var + VARIANCE_EPSILON).sqrt();
    for x in window.iter_mut() {
        *x = ((*x as f64 - mean) * scale) as f32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_gets_zero_mean_and_unit_variance() {
        let mut x: Vec<f32> = (0..1000)
            .map(|i| 0.2 + 0.05 * (i as f32 * 0.1).sin())
            .collect();
        zscore_in_place(&mut x).unwrap();
        let mean = x.iter().sum::<f32>() / 1000.0;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 1000.0;
        assert!(
            mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3,
            "{mean} {var}"
        );
    }

    #[test]
    fn silence_stays_zero_and_nan_is_an_error() {
        let mut x = vec![0.0f32; 64];
        zscore_in_place(&mut x).unwrap();
        assert!(x.iter().all(|&v| v == 0.0));
        let mut y = vec![0.0, f32::INFINITY];
        assert!(zscore_in_place(&mut y).is_err());
    }
}
