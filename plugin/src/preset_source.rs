//! Which preset the plugin plays, and reading it (worker threads only: file I/O, decoding).
//!
//! With no preset file chosen, the plugin plays the **embedded default preset**
//! (`models/presets/default.cpreset`, compiled into the plugin together with its encoder
//! `models/encoders/counterpart-default.onnx`), so it works out of the box, offline, with
//! nothing installed beside it. It is also what plays when the chosen file is missing (a project
//! moved to another machine): [`PresetSource::Missing`] reads, times and loads as the default,
//! with a notice naming the missing file, and the project keeps naming it.

use std::path::{Path, PathBuf};

use counterpart_core::preset::{sha256_hex, Preset, PresetError, PresetTiming};

use crate::error::PluginError;
use crate::shared::Notice;

/// The default preset's file, compiled in.
static DEFAULT_PRESET: &[u8] = include_bytes!("../../models/presets/default.cpreset");

/// The default encoder's ONNX file, compiled in. Used for every preset that names it without
/// embedding it (the hash is checked).
static DEFAULT_ENCODER: &[u8] = include_bytes!("../../models/encoders/counterpart-default.onnx");

/// The name the default encoder goes by in presets.
const DEFAULT_ENCODER_NAME: &str = "counterpart-default";

/// Where a preset comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PresetSource {
    /// The embedded default preset.
    Default,
    /// A preset file the user chose.
    File(PathBuf),
    /// A preset file the user chose that is not there: the embedded default plays instead
    /// (both for the latency announced at activation and for the engine built).
    Missing(PathBuf),
}

impl PresetSource {
    /// The source for the persisted path (`None`: the default; a path with nothing there:
    /// [`Missing`](Self::Missing)). Main or worker thread: it looks at the file system.
    pub fn from_path(path: Option<PathBuf>) -> Self {
        match path {
            None => PresetSource::Default,
            Some(path) if path.exists() => PresetSource::File(path),
            Some(path) => PresetSource::Missing(path),
        }
    }

    /// The embedded default's bytes (the factory preset that is always there).
    pub fn default_bytes() -> &'static [u8] {
        DEFAULT_PRESET
    }

    /// What the editor should say about this source: that the chosen file is missing and the
    /// default plays instead.
    pub fn notice(&self) -> Option<Notice> {
        match self {
            PresetSource::Missing(path) => Some(Notice {
                text: format!(
                    "The preset file {} is missing: the embedded default preset plays instead. \
                     The project still names that file; put it back, or choose another preset.",
                    path.display()
                ),
                warning: true,
            }),
            PresetSource::Default | PresetSource::File(_) => None,
        }
    }

    /// A short description for the GUI and the log.
    pub fn describe(&self) -> String {
        match self {
            PresetSource::Default => "the embedded default preset".to_owned(),
            PresetSource::File(path) => path.display().to_string(),
            PresetSource::Missing(path) => format!(
                "the embedded default preset ({} is missing)",
                path.display()
            ),
        }
    }

    /// What the preset's header says about its engines' timing, read without the rest of the
    /// file (main or worker thread: it reads a few kilobytes of a preset file).
    pub fn timing(&self) -> Result<PresetTiming, PluginError> {
        match self {
            PresetSource::Default | PresetSource::Missing(_) => {
                PresetTiming::from_header_bytes(DEFAULT_PRESET)
                    .map_err(|e| PluginError::DefaultPresetDamaged(e.to_string()))
            }
            PresetSource::File(path) => {
                PresetTiming::read(path).map_err(|e| preset_file_error(path, &e))
            }
        }
    }

    /// Reads and validates the preset, and gives its [identity](Preset::identity). When it
    /// names the default encoder without embedding it, the compiled-in encoder is attached
    /// (only if its hash is the one the preset records). Worker thread: reads the file and
    /// decodes the corpus.
    pub fn read(&self) -> Result<(Preset, String), PluginError> {
        let (mut preset, identity) = match self {
            PresetSource::Default | PresetSource::Missing(_) => Preset::from_bytes(DEFAULT_PRESET)
                .and_then(|preset| Ok((preset, Preset::identity(DEFAULT_PRESET)?)))
                .map_err(|e| PluginError::DefaultPresetDamaged(e.to_string()))?,
            PresetSource::File(path) => read_file(path)?,
        };
        if preset.encoder.embedded.is_none()
            && preset.encoder.name == DEFAULT_ENCODER_NAME
            && preset.encoder.sha256 == sha256_hex(DEFAULT_ENCODER)
        {
            preset.encoder.embedded = Some(DEFAULT_ENCODER.to_vec());
        }
        Ok((preset, identity))
    }
}

/// Why preset file `path` could not be read.
fn preset_file_error(path: &Path, error: &PresetError) -> PluginError {
    PluginError::PresetFile {
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}

fn read_file(path: &Path) -> Result<(Preset, String), PluginError> {
    let error = |e: PresetError| preset_file_error(path, &e);
    let bytes = std::fs::read(path).map_err(|source| {
        error(PresetError::Io {
            path: path.to_owned(),
            source,
        })
    })?;
    let preset = Preset::from_bytes(&bytes).map_err(error)?;
    Ok((preset, Preset::identity(&bytes).map_err(error)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_preset_reads_with_its_encoder() {
        let (preset, identity) = PresetSource::Default.read().expect("default preset");
        assert_eq!(identity.len(), 64);
        assert!(preset.encoder.embedded.is_some());
        assert!(preset.k() >= 2);
    }

    #[test]
    fn a_foreign_file_gives_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("cp-plugin-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("not-a-preset.cpreset");
        std::fs::write(&path, b"RIFF....WAVEfmt ").unwrap();
        let error = PresetSource::File(path.clone()).read().unwrap_err();
        assert!(
            error.to_string().contains("not-a-preset.cpreset"),
            "{error}"
        );
        let missing = PresetSource::File(dir.join("missing.cpreset"))
            .read()
            .unwrap_err();
        assert!(missing.to_string().contains("missing.cpreset"), "{missing}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_file_falls_back_to_the_default_and_says_so() {
        let path = std::env::temp_dir().join("cp-plugin-src-nowhere/gone.cpreset");
        let source = PresetSource::from_path(Some(path.clone()));
        assert_eq!(source, PresetSource::Missing(path));
        // The same timing at activation as the engine built from it: the default's.
        assert_eq!(
            source.timing().unwrap(),
            PresetSource::Default.timing().unwrap()
        );
        let notice = source.notice().expect("a notice");
        assert!(
            notice.warning && notice.text.contains("gone.cpreset"),
            "{notice:?}"
        );
        assert!(source.describe().contains("embedded default"));
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/preset_source.rs");
        assert_eq!(
            PresetSource::from_path(Some(here.clone())),
            PresetSource::File(here)
        );
        assert_eq!(PresetSource::Default.notice(), None);
    }
}
