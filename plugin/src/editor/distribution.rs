//! The decision model's current probability distribution over the K labels, as a bar chart.

use egui::{pos2, vec2, Align2, FontId, Rect, Sense, Stroke, StrokeKind, Ui};

use super::theme;

/// The mark under labels that no corpus segment carries.
const ABSENT: egui::Color32 = theme::BAD;

/// The top of the chart's scale for a distribution whose largest probability is `max`: the next
/// tenth up, so small probabilities stay visible and the scale does not jitter every frame.
pub fn scale_top(max: f32) -> f32 {
    if max.is_finite() && max > 0.0 {
        ((max * 10.0).ceil() / 10.0).clamp(0.1, 1.0)
    } else {
        1.0
    }
}

/// Draws `probabilities` as bars in a chart `height` points tall filling the available width.
/// `played` (the label of the segment the navigator played) is highlighted; labels with no segment in the corpus (`label_counts[i] == 0`) are
/// marked under the axis.
pub fn show(
    ui: &mut Ui,
    height: f32,
    probabilities: &[f32],
    played: Option<u32>,
    label_counts: &[usize],
) {
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::hover());
    let painter = ui.painter_at(rect);
    let axis_height = 16.0;
    let gutter = 30.0;
    let plot = Rect::from_min_max(
        pos2(rect.left() + gutter, rect.top() + 4.0),
        pos2(rect.right(), rect.bottom() - axis_height),
    );
    painter.rect_filled(plot, 3.0, theme::TRACK);
    if probabilities.is_empty() {
        painter.text(
            plot.center(),
            Align2::CENTER_CENTER,
            "no distribution yet",
            FontId::proportional(12.0),
            theme::WEAK_TEXT,
        );
        return;
    }
    let top = scale_top(probabilities.iter().copied().fold(0.0, f32::max));
    let small = FontId::monospace(9.5);
    for fraction in [0.5, 1.0] {
        let y = plot.bottom() - plot.height() * fraction;
        painter.line_segment(
            [pos2(plot.left(), y), pos2(plot.right(), y)],
            Stroke::new(1.0, theme::CARD_STROKE),
        );
        painter.text(
            pos2(plot.left() - 4.0, y),
            Align2::RIGHT_CENTER,
            format!("{:.2}", top * fraction),
            small.clone(),
            theme::WEAK_TEXT,
        );
    }

    let k = probabilities.len();
    let slot = plot.width() / k as f32;
    let gap = if slot >= 6.0 { 1.0 } else { 0.0 };
    // Label numbers under the axis: every label when there is room, else every 4th, 8th…
    let mut tick_every = 1;
    while slot * (tick_every as f32) < 18.0 {
        tick_every *= 2;
    }
    for (label, &p) in probabilities.iter().enumerate() {
        let is_played = played == Some(label as u32);
        let left = plot.left() + label as f32 * slot;
        let bar_height = plot.height() * (p / top).clamp(0.0, 1.0);
        let bar = Rect::from_min_max(
            pos2(left + gap, plot.bottom() - bar_height),
            pos2(left + slot - gap, plot.bottom()),
        );
        let colour = theme::label_colour(label as u32);
        if is_played {
            let column =
                Rect::from_min_max(pos2(left, plot.top()), pos2(left + slot, plot.bottom()));
            painter.rect_filled(column, 0.0, theme::TEXT.gamma_multiply(0.06));
            painter.rect_filled(bar, 1.0, colour);
            painter.rect_stroke(bar, 1.0, Stroke::new(1.0, theme::TEXT), StrokeKind::Outside);
        } else {
            painter.rect_filled(bar, 1.0, colour.gamma_multiply(0.45));
        }
        if label_counts.get(label) == Some(&0) {
            let y = plot.bottom() + 3.0;
            painter.line_segment(
                [pos2(left + gap, y), pos2(left + slot - gap, y)],
                Stroke::new(2.0, ABSENT),
            );
        }
        if label % tick_every == 0 || is_played {
            painter.text(
                pos2(left + slot / 2.0, rect.bottom()),
                Align2::CENTER_BOTTOM,
                label.to_string(),
                small.clone(),
                if is_played {
                    theme::TEXT
                } else {
                    theme::WEAK_TEXT
                },
            );
        }
    }
}

/// The legend of the marks under the axis: a short red line for labels the corpus lacks.
pub fn absent_legend(ui: &mut Ui) {
    // Right-to-left: the text first, then its swatch on its left.
    ui.label(theme::weak("not in the corpus").size(11.0));
    let (rect, _) = ui.allocate_exact_size(vec2(12.0, 10.0), Sense::hover());
    ui.painter().line_segment(
        [rect.left_center(), rect.right_center()],
        Stroke::new(2.0, ABSENT),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_tops_the_largest_probability_by_the_next_tenth() {
        assert_eq!(scale_top(0.42), 0.5);
        assert_eq!(scale_top(0.5), 0.5);
        assert_eq!(scale_top(0.01), 0.1);
        assert_eq!(scale_top(1.0), 1.0);
    }

    #[test]
    fn empty_or_broken_distributions_use_the_full_scale() {
        assert_eq!(scale_top(0.0), 1.0);
        assert_eq!(scale_top(f32::NAN), 1.0);
    }
}
