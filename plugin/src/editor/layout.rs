//! Placing the editor's cards: splitting rectangles and drawing a card that fills one exactly.

use egui::{pos2, vec2, Rect, Ui, UiBuilder, Vec2};

use super::theme;

/// A card's border and inner margin, on each side.
const CARD_INSET: f32 = 11.0;

/// Splits `rect` into a top part `height` tall and the rest below it, a gap apart.
pub fn split_top(rect: Rect, height: f32) -> (Rect, Rect) {
    let height = height.clamp(0.0, rect.height());
    let top = Rect::from_min_size(rect.min, vec2(rect.width(), height));
    let bottom = Rect::from_min_max(
        pos2(rect.left(), (top.bottom() + theme::GAP).min(rect.bottom())),
        rect.max,
    );
    (top, bottom)
}

/// Splits `rect` into `n` columns of equal width, a gap apart.
pub fn columns(rect: Rect, n: usize) -> Vec<Rect> {
    let n = n.max(1);
    let width = ((rect.width() - theme::GAP * (n - 1) as f32) / n as f32).max(0.0);
    (0..n)
        .map(|i| {
            let left = rect.left() + i as f32 * (width + theme::GAP);
            Rect::from_min_size(pos2(left, rect.top()), vec2(width, rect.height()))
        })
        .collect()
}

/// Runs `add` in a child UI confined to `rect`.
pub fn in_rect<R>(ui: &mut Ui, rect: Rect, add: impl FnOnce(&mut Ui) -> R) -> R {
    ui.scope_builder(UiBuilder::new().max_rect(rect), add).inner
}

/// Draws a card filling `rect` exactly, with `add` laid out top-down inside it.
pub fn card_at(ui: &mut Ui, rect: Rect, add: impl FnOnce(&mut Ui)) {
    in_rect(ui, rect, |ui| {
        ui.set_clip_rect(rect.intersect(ui.clip_rect()));
        theme::card().show(ui, |ui| {
            let inner = (rect.size() - Vec2::splat(2.0 * CARD_INSET)).max(Vec2::ZERO);
            ui.set_width(inner.x);
            ui.set_height(inner.y);
            add(ui);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_keeps_both_parts_inside_with_a_gap() {
        let rect = Rect::from_min_size(pos2(10.0, 20.0), vec2(300.0, 200.0));
        let (top, bottom) = split_top(rect, 50.0);
        assert_eq!(
            top,
            Rect::from_min_size(pos2(10.0, 20.0), vec2(300.0, 50.0))
        );
        assert_eq!(bottom.top(), 70.0 + theme::GAP);
        assert_eq!(bottom.max, rect.max);
        // Asking for more than there is leaves an empty bottom part, never one outside.
        let (top, bottom) = split_top(rect, 500.0);
        assert_eq!(top, rect);
        assert_eq!(bottom.height(), 0.0);
    }

    #[test]
    fn columns_share_the_width_and_end_at_the_right_edge() {
        let rect = Rect::from_min_size(pos2(0.0, 0.0), vec2(430.0, 100.0));
        let cols = columns(rect, 4);
        assert_eq!(cols.len(), 4);
        assert!(cols.iter().all(|c| (c.width() - 100.0).abs() < 1e-4));
        assert!((cols[3].right() - rect.right()).abs() < 1e-4);
        assert!((cols[1].left() - cols[0].right() - theme::GAP).abs() < 1e-4);
    }
}
