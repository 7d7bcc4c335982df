//! The guide's input level: a peak meter in dBFS that falls back slowly, with a peak hold.

use egui::{pos2, vec2, Align2, FontId, Rect, Sense, Stroke, StrokeKind, Ui};

use super::{format, theme};

/// Bottom of the meter's scale.
pub const FLOOR_DB: f32 = -60.0;
/// How fast the bar falls, in dB per second.
const FALL_DB_PER_SECOND: f32 = 20.0;
/// How long the peak-hold mark stays before it falls.
const HOLD_SECONDS: f32 = 1.5;

/// A decaying peak meter (GUI thread).
#[derive(Debug, Clone, PartialEq)]
pub struct LevelMeter {
    level_db: f32,
    hold_db: f32,
    hold_left: f32,
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self {
            level_db: FLOOR_DB,
            hold_db: FLOOR_DB,
            hold_left: 0.0,
        }
    }
}

/// A linear peak in dBFS, clamped to the floor (silence and bad values read as the floor).
pub fn peak_to_db(peak: f32) -> f32 {
    if peak.is_finite() && peak > 0.0 {
        (20.0 * peak.log10()).max(FLOOR_DB)
    } else {
        FLOOR_DB
    }
}

impl LevelMeter {
    /// Takes the peak measured over the last `dt` seconds: the bar jumps up to it at once and
    /// otherwise falls at a fixed rate; the hold mark keeps the highest level for a moment.
    pub fn update(&mut self, peak: f32, dt: f32) {
        let dt = if dt.is_finite() {
            dt.clamp(0.0, 0.5)
        } else {
            0.0
        };
        let db = peak_to_db(peak);
        self.level_db = db.max(self.level_db - FALL_DB_PER_SECOND * dt);
        if db >= self.hold_db {
            self.hold_db = db;
            self.hold_left = HOLD_SECONDS;
        } else if self.hold_left > 0.0 {
            self.hold_left -= dt;
        } else {
            self.hold_db = (self.hold_db - FALL_DB_PER_SECOND * dt).max(self.level_db);
        }
    }

    /// Draws the meter, `width` points wide, with its reading.
    pub fn show(&self, ui: &mut Ui, width: f32) {
        ui.horizontal(|ui| {
            ui.label(theme::weak("Guide in"));
            let (rect, _) = ui.allocate_exact_size(vec2(width, 10.0), Sense::hover());
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, 2.0, theme::TRACK);
            let x_of = |db: f32| rect.left() + rect.width() * (db - FLOOR_DB) / -FLOOR_DB;
            // The bar is green up to -12 dBFS, amber up to -3 and red above.
            for (from, to, colour) in [
                (FLOOR_DB, -12.0, theme::GOOD),
                (-12.0, -3.0, theme::WARN),
                (-3.0, 0.0, theme::BAD),
            ] {
                let top = self.level_db.min(to);
                if top > from {
                    let zone = Rect::from_min_max(
                        pos2(x_of(from), rect.top()),
                        pos2(x_of(top), rect.bottom()),
                    );
                    painter.rect_filled(zone, 0.0, colour);
                }
            }
            if self.hold_db > FLOOR_DB {
                let x = x_of(self.hold_db).min(rect.right() - 1.0);
                painter.line_segment(
                    [pos2(x, rect.top()), pos2(x, rect.bottom())],
                    Stroke::new(2.0, theme::TEXT),
                );
            }
            painter.rect_stroke(
                rect,
                2.0,
                Stroke::new(1.0, theme::CARD_STROKE),
                StrokeKind::Inside,
            );
            let (text_rect, _) = ui.allocate_exact_size(vec2(74.0, 14.0), Sense::hover());
            ui.painter().text(
                text_rect.right_center(),
                Align2::RIGHT_CENTER,
                format::dbfs(self.hold_db, FLOOR_DB),
                FontId::monospace(11.0),
                theme::TEXT,
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_convert_to_dbfs_above_the_floor() {
        assert!((peak_to_db(1.0) - 0.0).abs() < 1e-6);
        assert!((peak_to_db(0.5) + 6.0206).abs() < 1e-3);
        assert_eq!(peak_to_db(0.0), FLOOR_DB);
        assert_eq!(peak_to_db(1e-9), FLOOR_DB);
        assert_eq!(peak_to_db(f32::NAN), FLOOR_DB);
    }

    #[test]
    fn the_bar_jumps_up_and_falls_at_its_rate() {
        let mut meter = LevelMeter::default();
        meter.update(0.5, 1.0 / 30.0);
        assert!((meter.level_db + 6.02).abs() < 0.01);
        // Half a second of silence: the bar falls 10 dB.
        for _ in 0..15 {
            meter.update(0.0, 1.0 / 30.0);
        }
        assert!((meter.level_db + 16.02).abs() < 0.01, "{}", meter.level_db);
        // It never falls below the floor.
        for _ in 0..300 {
            meter.update(0.0, 1.0 / 30.0);
        }
        assert_eq!(meter.level_db, FLOOR_DB);
    }

    #[test]
    fn the_hold_mark_waits_then_falls_to_the_bar() {
        let mut meter = LevelMeter::default();
        meter.update(1.0, 0.01);
        for _ in 0..10 {
            meter.update(0.0, 0.1);
        }
        // One second later the mark still holds 0 dBFS while the bar fell.
        assert_eq!(meter.hold_db, 0.0);
        assert!(meter.level_db < -15.0);
        for _ in 0..40 {
            meter.update(0.0, 0.1);
        }
        assert_eq!(meter.hold_db, meter.level_db);
    }

    #[test]
    fn long_frames_do_not_empty_the_meter_at_once() {
        let mut meter = LevelMeter::default();
        meter.update(1.0, 0.01);
        // A frame stalled for ten seconds counts as half a second.
        meter.update(0.0, 10.0);
        assert!((meter.level_db + 10.0).abs() < 1e-4);
    }
}
