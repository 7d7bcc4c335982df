//! The egui editor. Everything here runs on the GUI thread: each frame it polls the shared state
//! and the engine's lock-free telemetry, and draws
//!
//! * the preset and the engine's status, with a file dialog to load another preset
//!   ([`preset_panel`]);
//! * the guide's input level ([`level_meter`]);
//! * the running token timeline, A above B ([`timeline`]), and the current label distribution
//!   ([`distribution`]);
//! * the worker's load, its counters and the provenance of the segment playing now
//!   ([`engine_panel`]);
//! * all parameters ([`controls`]).

mod controls;
mod distribution;
mod engine_panel;
mod format;
mod layout;
mod level_meter;
mod preset_menu;
mod preset_panel;
mod theme;
mod timeline;

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{pos2, vec2, Align, FontId, Layout, Rect, RichText, Sense, Ui};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::ResizeHint;
use nice_plug_egui::resizable_window::ResizableWindow;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
};

use crate::shared::{EngineStatus, SharedState};
use crate::CounterpartParams;
use layout::{card_at, in_rect, split_top};
use level_meter::LevelMeter;
use preset_panel::PresetPanel;
use timeline::{Step, TokenTimeline, SHOWN_DECISIONS};

/// The editor's size when it first opens, in logical points.
pub const DEFAULT_SIZE: (f32, f32) = (900.0, 600.0);
/// The smallest size the layout fits in.
const MIN_SIZE: (f32, f32) = (880.0, 580.0);
/// How often the editor redraws to follow the engine (about 30 frames per second).
const FRAME_INTERVAL: Duration = Duration::from_millis(33);

/// Margin around the whole editor.
const MARGIN: f32 = 12.0;
/// Height of the title bar.
const HEADER_HEIGHT: f32 = 34.0;
/// Room the title bar needs after the title to show the subtitle as well.
const SUBTITLE_ROOM: f32 = 680.0;
/// Height of the parameter strip.
const CONTROLS_HEIGHT: f32 = 150.0;
/// Height of the engine statistics card.
const STATS_HEIGHT: f32 = 124.0;
/// Height of the token timeline card.
const TIMELINE_HEIGHT: f32 = 118.0;
/// Height of the "now playing" card.
const NOW_PLAYING_HEIGHT: f32 = 42.0;

/// The editor's state (GUI thread).
pub struct CounterpartUi {
    params: Arc<CounterpartParams>,
    shared: Arc<SharedState>,
    gui: Option<GuiContext>,
    meter: LevelMeter,
    timeline: TokenTimeline,
    /// The label distribution shown, and a buffer to copy the next one into.
    distribution: Vec<f32>,
    distribution_scratch: Vec<f32>,
    preset_panel: PresetPanel,
    last_frame: Option<Instant>,
}

impl CounterpartUi {
    fn new(params: Arc<CounterpartParams>, shared: Arc<SharedState>) -> Self {
        Self {
            params,
            shared,
            gui: None,
            meter: LevelMeter::default(),
            timeline: TokenTimeline::new(SHOWN_DECISIONS),
            distribution: Vec::new(),
            distribution_scratch: Vec::new(),
            preset_panel: PresetPanel::default(),
            last_frame: None,
        }
    }

    /// Reads the input level and the engine's telemetry for this frame.
    fn poll(&mut self) {
        let now = Instant::now();
        let dt = self
            .last_frame
            .map_or(0.0, |last| now.duration_since(last).as_secs_f32());
        self.last_frame = Some(now);
        self.meter.update(self.shared.take_input_peak(), dt);
        match self.shared.telemetry() {
            Some(telemetry) => {
                self.timeline.observe(
                    telemetry.decisions(),
                    Step {
                        a: telemetry.token_a(),
                        b: telemetry.token_b(),
                    },
                );
                // A torn copy keeps the previous distribution on screen.
                if telemetry.distribution(&mut self.distribution_scratch) {
                    std::mem::swap(&mut self.distribution, &mut self.distribution_scratch);
                }
            }
            None => {
                self.timeline.clear();
                self.distribution.clear();
            }
        }
    }

