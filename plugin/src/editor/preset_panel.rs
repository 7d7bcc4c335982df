//! The preset: what is loaded, the engine's status, and choosing another preset file through a
//! file dialog drawn inside the editor's own window.

use std::path::{Path, PathBuf};

use egui::{Align2, RichText, ScrollArea, Ui};
use egui_file::FileDialog;

use super::{format, theme};
use crate::shared::{EngineStatus, PresetInfo, SharedState};
use crate::CounterpartParams;

/// The preset files' extension.
const PRESET_EXTENSION: &str = "cpreset";

/// Whether `path` names a preset file (by its extension, in any case).
pub fn is_preset_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case(PRESET_EXTENSION))
}

/// The status as a short badge: its text and colour.
pub fn status_badge(status: &EngineStatus) -> (&'static str, egui::Color32) {
    match status {
        EngineStatus::Idle => ("Idle", theme::WEAK_TEXT),
        EngineStatus::Loading(_) => ("Loading…", theme::WARN),
        EngineStatus::Running => ("Running", theme::GOOD),
        EngineStatus::Failed(_) => ("Failed: dry audio", theme::BAD),
    }
}

/// The preset section and its file dialog (GUI thread).
#[derive(Default)]
pub struct PresetPanel {
    dialog: Option<FileDialog>,
}

impl PresetPanel {
    /// Draws the section: preset information, status, and the load buttons.
    pub fn show(
        &mut self,
        ui: &mut Ui,
        params: &CounterpartParams,
        shared: &SharedState,
        status: &EngineStatus,
    ) {
        let preset = shared.preset();
        ui.horizontal(|ui| {
            theme::heading(ui, "Preset");
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button("Default")
                    .on_hover_text("Play the preset built into the plugin")
                    .clicked()
                {
                    params.set_preset_path(None);
                    shared.request_reload();
                }
                if ui
                    .button("Load preset…")
                    .on_hover_text("Choose a .cpreset file")
                    .clicked()
                {
                    self.open_dialog(params.preset_path());
                }
            });
        });
        ScrollArea::vertical()
            .id_salt("preset-body")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                show_status(ui, status, shared.telemetry().is_some());
                match &preset {
                    Some(info) => {
                        if matches!(status, EngineStatus::Failed(_)) {
                            ui.label(theme::weak("Last loaded (not playing):").size(11.0));
                        }
                        show_info(ui, info)
                    }
                    None => {
                        ui.label(theme::weak("No preset loaded."));
                    }
                }
            });
    }

    /// Draws the file dialog while it is open, and loads the chosen file (once per frame).
    pub fn show_dialog(
        &mut self,
        ctx: &egui::Context,
        params: &CounterpartParams,
        shared: &SharedState,
    ) {
        let Some(dialog) = &mut self.dialog else {
            return;
        };
        if dialog.show(ctx).selected() {
            if let Some(path) = dialog.path() {
                params.set_preset_path(Some(path.to_path_buf()));
                shared.request_reload();
            }
        }
        if !dialog.visible() {
            self.dialog = None;
        }
    }

    fn open_dialog(&mut self, current: Option<PathBuf>) {
        let filter = Box::new(|path: &Path| is_preset_file(path));
        let mut dialog = FileDialog::open_file()
            .title("Load a Counterpart preset")
            .show_files_filter(filter)
            .show_new_folder(false)
            .show_rename(false)
            .anchor(Align2::CENTER_CENTER, [0.0, 0.0])
            .default_size([620.0, 400.0])
            .keep_on_top(true);
        if let Some(folder) = current.as_deref().and_then(Path::parent) {
            dialog = dialog.initial_path(folder);
        }
        dialog.open();
        self.dialog = Some(dialog);
    }
}

fn show_info(ui: &mut Ui, info: &PresetInfo) {
    ui.label(RichText::new(&info.name).size(17.0).strong());
    ui.label(theme::weak(format!("by {}", info.author)));
    ui.add_space(2.0);
    egui::Grid::new("preset-facts")
        .num_columns(2)
        .spacing([12.0, 3.0])
        .show(ui, |ui| {
            for (name, value) in [
                ("Labels (K)", info.k.to_string()),
                ("Segments", info.segmentation.clone()),
                (
                    "Corpus",
                    format!(
                        "{} in {} file{}",
                        format::duration(info.corpus_seconds),
                        info.corpus_files.len(),
                        if info.corpus_files.len() == 1 {
                            ""
                        } else {
                            "s"
                        }
                    ),
                ),
                ("Licence", info.licence.clone()),
            ] {
                ui.label(theme::weak(name));
                ui.label(value);
                ui.end_row();
            }
        });
    if !info.description.is_empty() {
        ui.add_space(4.0);
        ui.label(RichText::new(&info.description).size(12.5));
    }
    ui.add_space(2.0);
    ui.label(theme::weak(&info.source).size(10.5))
        .on_hover_text("Where this preset was read from");
}

/// Draws a loading or failure notice; `engine_running` tells whether an engine still plays
/// (the previous preset's, during a reload).
fn show_status(ui: &mut Ui, status: &EngineStatus, engine_running: bool) {
    let (badge, colour) = status_badge(status);
    match status {
        EngineStatus::Failed(message) => {
            ui.label(RichText::new(badge).strong().color(colour));
            ui.label(RichText::new(message).color(colour));
            ui.label(theme::weak(
                "The plugin passes the dry signal through until a preset loads.",
            ));
            ui.separator();
        }
        EngineStatus::Loading(what) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(RichText::new(badge).strong().color(colour));
            });
            ui.label(RichText::new(what).color(colour));
            ui.label(theme::weak(loading_note(engine_running)));
            ui.separator();
        }
        EngineStatus::Running | EngineStatus::Idle => {}
    }
}

/// What plays while a preset loads.
fn loading_note(engine_running: bool) -> &'static str {
    if engine_running {
        "The current preset plays until the new one is ready."
    } else {
        "Dry audio passes through meanwhile."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_preset_files_pass_the_dialog_filter() {
        assert!(is_preset_file(Path::new("/presets/duo.cpreset")));
        assert!(is_preset_file(Path::new("DUO.CPRESET")));
        assert!(!is_preset_file(Path::new("/presets/duo.wav")));
        assert!(!is_preset_file(Path::new("/presets/cpreset")));
    }

    #[test]
    fn failures_say_that_dry_audio_passes() {
        let (text, colour) = status_badge(&EngineStatus::Failed("no such file".into()));
        assert!(text.contains("dry"));
        assert_eq!(colour, theme::BAD);
        assert_eq!(status_badge(&EngineStatus::Running).1, theme::GOOD);
    }
}
