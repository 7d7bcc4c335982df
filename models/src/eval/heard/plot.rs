//! The piano roll of `eval-heard --plot`: the guide's notes, the true companion's and the
//! rendered companion's in three lanes over time, with the companion's slot boundaries. No text
//! is drawn (the build has no font library); [`PIANO_ROLL_KEY`] says what the colours mean.

use std::path::Path;

use plotters::prelude::*;

use crate::data::stems::Note;

use super::scores::{grid, is_consonant, sounding, GRID_S};
use crate::eval::EvalError;

/// What the piano roll's colours mean, for the CLI to print beside the file name.
pub const PIANO_ROLL_KEY: &str = "lanes from top to bottom: guide (black), true companion, \
     rendered companion; companion notes are green where consonant with the guide, red where \
     dissonant, grey where the guide is silent; thin blue lines: the rendered companion's slot \
     boundaries";

const GUIDE: RGBColor = RGBColor(30, 30, 30);
const CONSONANT: RGBColor = RGBColor(40, 160, 60);
const DISSONANT: RGBColor = RGBColor(220, 40, 40);
const ALONE: RGBColor = RGBColor(150, 150, 150);
const BOUNDARY: RGBColor = RGBColor(190, 205, 240);
const LANE_GAP: RGBColor = RGBColor(225, 225, 225);

/// One piece's notes on the guide's time line.
#[derive(Debug, Clone, Copy)]
pub struct PianoRoll<'a> {
    /// Length of the guide, in seconds.
    pub duration_s: f64,
    /// The guide's notes.
    pub guide: &'a [Note],
    /// The true companion's notes.
    pub truth: &'a [Note],
    /// The rendered companion's notes, as heard.
    pub companion: &'a [Note],
    /// Where the rendered companion's slots start, in guide time.
    pub slot_starts: &'a [f64],
}

/// Draws `roll` into a 1600×600 PNG at `path`.
pub fn piano_roll(path: &Path, roll: &PianoRoll<'_>) -> Result<(), EvalError> {
    let err = |e: String| EvalError::Invalid(format!("plot {}: {e}", path.display()));
    let duration = roll.duration_s.max(GRID_S);
    let root = BitMapBackend::new(path, (1600, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .build_cartesian_2d(0f64..duration, 0f64..3.0)
        .map_err(|e| err(e.to_string()))?;
    let lane_lines = [1.0, 2.0].map(|y| PathElement::new(vec![(0.0, y), (duration, y)], LANE_GAP));
    chart
        .draw_series(lane_lines)
        .map_err(|e| err(e.to_string()))?;
    // Top lane: the guide; middle: the true companion; bottom: the rendered companion.
    let mut rects = lane(roll.guide, 2.0, |_| GUIDE, duration);
    for (notes, base) in [(roll.truth, 1.0), (roll.companion, 0.0)] {
        rects.extend(lane(
            notes,
            base,
            |t| {
                let a: Vec<u8> = sounding(roll.guide, t).collect();
                if a.is_empty() {
                    return ALONE;
                }
                let b: Vec<u8> = sounding(notes, t).collect();
                if is_consonant(&a, &b) {
                    CONSONANT
                } else {
                    DISSONANT
                }
            },
            duration,
        ));
    }
    chart.draw_series(rects).map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(
            roll.slot_starts
                .iter()
                .filter(|&&s| (0.0..duration).contains(&s))
                .map(|&s| PathElement::new(vec![(s, 0.0), (s, 1.0)], BOUNDARY)),
        )
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// The rectangles of one lane whose bottom is at `base`: each note at its pitch (the lane spans
/// the notes' pitch range), cut into grid steps coloured by `colour(t)`.
fn lane(
    notes: &[Note],
    base: f64,
    colour: impl Fn(f64) -> RGBColor,
    duration: f64,
) -> Vec<Rectangle<(f64, f64)>> {
    let (low, high) = notes.iter().fold((u8::MAX, 0u8), |(lo, hi), n| {
        (lo.min(n.midi_pitch), hi.max(n.midi_pitch))
    });
    if low > high {
        return Vec::new();
    }
    let rows = f64::from(high - low) + 1.0;
    let height = 0.9 / rows;
    let mut out = Vec::new();
    for t in grid(duration) {
        for n in notes.iter().filter(|n| n.onset_s <= t && t < n.offset_s) {
            let y = base + 0.05 + f64::from(n.midi_pitch - low) * height;
            let end = (t + GRID_S).min(n.offset_s);
            out.push(Rectangle::new(
                [(t, y), (end, y + height * 0.8)],
                colour(t).filled(),
            ));
        }
    }
    out
}
