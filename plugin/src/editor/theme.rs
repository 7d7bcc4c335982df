//! The editor's look: colours, the egui style, and the framed cards its sections sit in.

use egui::{Color32, CornerRadius, Frame, Margin, RichText, Stroke, Ui};

/// Window background.
pub const BACKGROUND: Color32 = Color32::from_rgb(0x14, 0x16, 0x1b);
/// Card background.
pub const CARD: Color32 = Color32::from_rgb(0x1c, 0x1f, 0x26);
/// Card outline.
pub const CARD_STROKE: Color32 = Color32::from_rgb(0x2b, 0x2f, 0x39);
/// Empty plots and meter tracks.
pub const TRACK: Color32 = Color32::from_rgb(0x25, 0x29, 0x32);
/// Main text.
pub const TEXT: Color32 = Color32::from_rgb(0xdc, 0xdf, 0xe6);
/// Secondary text: captions and units.
pub const WEAK_TEXT: Color32 = Color32::from_rgb(0x8b, 0x91, 0x9e);
/// The accent: sliders, highlights.
pub const ACCENT: Color32 = Color32::from_rgb(0x4f, 0xc3, 0xb5);
/// Healthy state.
pub const GOOD: Color32 = Color32::from_rgb(0x5c, 0xd0, 0x7a);
/// Something to watch.
pub const WARN: Color32 = Color32::from_rgb(0xf0, 0xb4, 0x4c);
/// Something wrong.
pub const BAD: Color32 = Color32::from_rgb(0xf0, 0x5d, 0x5d);

/// Space between cards.
pub const GAP: f32 = 10.0;

/// Rounding of cards and bars.
const RADIUS: u8 = 6;

/// Installs the editor's dark style in `ctx` (GUI thread, when the window opens).
pub fn apply(ctx: &egui::Context) {
    ctx.set_theme(egui::ThemePreference::Dark);
    ctx.all_styles_mut(|style| {
        let visuals = &mut style.visuals;
        visuals.panel_fill = BACKGROUND;
        visuals.window_fill = CARD;
        visuals.window_stroke = Stroke::new(1.0, CARD_STROKE);
        visuals.extreme_bg_color = TRACK;
        visuals.override_text_color = Some(TEXT);
        visuals.selection.bg_fill = ACCENT.gamma_multiply(0.75);
        visuals.selection.stroke = Stroke::new(1.0, ACCENT);
        visuals.hyperlink_color = ACCENT;
        visuals.widgets.noninteractive.bg_stroke = Stroke::new(1.0, CARD_STROKE);
        visuals.widgets.inactive.bg_fill = TRACK;
        visuals.widgets.inactive.weak_bg_fill = TRACK;
        visuals.widgets.inactive.bg_stroke = Stroke::new(1.0, CARD_STROKE);
        visuals.widgets.hovered.weak_bg_fill = Color32::from_rgb(0x2f, 0x34, 0x3f);
        visuals.widgets.hovered.bg_fill = Color32::from_rgb(0x2f, 0x34, 0x3f);
        visuals.widgets.active.bg_fill = Color32::from_rgb(0x38, 0x3e, 0x4b);
        visuals.widgets.active.weak_bg_fill = Color32::from_rgb(0x38, 0x3e, 0x4b);
        for widget in [
            &mut visuals.widgets.noninteractive,
            &mut visuals.widgets.inactive,
            &mut visuals.widgets.hovered,
            &mut visuals.widgets.active,
            &mut visuals.widgets.open,
        ] {
            widget.corner_radius = CornerRadius::same(4);
        }
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(8.0, 3.0);
        style.spacing.interact_size.y = 20.0;
    });
}

/// A card: a rounded, outlined panel for one section of the editor.
pub fn card() -> Frame {
    Frame::new()
        .fill(CARD)
        .stroke(Stroke::new(1.0, CARD_STROKE))
        .corner_radius(CornerRadius::same(RADIUS))
        .inner_margin(Margin::same(10))
}

/// A section title in small capitals.
pub fn heading(ui: &mut Ui, title: &str) {
    ui.label(
        RichText::new(title.to_uppercase())
            .size(11.0)
            .strong()
            .color(WEAK_TEXT),
    );
}

/// Text in the secondary colour.
pub fn weak(text: impl Into<String>) -> RichText {
    RichText::new(text).color(WEAK_TEXT)
}

/// The colour of label `label`: hues spread by the golden ratio, so neighbouring labels differ.
pub fn label_colour(label: u32) -> Color32 {
    const GOLDEN: f32 = 0.618_034;
    let hue = (label as f32 * GOLDEN).fract();
    egui::ecolor::Hsva::new(hue, 0.55, 0.88, 1.0).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_labels_get_distinct_colours() {
        for label in 0..255 {
            let (a, b) = (label_colour(label), label_colour(label + 1));
            let distance: i32 = [(a.r(), b.r()), (a.g(), b.g()), (a.b(), b.b())]
                .iter()
                .map(|&(x, y)| (i32::from(x) - i32::from(y)).abs())
                .sum();
            assert!(distance > 60, "labels {label} and {} look alike", label + 1);
        }
    }
}
