//! The equal-power crossfade curve, tabulated so the audio thread never calls `sin`.
//!
//! A fade of `length` samples gives the incoming grain the gain `sin(π/2 · n/length)` at
//! sample `n` and the outgoing grain `sin(π/2 · (length − n)/length) = cos(π/2 · n/length)`,
//! so the two powers always sum to one and both gains are `1/√2` at the midpoint.

/// Intervals in the table; linear interpolation between entries errs by under 3e-7.
const INTERVALS: usize = 1024;

/// A quarter sine, `sin(π/2 · x)` for `x` in `[0, 1]`, with linear interpolation.
#[derive(Debug, Clone)]
pub struct EqualPowerCurve {
    table: Box<[f32; INTERVALS + 1]>,
}

impl Default for EqualPowerCurve {
    fn default() -> Self {
        Self::new()
    }
}

impl EqualPowerCurve {
    /// Tabulates the curve (allocates: build it off the audio thread).
    pub fn new() -> Self {
        let mut table = Box::new([0.0f32; INTERVALS + 1]);
        for (index, entry) in table.iter_mut().enumerate() {
            let x = index as f64 / INTERVALS as f64;
            *entry = (std::f64::consts::FRAC_PI_2 * x).sin() as f32;
        }
        table[INTERVALS] = 1.0;
        Self { table }
    }

    /// Gain at sample `position` of a fade-in of `length` samples (`position` in
    /// `0..=length`): 0 at the start, 1 at the end. A fade-out reads the same curve with
    /// `length − position`.
    #[inline]
    pub fn gain(&self, position: u32, length: u32) -> f32 {
        if position >= length {
            return 1.0;
        }
        // Exact integer scaling keeps the midpoint (and every table node) exact.
        let scaled = u64::from(position) * INTERVALS as u64;
        let index = (scaled / u64::from(length)) as usize;
        let fraction = (scaled % u64::from(length)) as f32 / length as f32;
        let low = self.table[index];
        let high = self.table[index + 1];
        low + (high - low) * fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fades_are_equal_power_everywhere_and_half_power_at_the_midpoint() {
        let curve = EqualPowerCurve::new();
        for length in [2u32, 7, 480, 1_920, 4_801] {
            assert_eq!(curve.gain(0, length), 0.0);
            assert_eq!(curve.gain(length, length), 1.0);
            for position in 0..=length {
                let fade_in = curve.gain(position, length);
                let fade_out = curve.gain(length - position, length);
                let power = fade_in * fade_in + fade_out * fade_out;
                assert!(
                    (power - 1.0).abs() < 2e-6,
                    "length {length} position {position}: {power}"
                );
            }
        }
        let midpoint = curve.gain(960, 1_920);
        assert!((midpoint - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-7);
        // The curve is the quarter sine.
        for position in 0..=1_920u32 {
            let exact = (std::f64::consts::FRAC_PI_2 * f64::from(position) / 1_920.0).sin();
            assert!((f64::from(curve.gain(position, 1_920)) - exact).abs() < 5e-7);
        }
    }
}