    /// Lays out and draws the whole editor inside `area`.
    fn draw(&mut self, ui: &mut Ui, gui: &GuiContext, area: Rect) {
        let status = self.shared.status();
        let telemetry = self.shared.telemetry();
        let preset = self.shared.preset();

        let header = Rect::from_min_size(area.min, vec2(area.width(), HEADER_HEIGHT));
        in_rect(ui, header, |ui| self.header(ui, &status));

        let controls_rect =
            Rect::from_min_max(pos2(area.left(), area.bottom() - CONTROLS_HEIGHT), area.max);
        let middle = Rect::from_min_max(
            pos2(area.left(), header.bottom() + theme::GAP),
            pos2(area.right(), controls_rect.top() - theme::GAP),
        );
        let left_width = (middle.width() * 0.34).clamp(270.0, 380.0);
        let left = Rect::from_min_size(middle.min, vec2(left_width, middle.height()));
        let right = Rect::from_min_max(pos2(left.right() + theme::GAP, middle.top()), middle.max);

        let (preset_rect, stats_rect) = split_top(left, left.height() - STATS_HEIGHT - theme::GAP);
        card_at(ui, preset_rect, |ui| {
            self.preset_panel
                .show(ui, &self.params, &self.shared, &status)
        });
        card_at(ui, stats_rect, |ui| {
            engine_panel::show_stats(ui, telemetry.as_deref(), self.shared.host_sample_rate())
        });

        let (timeline_rect, rest) = split_top(right, TIMELINE_HEIGHT);
        let (distribution_rect, now_rect) =
            split_top(rest, rest.height() - NOW_PLAYING_HEIGHT - theme::GAP);
        card_at(ui, timeline_rect, |ui| {
            ui.horizontal(|ui| {
                theme::heading(ui, "Token timeline");
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    let decisions = telemetry.as_ref().map_or(0, |t| t.decisions());
                    ui.label(theme::weak(format!("{decisions} decisions")).size(11.0));
                });
            });
            self.timeline.show(ui, ui.available_height());
        });
        card_at(ui, distribution_rect, |ui| {
            let played = telemetry.as_ref().and_then(|t| t.token_b());
            ui.horizontal(|ui| {
                theme::heading(ui, "Label distribution");
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    if let (Some(label), Some(p)) = (
                        played,
                        played.and_then(|label| self.distribution.get(label as usize)),
                    ) {
                        let sampled = telemetry
                            .as_ref()
                            .and_then(|t| t.sampled_label())
                            .map_or_else(String::new, |s| format!("sampled: label {s} · "));
                        ui.label(
                            theme::weak(format!("{sampled}played: label {label}, p = {p:.2}"))
                                .size(11.0),
                        )
                        .on_hover_text(
                            "The label of the segment playing: the navigator may keep a \
                                 corpus run going, or pick the nearest label the corpus has, \
                                 instead of the label sampled from this distribution",
                        );
                        ui.add_space(theme::GAP);
                    }
                    if !self.distribution.is_empty()
                        && preset.as_ref().is_some_and(|p| p.label_counts.contains(&0))
                    {
                        distribution::absent_legend(ui);
                    }
                });
            });
            let counts = preset.as_ref().map_or(&[][..], |p| &p.label_counts[..]);
            distribution::show(
                ui,
                ui.available_height(),
                &self.distribution,
                played,
                counts,
            );
        });
        card_at(ui, now_rect, |ui| {
            engine_panel::show_now_playing(ui, telemetry.as_deref(), preset.as_deref())
        });

        let setter = gui.param_setter();
        controls::show(ui, &self.params, &setter, controls_rect);
    }

    /// The title bar: the plugin's name, the guide's level and the engine's status.
    fn header(&self, ui: &mut Ui, status: &EngineStatus) {
        ui.horizontal_centered(|ui| {
            ui.label(
                RichText::new("COUNTERPART")
                    .size(20.0)
                    .strong()
                    .color(theme::TEXT),
            );
            if ui.available_width() > SUBTITLE_ROOM {
                ui.label(theme::weak("companion track from a recorded corpus"));
            }
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                status_badge(ui, status);
                ui.add_space(2.0 * theme::GAP);
                ui.allocate_ui_with_layout(
                    vec2(300.0, HEADER_HEIGHT),
                    Layout::left_to_right(Align::Center),
                    |ui| self.meter.show(ui, 150.0),
                );
            });
        });
    }
}

