//! What the engine is doing: the worker's load and its error counters, and where the segment
//! playing now comes from.

use counterpart_core::engine::{EngineTelemetry, NowPlaying};
use egui::{vec2, Color32, RichText, Sense, Ui};

use super::{format, theme};
use crate::shared::PresetDisplay;

/// Load above which the worker is close to falling behind.
const HIGH_LOAD: f32 = 0.7;

/// The colour of a worker load: fine, close to the limit, or too slow for real time.
pub fn load_colour(load: f32) -> Color32 {
    if !load.is_finite() || load >= 1.0 {
        theme::BAD
    } else if load >= HIGH_LOAD {
        theme::WARN
    } else {
        theme::GOOD
    }
}

/// Draws the worker's load, the reported latency and the error counters as a grid of tiles;
/// dashes while no engine runs.
pub fn show_stats(ui: &mut Ui, telemetry: Option<&EngineTelemetry>, sample_rate: Option<f32>) {
    theme::heading(ui, "Engine");
    let counters: [Counter; 4] = [
        (
            "Late decisions",
            "Decisions that reached the audio thread after their crossfade should have begun",
            EngineTelemetry::late_decisions,
        ),
        (
            "Worker errors",
            "Errors the worker met and skipped (see the log)",
            EngineTelemetry::worker_errors,
        ),
        (
            "Non-finite guide",
            "Guide samples that were NaN or infinite and were replaced by silence",
            EngineTelemetry::nonfinite_samples,
        ),
        (
            "Dropped samples",
            "Guide samples lost because the worker fell behind",
            EngineTelemetry::dropped_samples,
        ),
    ];
    let tile_width = (ui.available_width() - 2.0 * TILE_SPACING) / 3.0;
    egui::Grid::new("engine-stats")
        .num_columns(3)
        .spacing([TILE_SPACING, 6.0])
        .min_col_width(tile_width)
        .max_col_width(tile_width)
        .show(ui, |ui| {
            tile(
                ui,
                "Worker load",
                "Time per decision over the segment's duration: last / peak",
                |ui| match telemetry {
                    Some(t) => load_value(ui, t.worker_load(), t.peak_worker_load()),
                    None => dash(ui),
                },
            );
            tile(
                ui,
                "Latency",
                "The latency reported to the host",
                |ui| match telemetry {
                    Some(t) => {
                        let samples = t.latency_samples();
                        ui.label(value_text(format::latency_ms(samples, sample_rate)))
                            .on_hover_text(format!("{samples} samples"));
                    }
                    None => dash(ui),
                },
            );
            for (i, (name, help, read)) in counters.into_iter().enumerate() {
                if i == 1 {
                    ui.end_row();
                }
                tile(ui, name, help, |ui| match telemetry.map(read) {
                    Some(0) => {
                        ui.label(value_text("0".to_string()));
                    }
                    Some(n) => {
                        ui.label(value_text(n.to_string()).color(theme::WARN));
                    }
                    None => dash(ui),
                });
            }
            ui.end_row();
        });
}

/// A counter tile: its caption, its help text and how to read it.
type Counter = (&'static str, &'static str, fn(&EngineTelemetry) -> u64);

/// Horizontal space between tiles.
const TILE_SPACING: f32 = 8.0;

/// One statistic: a caption above its value.
fn tile(ui: &mut Ui, name: &str, help: &str, value: impl FnOnce(&mut Ui)) {
    ui.vertical(|ui| {
        ui.spacing_mut().item_spacing.y = 1.0;
        ui.label(theme::weak(name).size(10.5)).on_hover_text(help);
        value(ui);
    });
}

fn value_text(text: String) -> RichText {
    RichText::new(text).size(14.0).strong()
}

fn dash(ui: &mut Ui) {
    ui.label(value_text("–".to_string()).color(theme::WEAK_TEXT));
}

/// The load of the last decision and the peak as text, above a bar with the peak as a mark.
fn load_value(ui: &mut Ui, load: f32, peak: f32) {
    ui.label(value_text(format!(
        "{} / {}",
        format::percent_of_real_time(load),
        format::percent_of_real_time(peak)
    )));
    let (rect, _) =
        ui.allocate_exact_size(vec2(ui.available_width().min(80.0), 4.0), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, theme::TRACK);
    let mut bar = rect;
    bar.set_width(rect.width() * load.clamp(0.0, 1.0));
    painter.rect_filled(bar, 2.0, load_colour(load));
    let x = rect.left() + rect.width() * peak.clamp(0.0, 1.0);
    painter.line_segment(
        [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
        egui::Stroke::new(1.5, theme::TEXT),
    );
}

/// The segment playing now, as the corpus file's name, the time in it and the label.
pub fn describe_now_playing(now: &NowPlaying, preset: Option<&PresetDisplay>) -> (String, String) {
    let file = preset
        .and_then(|p| p.corpus_files.get(now.file as usize))
        .cloned()
        .unwrap_or_else(|| format!("corpus file #{}", now.file));
    (file, format::clock(now.start_seconds))
}

/// Draws the provenance of the segment playing now.
pub fn show_now_playing(
    ui: &mut Ui,
    telemetry: Option<&EngineTelemetry>,
    preset: Option<&PresetDisplay>,
) {
    ui.horizontal(|ui| {
        theme::heading(ui, "Now playing");
        ui.add_space(6.0);
        let Some(now) = telemetry.and_then(EngineTelemetry::now_playing) else {
            ui.label(theme::weak("nothing yet"));
            return;
        };
        let (file, time) = describe_now_playing(&now, preset);
        let (swatch, _) = ui.allocate_exact_size(vec2(12.0, 12.0), Sense::hover());
        ui.painter()
            .rect_filled(swatch, 2.0, theme::label_colour(now.label));
        ui.label(RichText::new(format!("label {}", now.label)).strong());
        ui.label(theme::weak("from"));
        ui.add(egui::Label::new(RichText::new(file).strong()).truncate());
        ui.label(theme::weak("at"));
        ui.label(RichText::new(time).monospace());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset_with_files(files: &[&str]) -> PresetDisplay {
        PresetDisplay {
            source: "test".into(),
            name: "Test".into(),
            author: "Tester".into(),
            licence: "CC0".into(),
            description: String::new(),
            k: 4,
            segmentation: "0.5 s".into(),
            corpus_files: files.iter().map(|f| f.to_string()).collect(),
            corpus_seconds: 10.0,
            label_counts: vec![1, 1, 1, 1],
            character: None,
            notice: None,
        }
    }

    #[test]
    fn provenance_names_the_corpus_file_and_the_time_in_it() {
        let preset = preset_with_files(&["bass.wav", "keys.wav"]);
        let now = NowPlaying {
            file: 1,
            start_seconds: 75.5,
            label: 3,
        };
        assert_eq!(
            describe_now_playing(&now, Some(&preset)),
            ("keys.wav".to_string(), "01:15.5".to_string())
        );
    }

    #[test]
    fn provenance_without_the_file_list_still_says_which_file() {
        let now = NowPlaying {
            file: 7,
            start_seconds: 2.0,
            label: 0,
        };
        assert_eq!(describe_now_playing(&now, None).0, "corpus file #7");
    }

    #[test]
    fn loads_at_or_above_real_time_read_as_bad() {
        assert_eq!(load_colour(0.2), theme::GOOD);
        assert_eq!(load_colour(0.8), theme::WARN);
        assert_eq!(load_colour(1.0), theme::BAD);
        assert_eq!(load_colour(f32::NAN), theme::BAD);
    }
}
