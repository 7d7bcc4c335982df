//! The preset: what is loaded, the engine's status, choosing another preset file, playing the
//! user's own recordings with the preset's model, and saving them as a preset. The file dialogs
//! are drawn inside the editor's own window; saving runs on a thread of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use counterpart_core::audio_file::has_audio_extension;
use counterpart_core::preset::Preset;
use crossbeam_channel::{Receiver, TryRecvError};
use egui::{Align2, RichText, ScrollArea, Ui};
use egui_file::FileDialog;

use super::preset_menu::PresetMenu;
use super::{format, theme};
use crate::shared::{EngineStatus, Notice, PresetDisplay, SharedState};
use crate::CounterpartParams;

/// The preset files' extension.
const PRESET_EXTENSION: &str = "cpreset";

/// Whether `path` names a preset file (by its extension, in any case).
pub fn is_preset_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case(PRESET_EXTENSION))
}

/// `path` with the preset extension, added when it has another or none.
fn with_preset_extension(path: &Path) -> PathBuf {
    if is_preset_file(path) {
        path.to_owned()
    } else {
        let mut name = path.as_os_str().to_owned();
        name.push(".");
        name.push(PRESET_EXTENSION);
        PathBuf::from(name)
    }
}

/// A preset file name from a preset's name: characters that cannot be in a file name become
/// `-`.
fn file_name(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '-',
            c if c.is_control() => '-',
            c => c,
        })
        .collect();
    format!("{}.{PRESET_EXTENSION}", stem.trim())
}

/// What the open file dialog is for.
enum Choosing {
    /// A preset file to load.
    Preset,
    /// Recordings (files or folders) to play with the preset's model.
    Recordings,
    /// Where to save the preset made of the user's recordings.
    SaveAs(Arc<Preset>),
}

