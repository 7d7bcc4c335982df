//! PNG plots of evaluation curves with `plotters`' bitmap backend. No text is drawn, so no font
//! library is needed (the build stays headless); [`SERIES_COLOURS`] gives the colour key, which
//! the CLI prints next to the file name.

use std::path::Path;

use plotters::prelude::*;

use crate::eval::EvalError;

/// Colours of the series, in order (the first is the model): name, RGB.
pub const SERIES_COLOURS: [(&str, RGBColor); 7] = [
    ("black", RGBColor(0, 0, 0)),
    ("red", RGBColor(220, 40, 40)),
    ("orange", RGBColor(240, 150, 0)),
    ("green", RGBColor(40, 160, 60)),
    ("grey", RGBColor(130, 130, 130)),
    ("blue", RGBColor(40, 90, 220)),
    ("purple", RGBColor(150, 60, 190)),
];

/// Plots each `(name, values)` series against its index (at most [`SERIES_COLOURS`]`.len()`
/// series) into an 800×480 PNG at `path`.
pub fn lcp_plot(path: &Path, series: &[(&str, &[f64])]) -> Result<(), EvalError> {
    let err = |e: String| EvalError::Invalid(format!("plot {}: {e}", path.display()));
    let len = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let top = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.05;
    let root = BitMapBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .margin(20)
        .build_cartesian_2d(0f64..(len - 1) as f64, 0f64..top)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_x_axis()
        .disable_y_axis()
        .x_labels(0)
        .y_labels(0)
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for ((_, values), (_, colour)) in series.iter().zip(SERIES_COLOURS) {
        chart
            .draw_series(LineSeries::new(
                values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, &v)| (i as f64, v)),
                colour.stroke_width(2),
            ))
            .map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}
