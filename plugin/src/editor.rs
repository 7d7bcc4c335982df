//! The egui editor. Everything here runs on the GUI thread.

use crate::CounterpartParams;
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::Editor;
use nice_plug_egui::{
    create_egui_editor, widgets, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
};
use std::sync::Arc;

/// The editor's state: its GUI context, once the window is built.
pub struct CounterpartUi {
    params: Arc<CounterpartParams>,
    gui: Option<Arc<dyn GuiContext>>,
}

impl NiceEguiApp for CounterpartUi {
    fn build(
        &mut self,
        _ctx: egui::Context,
        gui: Arc<dyn GuiContext>,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::HandlerError> {
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui) = &self.gui else { return };
        let setter = nice_plug::prelude::ParamSetter::new(gui.as_ref());
        ui.heading("Counterpart");
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
pub fn create(params: Arc<CounterpartParams>) -> Option<Box<dyn Editor>> {
    create_egui_editor(
        EguiEditorState::from_size(nice_plug::editor::dpi::LogicalSize::new(420.0, 240.0), 1.0),
        RepaintNotifier::new(),
        EguiNiceSettings::new().with_tile("Counterpart"),
        CounterpartUi { params, gui: None },
    )
}