/// A save under way on its own thread.
struct Saving {
    path: PathBuf,
    result: Receiver<Result<(), String>>,
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

/// The preset section and its file dialogs (GUI thread).
#[derive(Default)]
pub struct PresetPanel {
    menu: PresetMenu,
    dialog: Option<(Choosing, FileDialog)>,
    saving: Option<Saving>,
    /// How the last save went: what to say, and whether it failed.
    saved: Option<(String, bool)>,
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
                    .button("Open…")
                    .on_hover_text("Choose any .cpreset file")
                    .clicked()
                {
                    self.open_preset_dialog(params.preset_path());
                }
            });
        });
        self.menu.show(ui, params, shared);
        self.recordings_row(ui, params, shared);
        if shared.restart_pending() {
            show_notice(
                ui,
                &Notice {
                    text: "The new Look-ahead, Segment, preset or tempo changes the latency: it \
                           applies when the host restarts the plugin (most do at once, some \
                           when the transport stops). Until then Counterpart plays as before."
                        .into(),
                    warning: true,
                },
            );
        }
        let ignored = params
            .ignored_on_load
            .lock()
            .map(|i| i.clone())
            .unwrap_or_default();
        if !ignored.is_empty() {
            show_notice(
                ui,
                &Notice {
                    text: format!(
                        "The project was saved by a newer Counterpart; left out: {}",
                        ignored.join(", ")
                    ),
                    warning: true,
                },
            );
        }
        ScrollArea::vertical()
            .id_salt("preset-body")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                show_status(
                    ui,
                    status,
                    shared.telemetry().is_some(),
                    shared.load_progress().fraction(),
                );
                self.show_saving(ui);
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

    /// The user's recordings: choosing them, going back to the preset's own corpus, and
    /// saving them as a preset.
    fn recordings_row(&mut self, ui: &mut Ui, params: &CounterpartParams, shared: &SharedState) {
        let recordings = params.recordings();
        ui.horizontal(|ui| {
            if ui
                .button("Use my recordings…")
                .on_hover_text(
                    "Play your own audio files (WAV, FLAC, Ogg, MP3) or folders of them with \
                     this preset's model: they are labelled with its encoder, no training \
                     needed. Select several with Ctrl or Shift.",
                )
                .clicked()
            {
                self.open_recordings_dialog(recordings.first().cloned());
            }
            if !recordings.is_empty() {
                if ui
                    .button("Preset's corpus")
                    .on_hover_text("Play the preset's own recordings again")
                    .clicked()
                {
                    params.set_recordings(Vec::new());
                }
                let recorded = shared.recorded();
                let idle = self.saving.is_none();
                if ui
                    .add_enabled(
                        recorded.is_some() && idle,
                        egui::Button::new("Save as preset…"),
                    )
                    .on_hover_text("Write the preset with your recordings as a .cpreset file")
                    .on_disabled_hover_text("Available once your recordings play")
                    .clicked()
                {
                    if let Some(preset) = recorded {
                        self.open_save_dialog(preset, params.preset_path());
                    }
                }
            }
        });
    }

    /// Says how a save under way or the last one went.
    fn show_saving(&mut self, ui: &mut Ui) {
        if let Some(saving) = &self.saving {
            let done = match saving.result.try_recv() {
                Ok(result) => Some(result),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => Some(Err("the save stopped".into())),
            };
            match done {
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!("Saving {}…", saving.path.display()));
                    });
                }
                Some(result) => {
                    self.saved = Some(match result {
                        Ok(()) => (format!("Saved {}", saving.path.display()), false),
                        Err(e) => (format!("Cannot save {}: {e}", saving.path.display()), true),
                    });
                    self.saving = None;
                }
            }
        }
        if let Some((text, failed)) = &self.saved {
            let colour = if *failed { theme::BAD } else { theme::GOOD };
            ui.label(RichText::new(text).color(colour).size(11.5));
        }
    }

    /// Draws the file dialog while it is open, and acts on the choice (once per frame).
    pub fn show_dialog(
        &mut self,
        ctx: &egui::Context,
        params: &CounterpartParams,
        shared: &SharedState,
    ) {
        let Some((choosing, dialog)) = &mut self.dialog else {
            return;
        };
        if dialog.show(ctx).selected() {
            match choosing {
                Choosing::Preset => {
                    if let Some(path) = dialog.path() {
                        params.set_preset_path(Some(path.to_path_buf()));
                        shared.request_reload();
                    }
                }
                Choosing::Recordings => {
                    let mut paths: Vec<PathBuf> = dialog
                        .selection()
                        .into_iter()
                        .map(Path::to_path_buf)
                        .collect();
                    if paths.is_empty() {
                        paths.extend(dialog.path().map(Path::to_path_buf));
                    }
                    if !paths.is_empty() {
                        params.set_recordings(paths);
                    }
                }
                Choosing::SaveAs(preset) => {
                    if let Some(path) = dialog.path() {
                        let (preset, path) = (Arc::clone(preset), with_preset_extension(path));
                        self.saving = save(preset, path);
                        self.saved = None;
                    }
                }
            }
        }
        if !dialog.visible() {
            self.dialog = None;
        }
    }

    fn open_preset_dialog(&mut self, current: Option<PathBuf>) {
        let filter = Box::new(|path: &Path| is_preset_file(path));
        let dialog = FileDialog::open_file()
            .title("Load a Counterpart preset")
            .show_files_filter(filter);
        self.open(Choosing::Preset, dialog, current);
    }

    fn open_recordings_dialog(&mut self, current: Option<PathBuf>) {
        let filter = Box::new(|path: &Path| has_audio_extension(path));
        let dialog = FileDialog::open_file()
            .title("Use my recordings: select audio files or folders")
            .multi_select(true)
            .show_files_filter(filter);
        self.open(Choosing::Recordings, dialog, current);
    }

    fn open_save_dialog(&mut self, preset: Arc<Preset>, current: Option<PathBuf>) {
        let dialog = FileDialog::save_file()
            .title("Save the preset with your recordings")
            .default_filename(file_name(&preset.info.name));
        self.open(Choosing::SaveAs(preset), dialog, current);
    }

    /// Opens `dialog` in the folder of `current`, for `choosing`.
    fn open(&mut self, choosing: Choosing, dialog: FileDialog, current: Option<PathBuf>) {
        let mut dialog = dialog
            .show_new_folder(matches!(choosing, Choosing::SaveAs(_)))
            .show_rename(false)
            .anchor(Align2::CENTER_CENTER, [0.0, 0.0])
            .default_size([620.0, 400.0])
            .keep_on_top(true);
        if let Some(folder) = current.as_deref().and_then(Path::parent) {
            dialog = dialog.initial_path(folder);
        }
        dialog.open();
        self.dialog = Some((choosing, dialog));
    }
}

