//! Gain ramps, one step a frame (audio thread).

/// `value` moved one `step` towards `target`, without passing it.
pub fn ramp(value: f32, target: f32, step: f32) -> f32 {
    if value < target {
        (value + step).min(target)
    } else {
        (value - step).max(target)
    }
}
