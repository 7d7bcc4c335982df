//! All parameters, in four groups: Decision, Navigation (with the rests), Mix and Engine. Every change goes
//! through the host's parameter setter, so it is automatable and undoable.

use egui::{vec2, Align, Layout, Rect, Response, RichText, Sense, Stroke, StrokeKind, Ui};
use nice_plug::prelude::{BoolParam, Enum, EnumParam, Param, ParamSetter};
use nice_plug_egui::widgets::ParamSlider;

use super::{layout, theme};
use crate::{CounterpartParams, GuideSource, LookaheadMode};

/// Width of the parameter names' column.
const NAME_WIDTH: f32 = 76.0;
/// Room left for a slider's value text.
const VALUE_WIDTH: f32 = 64.0;
/// Height of one parameter row.
const ROW_HEIGHT: f32 = 22.0;

/// Draws the four groups side by side, filling `strip`.
pub fn show(ui: &mut Ui, params: &CounterpartParams, setter: &ParamSetter, strip: Rect) {
    let groups = layout::columns(strip, 4);
    layout::card_at(ui, groups[0], |ui| decision(ui, params, setter));
    layout::card_at(ui, groups[1], |ui| navigation(ui, params, setter));
    layout::card_at(ui, groups[2], |ui| mix(ui, params, setter));
    layout::card_at(ui, groups[3], |ui| engine(ui, params, setter));
}

/// The Decision group: sampling and the labels' constraints.
fn decision(ui: &mut Ui, params: &CounterpartParams, setter: &ParamSetter) {
    group(ui, "Decision", |ui| {
        slider_row(
            ui,
            &params.temperature,
            setter,
            "Sampling temperature τ (0: always the most likely label)",
        );
        slider_row(ui, &params.top_p, setter, "Nucleus sampling mass (1: off)");
        slider_row(
            ui,
            &params.freedom,
            setter,
            "0 follows the model; 1 samples from the corpus's own label statistics",
        );
        switch_pair_row(
            ui,
            setter,
            (
                "Constr.",
                &params.constrained,
                "Constrained: only sample labels the corpus has",
            ),
            (
                "Harmony",
                &params.follow_harmony,
                "Follow Harmony: among the corpus segments with the model's label, prefer one whose note is consonant with the guide's notes",
            ),
        );
    });
}

/// The Navigation group: how the corpus is walked, and following the guide's onsets and rests.
fn navigation(ui: &mut Ui, params: &CounterpartParams, setter: &ParamSetter) {
    group(ui, "Navigation", |ui| {
        slider_row(
            ui,
            &params.continuity,
            setter,
            "Probability of continuing with the next corpus segment when its label fits",
        );
        slider_row(
            ui,
            &params.crossfade_ms,
            setter,
            "Crossfade length at a jump between corpus segments",
        );
        switch_pair_row(
            ui,
            setter,
            (
                "Freeze",
                &params.freeze,
                "Stop following the guide and keep playing the current corpus run",
            ),
            (
                "Onsets",
                &params.follow_onsets,
                "Follow Onsets: start the companion's notes with the guide's (in Live mode, on its predicted beat, and answer a note heard inside a segment), and hold them in between",
            ),
        );
        rest_row(
            ui,
            params,
            setter,
            "Rest when the guide rests (after it has been silent for the hold), and come back with its next note",
        );
    });
}

/// The Mix group: levels and the guide's input.
fn mix(ui: &mut Ui, params: &CounterpartParams, setter: &ParamSetter) {
    group(ui, "Mix", |ui| {
        slider_row(
            ui,
            &params.dry_wet,
            setter,
            "Share of the companion track in the output",
        );
        slider_row(
            ui,
            &params.output_gain,
            setter,
            "Gain applied to the whole output",
        );
        choice_row(
            ui,
            &params.guide_source,
            setter,
            &[
                (GuideSource::Main, "Main"),
                (GuideSource::Sidechain, "Side"),
            ],
            "Where the guide track A comes from: the main input, or the sidechain input",
        );
    });
}

/// The Engine group: look-ahead, segment length, seed and the stopped transport.
fn engine(ui: &mut Ui, params: &CounterpartParams, setter: &ParamSetter) {
    group(ui, "Engine", |ui| {
        choice_row(
            ui,
            &params.lookahead,
            setter,
            &[(LookaheadMode::Live, "Live"), (LookaheadMode::Aligned, "Aligned")],
            "Live (L=0): no latency, B trails A. Aligned (L=1): B lines up with A; the plugin reports one segment of latency. Changing it rebuilds the engine.",
        );
        slider_row(
            ui,
            &params.segment,
            setter,
            "Segment length: the preset's own, or a note value at the host's tempo (re-cuts and re-labels the corpus with the preset's encoder, which takes a few seconds; the model stays the one trained at the preset's length)",
        );
        slider_row(
            ui,
            &params.seed,
            setter,
            "Seed of the sampler and the navigator (changing it restarts the engine)",
        );
        toggle_row_as(
            ui,
            "Stopped",
            &params.play_stopped,
            setter,
            "Play When Stopped: keep playing while the host's transport is stopped (for live use without a timeline)",
        );
    });
}

/// A group's title and its parameter rows, top-down.
fn group(ui: &mut Ui, title: &str, add_rows: impl FnOnce(&mut Ui)) {
    ui.vertical(|ui| {
        ui.spacing_mut().item_spacing.y = 4.0;
        theme::heading(ui, title);
        add_rows(ui);
    });
}

/// The parameter's name, left, in a fixed column; `help` shows on hover.
fn name_cell(ui: &mut Ui, name: &str, help: &str) {
    name_cell_of(ui, NAME_WIDTH, name, help);
}

