//! The egui editor. Everything here runs on the GUI thread.

use crate::shared::SharedState;
use crate::CounterpartParams;
use nice_plug::context::gui::GuiContext;
use nice_plug_egui::{
    create_egui_editor, widgets, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp,
    RepaintNotifier,
};
use std::sync::Arc;

/// The editor's state: its GUI context, once the window is built.
pub struct CounterpartUi {
    params: Arc<CounterpartParams>,
    shared: Arc<SharedState>,
    gui: Option<GuiContext>,
}

impl NiceEguiApp for CounterpartUi {
    fn build(
        &mut self,
        _ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui) = &self.gui else { return };
        let setter = gui.param_setter();
        ui.heading("Counterpart");
        ui.label(format!("{:?}", self.shared.status()));
        if let Some(preset) = self.shared.preset() {
            ui.label(format!("Preset: {}", preset.name));
        }
        ui.label(format!("Guide peak: {:.3}", self.shared.take_input_peak()));
        if let Some(telemetry) = self.shared.telemetry() {
            ui.label(format!(
                "Decisions: {} (late: {})",
                telemetry.decisions(),
                telemetry.late_decisions()
            ));
        }
        if ui.button("Reload preset").clicked() {
            self.shared.request_reload();
        }
        ui.label("Dry/Wet");
        ui.add(widgets::ParamSlider::for_param(
            &self.params.dry_wet,
            &setter,
        ));
        ui.label("Output Gain");
        ui.add(widgets::ParamSlider::for_param(
            &self.params.output_gain,
            &setter,
        ));
    }
}

/// Creates the editor for a plugin instance.
pub fn create(
    params: Arc<CounterpartParams>,
    shared: Arc<SharedState>,
) -> Option<EguiEditor<CounterpartUi>> {
    create_egui_editor(
        EguiEditorState::from_size(nice_plug::editor::dpi::LogicalSize::new(420.0, 240.0), 1.0),
        RepaintNotifier::new(),
        EguiNiceSettings::new().with_tile("Counterpart"),
        CounterpartUi {
            params,
            shared,
            gui: None,
        },
    )
}
