//! The preset menu: the factory presets (the embedded default first) and the user's presets, each
//! with its name, relation and corpus length, its description as hover text. Choosing one sets
//! the preset path parameter, which the project saves.
//!
//! Thread ownership: GUI thread only. The list is read from the presets' headers (a few
//! kilobytes each), cached, and read again when the menu opens, at most once per second.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use counterpart_core::preset::library::{LibraryEntry, PresetLibrary, PresetOrigin};
use egui::{RichText, Ui};

use super::{format, theme};
use crate::preset_source::PresetSource;
use crate::shared::SharedState;
use crate::CounterpartParams;

/// How often the list may be read again while the menu opens.
const REFRESH: Duration = Duration::from_secs(1);

/// The cached preset list (GUI thread).
#[derive(Default)]
pub struct PresetMenu {
    library: PresetLibrary,
    scanned: Option<Instant>,
}

/// What choosing a row asks for: the preset path parameter's new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The embedded default (no path).
    Default,
    /// A preset file.
    File(PathBuf),
}

impl PresetMenu {
    /// Reads the library again unless it was read less than a second before `now`.
    pub fn refresh(&mut self, now: Instant) {
        if self
            .scanned
            .is_some_and(|at| now.duration_since(at) < REFRESH)
        {
            return;
        }
        self.library = PresetLibrary::platform(Some(PresetSource::default_bytes()));
        self.scanned = Some(now);
    }

    /// Draws the menu button; a choice sets the preset path parameter and reloads.
    pub fn show(&mut self, ui: &mut Ui, params: &CounterpartParams, shared: &SharedState) {
        let current = params.preset_path();
        let response = egui::ComboBox::from_id_salt("preset-menu")
            .selected_text(self.current_name(current.as_deref()))
            .width(ui.available_width())
            .height(360.0)
            .show_ui(ui, |ui| {
                self.refresh(Instant::now());
                self.rows(ui, current.as_deref())
            });
        if let Some(choice) = response.inner.flatten() {
            params.set_preset_path(match choice {
                Choice::Default => None,
                Choice::File(path) => Some(path),
            });
            shared.request_reload();
        }
    }

    /// The name shown on the button: the chosen preset's, else its file name.
    fn current_name(&mut self, current: Option<&Path>) -> String {
        if self.scanned.is_none() {
            self.refresh(Instant::now());
        }
        let entry =
            self.library.entries.iter().find(|e| {
                e.path.as_deref() == current && current.is_some() || is_default(e, current)
            });
        match (entry.and_then(LibraryEntry::name), current) {
            (Some(name), _) => name.to_owned(),
            (None, Some(path)) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            (None, None) => "Default".to_owned(),
        }
    }

    /// The rows, factory then user; returns the one clicked.
    fn rows(&self, ui: &mut Ui, current: Option<&Path>) -> Option<Choice> {
        let mut chosen = None;
        for (heading, user) in [("Factory", false), ("Yours", true)] {
            ui.label(theme::weak(heading).size(11.0));
            let mut any = false;
            for entry in self
                .library
                .entries
                .iter()
                .filter(|e| (e.origin == PresetOrigin::User) == user)
                // A factory file with the built-in preset's name is a copy of it (the source
                // tree's `models/presets/default.cpreset` in development builds): listed once.
                .filter(|e| !(e.shadowed && e.origin == PresetOrigin::Factory))
            {
                any = true;
                if let Some(choice) = row(ui, entry, current) {
                    chosen = Some(choice);
                }
            }
            if !any && user {
                let folder = counterpart_core::preset::library::user_dir()
                    .map_or_else(|| "none".to_owned(), |d| d.display().to_string());
                ui.label(
                    theme::weak(format!("none yet: put .cpreset files in {folder}")).size(11.0),
                );
            }
        }
        chosen
    }
}

/// Whether `entry` is the embedded default and nothing is chosen.
fn is_default(entry: &LibraryEntry, current: Option<&Path>) -> bool {
    current.is_none() && entry.origin == PresetOrigin::Embedded
}

/// One row of the menu: its text and hover text.
pub fn row_text(entry: &LibraryEntry) -> (String, String) {
    match &entry.preset {
        Ok(preset) => {
            let text = format!(
                "{}  ·  {}  ·  {}",
                preset.name,
                // egui's fonts have no arrow glyph.
                preset
                    .relation
                    .as_deref()
                    .map_or_else(|| "—".to_owned(), |r| r.replace(" → ", " to ")),
                format::duration(preset.corpus_seconds)
            );
            let mut hover = format!("{}\n\n{}", preset.description, entry.location());
            if entry.shadowed {
                hover.push_str("\n\nAn earlier preset has this name; choose it here by its file.");
            }
            (text, hover)
        }
        Err(error) => (
            format!("⚠ {}", entry.location()),
            format!("This file cannot be read: {error}"),
        ),
    }
}

/// Draws `entry`; returns the choice when clicked.
fn row(ui: &mut Ui, entry: &LibraryEntry, current: Option<&Path>) -> Option<Choice> {
    let (text, hover) = row_text(entry);
    let selected =
        is_default(entry, current) || (current.is_some() && entry.path.as_deref() == current);
    let readable = entry.preset.is_ok();
    let mut label = RichText::new(text).size(12.0);
    if !readable {
        label = label.color(theme::BAD);
    }
    let response = ui
        .add_enabled(readable, egui::Button::selectable(selected, label))
        .on_hover_text(&hover)
        .on_disabled_hover_text(&hover);
    response.clicked().then(|| match &entry.path {
        None => Choice::Default,
        Some(path) => Choice::File(path.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_menu_lists_the_embedded_default_first_and_reads_again_at_most_once_a_second() {
        let mut menu = PresetMenu::default();
        let start = Instant::now();
        menu.refresh(start);
        let first = menu.library.entries[0].clone();
        assert_eq!(first.origin, PresetOrigin::Embedded);
        let (text, hover) = row_text(&first);
        assert!(
            text.contains("Chorale Bass") && text.contains("melody to bass"),
            "{text}"
        );
        assert!(hover.contains("built in"), "{hover}");
        assert_eq!(menu.current_name(None), first.name().unwrap());
        menu.library.entries.clear();
        menu.refresh(start + Duration::from_millis(500));
        assert!(
            menu.library.entries.is_empty(),
            "read again within a second"
        );
        menu.refresh(start + Duration::from_millis(1500));
        assert!(!menu.library.entries.is_empty());
    }
}