/// Writes `preset` to `path` on a thread of its own (encoding the corpus takes a moment).
fn save(preset: Arc<Preset>, path: PathBuf) -> Option<Saving> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let target = path.clone();
    let started = std::thread::Builder::new()
        .name("counterpart-save".into())
        .spawn(move || {
            let _ = tx.send(preset.save(&target).map_err(|e| e.to_string()));
        });
    match started {
        Ok(_) => Some(Saving { path, result: rx }),
        Err(e) => {
            nice_plug::nice_error!("cannot start saving {}: {e}", path.display());
            None
        }
    }
}

fn show_info(ui: &mut Ui, info: &PresetDisplay) {
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
    if let Some(character) = &info.character {
        ui.add_space(2.0);
        ui.label(theme::weak(character).size(11.5))
            .on_hover_text("How the companion moved against the guide in the pairs it learnt from");
    }
    if let Some(notice) = &info.notice {
        ui.add_space(4.0);
        show_notice(ui, notice);
    }
    if !info.description.is_empty() {
        ui.add_space(4.0);
        ui.label(RichText::new(&info.description).size(12.5));
    }
    ui.add_space(2.0);
    ui.label(theme::weak(&info.source).size(10.5))
        .on_hover_text("Where this preset was read from");
}

/// A note on the user's recordings: their coverage of the model's labels, those left out.
fn show_notice(ui: &mut Ui, notice: &Notice) {
    let colour = if notice.warning {
        theme::WARN
    } else {
        theme::TEXT
    };
    ui.label(RichText::new(&notice.text).color(colour).size(12.0));
}

/// Draws a loading or failure notice; `engine_running` tells whether an engine still plays
/// (the previous preset's, during a reload), `progress` how far the load has got, if known.
fn show_status(ui: &mut Ui, status: &EngineStatus, engine_running: bool, progress: Option<f32>) {
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
            if let Some(fraction) = progress {
                ui.add(egui::ProgressBar::new(fraction).show_percentage());
            }
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
    fn a_saved_preset_gets_the_preset_extension() {
        let saved = |name: &str| with_preset_extension(Path::new(name));
        assert_eq!(saved("/p/my bass"), Path::new("/p/my bass.cpreset"));
        assert_eq!(saved("/p/mine.CPRESET"), Path::new("/p/mine.CPRESET"));
        assert_eq!(saved("/p/take.wav"), Path::new("/p/take.wav.cpreset"));
    }

    #[test]
    fn a_presets_name_makes_a_file_name() {
        assert_eq!(
            file_name("Chorale Bass, with my recordings"),
            "Chorale Bass, with my recordings.cpreset"
        );
        assert_eq!(file_name("AC/DC: bass?"), "AC-DC- bass-.cpreset");
    }

    #[test]
    fn failures_say_that_dry_audio_passes() {
        let (text, colour) = status_badge(&EngineStatus::Failed("no such file".into()));
        assert!(text.contains("dry"));
        assert_eq!(colour, theme::BAD);
        assert_eq!(status_badge(&EngineStatus::Running).1, theme::GOOD);
    }
}