/// [`name_cell`] `width` points wide.
fn name_cell_of(ui: &mut Ui, width: f32, name: &str, help: &str) {
    ui.allocate_ui_with_layout(
        vec2(width, ROW_HEIGHT),
        Layout::left_to_right(Align::Center),
        |ui| {
            ui.set_min_width(width);
            ui.label(theme::weak(name).size(12.5)).on_hover_text(help);
        },
    );
}

/// A parameter row with the host-aware slider (drag, shift-drag, double-click to reset, click
/// the value to type one).
fn slider_row<P: Param>(ui: &mut Ui, param: &P, setter: &ParamSetter, help: &str) {
    ui.horizontal(|ui| {
        ui.set_min_height(ROW_HEIGHT);
        name_cell(ui, param.name(), help);
        let width = (ui.available_width() - VALUE_WIDTH).max(24.0);
        ui.add(ParamSlider::for_param(param, setter).with_width(width))
            .on_hover_text(help);
    });
}

/// A parameter row with an on/off switch, under a shorter `label` than the parameter's name.
fn toggle_row_as(ui: &mut Ui, label: &str, param: &BoolParam, setter: &ParamSetter, help: &str) {
    ui.horizontal(|ui| {
        ui.set_min_height(ROW_HEIGHT);
        name_cell(ui, label, help);
        toggle(ui, param, setter, help);
        ui.label(if param.value() {
            RichText::new("On")
        } else {
            theme::weak("Off")
        });
    });
}

/// Two switches in one row, each after its short name.
fn switch_pair_row(
    ui: &mut Ui,
    setter: &ParamSetter,
    first: (&str, &BoolParam, &str),
    second: (&str, &BoolParam, &str),
) {
    ui.horizontal(|ui| {
        ui.set_min_height(ROW_HEIGHT);
        for (i, (label, param, help)) in [first, second].into_iter().enumerate() {
            if i > 0 {
                ui.add_space(12.0);
            }
            name_cell_of(ui, NAME_WIDTH / 2.0, label, help);
            toggle(ui, param, setter, help);
        }
    });
}

/// The rests in one row: the Follow Rests switch, then the Rest Hold slider.
fn rest_row(ui: &mut Ui, params: &CounterpartParams, setter: &ParamSetter, help: &str) {
    ui.horizontal(|ui| {
        ui.set_min_height(ROW_HEIGHT);
        // A short name: the switch and the slider share the row.
        name_cell_of(ui, NAME_WIDTH / 2.0, "Rests", help);
        toggle(ui, &params.follow_rests, setter, help);
        // Room for a value as wide as "4000 ms".
        let width = (ui.available_width() - VALUE_WIDTH - 12.0).max(24.0);
        ui.add_enabled(
            params.follow_rests.value(),
            ParamSlider::for_param(&params.rest_hold_ms, setter).with_width(width),
        )
        .on_hover_text("Rest Hold: how long the guide must be silent before the companion rests");
    });
}

/// The switch of a boolean parameter, through the host's setter.
fn toggle(ui: &mut Ui, param: &BoolParam, setter: &ParamSetter, help: &str) {
    let on = param.value();
    if switch(ui, on).on_hover_text(help).clicked() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, !on);
        setter.end_set_parameter(param);
    }
}

/// An on/off switch: a pill with a knob that slides to the right when on.
fn switch(ui: &mut Ui, on: bool) -> Response {
    let (rect, response) = ui.allocate_exact_size(vec2(30.0, 16.0), Sense::click());
    let position = ui.ctx().animate_bool_responsive(response.id, on);
    let track = if on {
        theme::ACCENT.gamma_multiply(0.8)
    } else {
        theme::TRACK
    };
    let painter = ui.painter();
    let radius = rect.height() / 2.0;
    painter.rect_filled(rect, radius, track);
    painter.rect_stroke(
        rect,
        radius,
        Stroke::new(1.0, theme::CARD_STROKE),
        StrokeKind::Inside,
    );
    let x = egui::lerp((rect.left() + radius)..=(rect.right() - radius), position);
    let knob = if response.hovered() {
        theme::TEXT
    } else {
        theme::TEXT.gamma_multiply(0.85)
    };
    painter.circle_filled(egui::pos2(x, rect.center().y), radius - 3.0, knob);
    response
}

/// A parameter row with one button per choice; `choices` pairs each value with a short name.
fn choice_row<T: Enum + PartialEq + Copy + 'static>(
    ui: &mut Ui,
    param: &EnumParam<T>,
    setter: &ParamSetter,
    choices: &[(T, &str)],
    help: &str,
) {
    ui.horizontal(|ui| {
        ui.set_min_height(ROW_HEIGHT);
        name_cell(ui, param.name(), help);
        ui.spacing_mut().item_spacing.x = 2.0;
        let current = param.value();
        for &(value, name) in choices {
            let selected = current == value;
            let (fill, text) = if selected {
                (
                    theme::ACCENT.gamma_multiply(0.75),
                    RichText::new(name).strong(),
                )
            } else {
                (theme::TRACK, RichText::new(name).color(theme::WEAK_TEXT))
            };
            let button = egui::Button::new(text)
                .fill(fill)
                .stroke(Stroke::new(1.0, theme::CARD_STROKE))
                .min_size(vec2(0.0, 18.0));
            if ui.add(button).on_hover_text(help).clicked() && !selected {
                setter.begin_set_parameter(param);
                setter.set_parameter(param, value);
                setter.end_set_parameter(param);
            }
        }
    });
}