/// Draws the status as a coloured pill.
fn status_badge(ui: &mut Ui, status: &EngineStatus) {
    let (text, colour) = preset_panel::status_badge(status);
    let font = FontId::proportional(12.5);
    let galley = ui.painter().layout_no_wrap(text.into(), font, colour);
    let size = vec2(galley.size().x + 30.0, 22.0);
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter();
    painter.rect_filled(rect, 11.0, colour.gamma_multiply(0.16));
    painter.circle_filled(pos2(rect.left() + 12.0, rect.center().y), 4.0, colour);
    painter.galley(
        pos2(rect.left() + 22.0, rect.center().y - galley.size().y / 2.0),
        galley,
        colour,
    );
    if let EngineStatus::Failed(message) | EngineStatus::Loading(message) = status {
        response.on_hover_text(message);
    }
}

impl NiceEguiApp for CounterpartUi {
    fn build(
        &mut self,
        ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        theme::apply(&ctx);
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui) = self.gui.clone() else { return };
        ui.ctx().request_repaint_after(FRAME_INTERVAL);
        self.poll();
        ResizableWindow::new("counterpart-editor")
            .min_size(vec2(MIN_SIZE.0, MIN_SIZE.1))
            .show(ui, |ui| {
                let area = ui.max_rect().shrink(MARGIN);
                self.draw(ui, &gui, area);
            });
        let ctx = ui.ctx().clone();
        self.preset_panel
            .show_dialog(&ctx, &self.params, &self.shared);
    }

    fn editor_closed(&mut self) {
        self.last_frame = None;
    }

    fn resized(&mut self, size: nice_plug_egui::baseview::WindowSize) {
        let (w, h) = (size.logical.width as f32, size.logical.height as f32);
        if let Ok(mut saved) = self.params.editor_size.lock() {
            *saved = (w, h);
        }
    }
}

/// The size the editor opens at: the saved one, or the default when it is missing or smaller
/// than the layout fits in.
fn opening_size(saved: (f32, f32)) -> (f32, f32) {
    let fits = |x: f32, min: f32| x.is_finite() && x >= min && x <= 16_384.0;
    if fits(saved.0, MIN_SIZE.0) && fits(saved.1, MIN_SIZE.1) {
        saved
    } else {
        DEFAULT_SIZE
    }
}

/// Creates the editor for a plugin instance: resizable, at the size saved in the plugin state
/// (900 × 600 points at first).
pub fn create(
    params: Arc<CounterpartParams>,
    shared: Arc<SharedState>,
) -> Option<EguiEditor<CounterpartUi>> {
    let min_size = LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1);
    let saved = params.editor_size.lock().map_or(DEFAULT_SIZE, |size| *size);
    let (w, h) = opening_size(saved);
    create_egui_editor(
        EguiEditorState::from_size(LogicalSize::new(w, h), 1.0),
        RepaintNotifier::new(),
        EguiNiceSettings::new()
            .with_tile("Counterpart")
            .with_resize_hint(ResizeHint::resizable().with_min_logical_size(min_size)),
        CounterpartUi::new(params, shared),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nice_plug::prelude::Params;

    #[test]
    fn the_editor_size_is_saved_with_the_plugin_state() {
        let params = CounterpartParams::default();
        *params.editor_size.lock().unwrap() = (1280.0, 800.0);
        let fields = params.serialize_fields();
        let restored = CounterpartParams::default();
        assert_eq!(*restored.editor_size.lock().unwrap(), DEFAULT_SIZE);
        restored.deserialize_fields(&fields);
        assert_eq!(*restored.editor_size.lock().unwrap(), (1280.0, 800.0));
    }

    #[test]
    fn a_saved_size_too_small_or_broken_opens_at_the_default() {
        assert_eq!(opening_size((1280.0, 800.0)), (1280.0, 800.0));
        assert_eq!(opening_size((400.0, 800.0)), DEFAULT_SIZE);
        assert_eq!(opening_size((f32::NAN, 800.0)), DEFAULT_SIZE);
        assert_eq!(opening_size((1e9, 800.0)), DEFAULT_SIZE);
    }
}
