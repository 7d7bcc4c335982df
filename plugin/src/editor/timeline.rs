//! The running token timeline: the guide's tokens (A) above the companion's chosen labels (B),
//! one column per decision, the newest on the right.

use std::collections::VecDeque;

use egui::{pos2, vec2, Align2, FontId, Rect, Sense, Stroke, StrokeKind, Ui};

use super::theme;

/// How many decisions the timeline shows.
pub const SHOWN_DECISIONS: usize = 32;

/// One decision: the guide's token and the label chosen for the companion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// A's token.
    pub a: Option<u32>,
    /// B's chosen label.
    pub b: Option<u32>,
}

/// The last decisions, collected by polling the engine's telemetry (GUI thread).
#[derive(Debug, Clone)]
pub struct TokenTimeline {
    /// The kept decisions, oldest first.
    steps: VecDeque<Step>,
    capacity: usize,
    /// The telemetry's decision count at the last poll.
    seen_decisions: u64,
    /// Decisions pushed since the timeline started (drives the scrolling animation).
    pushed: u64,
}

impl TokenTimeline {
    /// An empty timeline that keeps the last `capacity` decisions.
    pub fn new(capacity: usize) -> Self {
        Self {
            steps: VecDeque::with_capacity(capacity),
            capacity,
            seen_decisions: 0,
            pushed: 0,
        }
    }

    /// Takes the engine's decision count and latest tokens. A new count appends the tokens
    /// (several decisions between two polls show as one: only the latest is published); a
    /// smaller count means a fresh engine, and starts the timeline over.
    pub fn observe(&mut self, decisions: u64, step: Step) {
        if decisions < self.seen_decisions {
            self.steps.clear();
        }
        if decisions != self.seen_decisions {
            if self.steps.len() == self.capacity {
                self.steps.pop_front();
            }
            self.steps.push_back(step);
            self.pushed += 1;
        }
        self.seen_decisions = decisions;
    }

    /// Forgets the decisions shown: no engine runs.
    pub fn clear(&mut self) {
        self.steps.clear();
        self.seen_decisions = 0;
    }

    /// Draws the timeline in a strip `height` points tall, filling the available width.
    pub fn show(&self, ui: &mut Ui, height: f32) {
        let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::hover());
        let painter = ui.painter_at(rect);
        let gutter = 22.0;
        let plot = Rect::from_min_max(pos2(rect.left() + gutter, rect.top()), rect.max);
        let cell = plot.width() / self.capacity as f32;
        let row_gap = 6.0;
        let row_height = (plot.height() - row_gap) / 2.0;
        let rows = [
            Rect::from_min_size(plot.min, vec2(plot.width(), row_height)),
            Rect::from_min_size(
                pos2(plot.left(), plot.top() + row_height + row_gap),
                vec2(plot.width(), row_height),
            ),
        ];
        for (row, name) in rows.iter().zip(["A", "B"]) {
            painter.rect_filled(*row, 3.0, theme::TRACK);
            painter.text(
                pos2(rect.left() + gutter / 2.0 - 2.0, row.center().y),
                Align2::CENTER_CENTER,
                name,
                FontId::proportional(12.0),
                theme::WEAK_TEXT,
            );
        }

        // Slide the columns in from the right over a fifth of a second.
        let shown = ui.ctx().animate_value_with_time(
            egui::Id::unique("counterpart-timeline-scroll"),
            self.pushed as f32,
            0.2,
        );
        let slide = (self.pushed as f32 - shown).clamp(0.0, 1.0) * cell;
        let font = FontId::monospace((row_height * 0.4).clamp(8.0, 10.0));
        let count = self.steps.len();
        for (i, step) in self.steps.iter().enumerate() {
            let left = plot.right() - (count - i) as f32 * cell + slide;
            for (row, token) in rows.iter().zip([step.a, step.b]) {
                let column = Rect::from_min_size(pos2(left, row.top()), vec2(cell, row.height()))
                    .shrink2(vec2(1.0, 2.0))
                    .intersect(*row);
                if column.width() <= 0.0 {
                    continue;
                }
                let Some(token) = token else {
                    painter.rect_stroke(
                        column,
                        2.0,
                        Stroke::new(1.0, theme::CARD_STROKE),
                        StrokeKind::Inside,
                    );
                    continue;
                };
                painter.rect_filled(column, 2.0, theme::label_colour(token));
                let text =
                    painter.layout_no_wrap(token.to_string(), font.clone(), theme::BACKGROUND);
                if text.size().x + 2.0 <= column.width() {
                    painter.galley(column.center() - text.size() / 2.0, text, theme::BACKGROUND);
                }
            }
        }
        if count == 0 {
            painter.text(
                plot.center(),
                Align2::CENTER_CENTER,
                "waiting for the first decision…",
                FontId::proportional(12.0),
                theme::WEAK_TEXT,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(a: u32, b: u32) -> Step {
        Step {
            a: Some(a),
            b: Some(b),
        }
    }

    #[test]
    fn a_decision_is_pushed_once_however_often_it_is_polled() {
        let mut timeline = TokenTimeline::new(4);
        for _ in 0..5 {
            timeline.observe(1, step(3, 7));
        }
        timeline.observe(2, step(4, 8));
        timeline.observe(2, step(4, 8));
        let steps: Vec<Step> = timeline.steps.iter().copied().collect();
        assert_eq!(steps, vec![step(3, 7), step(4, 8)]);
    }

    #[test]
    fn nothing_is_pushed_before_the_first_decision() {
        let mut timeline = TokenTimeline::new(4);
        timeline.observe(0, Step { a: None, b: None });
        assert_eq!(timeline.steps.len(), 0);
    }

    #[test]
    fn the_history_keeps_only_the_newest_decisions() {
        let mut timeline = TokenTimeline::new(SHOWN_DECISIONS);
        for n in 1..=100u32 {
            timeline.observe(u64::from(n), step(n, n + 1000));
        }
        assert_eq!(timeline.steps.len(), SHOWN_DECISIONS);
        let first = timeline.steps.front().copied();
        let last = timeline.steps.back().copied();
        assert_eq!(first, Some(step(69, 1069)));
        assert_eq!(last, Some(step(100, 1100)));
    }

    #[test]
    fn after_a_clear_the_next_engine_fills_the_timeline_from_its_first_decision() {
        let mut timeline = TokenTimeline::new(8);
        for n in 1..=5u64 {
            timeline.observe(n, step(1, 2));
        }
        timeline.clear();
        assert!(timeline.steps.is_empty());
        timeline.observe(0, step(0, 0));
        timeline.observe(1, step(3, 4));
        let steps: Vec<Step> = timeline.steps.iter().copied().collect();
        assert_eq!(steps, vec![step(3, 4)]);
    }

    #[test]
    fn a_fresh_engine_starts_the_timeline_over() {
        let mut timeline = TokenTimeline::new(8);
        for n in 1..=5u64 {
            timeline.observe(n, step(1, 2));
        }
        timeline.observe(1, step(9, 9));
        let steps: Vec<Step> = timeline.steps.iter().copied().collect();
        assert_eq!(steps, vec![step(9, 9)]);
    }
}
