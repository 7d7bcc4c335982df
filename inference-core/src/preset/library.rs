//! The preset library: the factory presets and the user's presets, listed from their headers.
//!
//! Where presets are found, in order of precedence:
//! 1. the **embedded** preset, when the caller has one (the plugin's default);
//! 2. the **factory** folders ([`LibraryFolders::platform`]): the `presets/` resources folder that
//!    `cargo xtask bundle` installs beside the plugin binary, and the source tree's
//!    `models/presets` for development builds;
//! 3. the **user** folder: `counterpart/presets` in the platform's data folder
//!    (`~/.local/share` on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on
//!    Windows).
//!
//! Every `*.cpreset` file of those folders is listed, read from its header only (kilobytes,
//! never the corpus). A file whose header cannot be read is listed with its error. Names are
//! compared without regard to case; when two presets share a name, the first in the order above
//! wins and the later one is marked [`shadowed`](LibraryEntry::shadowed): it stays in the list
//! (and can be chosen by its path) but its name resolves to the other one. So a user preset
//! never silently replaces a factory one.
//!
//! Thread ownership: listing reads files; call it on the GUI thread (a few small reads), a worker
//! thread or offline, never on the audio thread.

use std::fmt;
use std::path::{Path, PathBuf};

use super::error::PresetError;
use super::file::PresetListing;

/// The preset files' extension.
pub const PRESET_EXTENSION: &str = "cpreset";

/// Environment variable naming the user preset folder (overrides the platform's).
pub const USER_DIR_VAR: &str = "COUNTERPART_PRESET_DIR";

/// Environment variable naming the only factory preset folder (replaces the search).
pub const FACTORY_DIR_VAR: &str = "COUNTERPART_FACTORY_PRESET_DIR";

/// The name of the factory preset folder that `cargo xtask bundle` puts beside the `.clap` file
/// and the standalone app (inside the VST3 bundle it is `Contents/Resources/presets`).
pub const FACTORY_DIR_NAME: &str = "counterpart-presets";

/// Where a listed preset comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresetOrigin {
    /// Compiled into the binary (the plugin's default preset).
    Embedded,
    /// Installed with Counterpart.
    Factory,
    /// In the user's preset folder.
    User,
}

impl fmt::Display for PresetOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PresetOrigin::Embedded => "built in",
            PresetOrigin::Factory => "factory",
            PresetOrigin::User => "user",
        })
    }
}

/// What the list shows of a readable preset.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedPreset {
    /// The preset's name.
    pub name: String,
    /// Its relation, guide → target (`melody → bass`), when the preset says it: see
    /// [`relation_of`].
    pub relation: Option<String>,
    /// Its description.
    pub description: String,
    /// Its corpus duration in seconds.
    pub corpus_seconds: f64,
}

impl ListedPreset {
    /// The listing of a preset whose header says `listing`.
    pub fn new(listing: &PresetListing) -> Self {
        Self {
            name: listing.info.name.clone(),
            relation: relation_of(listing),
            description: listing.info.description.clone(),
            corpus_seconds: listing.corpus_seconds,
        }
    }
}

/// One preset of the library, readable or not.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryEntry {
    /// Its file (`None` for the embedded preset).
    pub path: Option<PathBuf>,
    /// Where it comes from.
    pub origin: PresetOrigin,
    /// What its header says, or why it cannot be read.
    pub preset: Result<ListedPreset, String>,
    /// Whether an earlier entry has the same name (its name resolves to that one).
    pub shadowed: bool,
}

impl LibraryEntry {
    /// The entry for the preset file at `path`, read from its header.
    pub fn read(path: PathBuf, origin: PresetOrigin) -> Self {
        let preset = PresetListing::read(&path)
            .map(|listing| ListedPreset::new(&listing))
            .map_err(|e| e.to_string());
        Self {
            path: Some(path),
            origin,
            preset,
            shadowed: false,
        }
    }

    /// Its name, when it is readable.
    pub fn name(&self) -> Option<&str> {
        self.preset.as_ref().ok().map(|p| p.name.as_str())
    }

    /// Where it is, for people: its path, or "built in".
    pub fn location(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "built in".to_owned(), |p| p.display().to_string())
    }
}

/// The folders the library lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LibraryFolders {
    /// The factory folders, in order of precedence (missing ones are skipped).
    pub factory: Vec<PathBuf>,
    /// The user's folder, when there is one.
    pub user: Option<PathBuf>,
}

impl LibraryFolders {
    /// The factory folders (`$COUNTERPART_FACTORY_PRESET_DIR` alone if set; else
    /// [`FACTORY_DIR_NAME`] beside the binary holding this code, the VST3 bundle's
    /// `Contents/Resources/presets`, [`FACTORY_DIR_NAME`] beside the running executable, and the
    /// source tree's `models/presets`) and the [user folder](user_dir).
    pub fn platform() -> Self {
        let mut factory = Vec::new();
        if let Some(dir) = env_dir(FACTORY_DIR_VAR) {
            factory.push(dir);
        } else {
            if let Some(dir) = crate::onnx_runtime::binary_dir() {
                factory.push(dir.join(FACTORY_DIR_NAME));
                if let Some(contents) = dir.parent() {
                    factory.push(contents.join("Resources").join("presets"));
                }
            }
            if let Some(dir) = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_path_buf))
            {
                factory.push(dir.join(FACTORY_DIR_NAME));
            }
            factory.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/presets"));
        }
        let mut unique: Vec<PathBuf> = Vec::new();
        for dir in factory {
            let dir = dir.canonicalize().unwrap_or(dir);
            if !unique.contains(&dir) {
                unique.push(dir);
            }
        }
        Self {
            factory: unique,
            user: user_dir(),
        }
    }
}

/// The user's preset folder: `$COUNTERPART_PRESET_DIR` if set, else `$COUNTERPART_HOME/presets`
/// (as the setup folder), else `counterpart/presets` in the platform's data folder
/// (`dirs::data_dir`: `~/.local/share` or `$XDG_DATA_HOME` on Linux,
/// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows).
pub fn user_dir() -> Option<PathBuf> {
    env_dir(USER_DIR_VAR)
        .or_else(|| env_dir("COUNTERPART_HOME").map(|home| home.join("presets")))
        .or_else(|| dirs::data_dir().map(|dir| dir.join("counterpart").join("presets")))
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A name that no preset of the library has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPreset {
    /// The name asked for.
    pub name: String,
    /// The names the library has.
    pub available: Vec<String>,
}

impl fmt::Display for UnknownPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no preset file or preset named `{}`", self.name)?;
        if self.available.is_empty() {
            write!(f, " (the preset library is empty)")
        } else {
            write!(f, "; the library has: {}", self.available.join(", "))
        }
    }
}

impl std::error::Error for UnknownPreset {}

/// The listed presets, in order of precedence (see the [module](self) documentation).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PresetLibrary {
    /// Every preset found, readable or not.
    pub entries: Vec<LibraryEntry>,
}

impl PresetLibrary {
    /// Lists `folders`, after the embedded preset whose file bytes (at least its header) are
    /// `embedded`, when there is one.
    pub fn scan(folders: &LibraryFolders, embedded: Option<&[u8]>) -> Self {
        let mut entries = Vec::new();
        if let Some(bytes) = embedded {
            entries.push(LibraryEntry {
                path: None,
                origin: PresetOrigin::Embedded,
                preset: PresetListing::from_header_bytes(bytes)
                    .map(|listing| ListedPreset::new(&listing))
                    .map_err(|e| e.to_string()),
                shadowed: false,
            });
        }
        for dir in &folders.factory {
            list_dir(dir, PresetOrigin::Factory, &mut entries);
        }
        if let Some(dir) = &folders.user {
            list_dir(dir, PresetOrigin::User, &mut entries);
        }
        mark_shadowed(&mut entries);
        Self { entries }
    }

    /// The library of the [platform folders](LibraryFolders::platform).
    pub fn platform(embedded: Option<&[u8]>) -> Self {
        Self::scan(&LibraryFolders::platform(), embedded)
    }

    /// The names that resolve, in order.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| !e.shadowed)
            .filter_map(|e| e.name().map(str::to_owned))
            .collect()
    }

    /// The preset named `name` (any case, surrounding spaces ignored): the first readable entry
    /// of that name, else the first whose file name without `.cpreset` is `name`.
    pub fn resolve(&self, name: &str) -> Result<&LibraryEntry, UnknownPreset> {
        let wanted = name.trim().to_lowercase();
        let by_name = || {
            self.entries
                .iter()
                .find(|e| e.name().is_some_and(|n| n.trim().to_lowercase() == wanted))
        };
        let by_file = || {
            self.entries.iter().find(|e| {
                e.path
                    .as_ref()
                    .and_then(|p| p.file_stem())
                    .is_some_and(|stem| stem.to_string_lossy().to_lowercase() == wanted)
            })
        };
        by_name().or_else(by_file).ok_or_else(|| UnknownPreset {
            name: name.to_owned(),
            available: self.names(),
        })
    }
}

/// Appends the preset files of `dir`, sorted by file name. A missing folder adds nothing; one
/// that cannot be read adds an entry with the error.
fn list_dir(dir: &Path, origin: PresetOrigin, entries: &mut Vec<LibraryEntry>) {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(source) => {
            let error = PresetError::Io {
                path: dir.to_owned(),
                source,
            };
            entries.push(LibraryEntry {
                path: Some(dir.to_owned()),
                origin,
                preset: Err(error.to_string()),
                shadowed: false,
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case(PRESET_EXTENSION))
        })
        .collect();
    paths.sort();
    entries.extend(paths.into_iter().map(|p| LibraryEntry::read(p, origin)));
}

/// Marks every readable entry whose name an earlier one has.
fn mark_shadowed(entries: &mut [LibraryEntry]) {
    let mut seen: Vec<String> = Vec::new();
    for entry in entries {
        if let Some(name) = entry.name() {
            let key = name.trim().to_lowercase();
            if seen.contains(&key) {
                entry.shadowed = true;
            } else {
                seen.push(key);
            }
        }
    }
}

/// The relation a preset was trained on, guide → target, as far as its header tells it: the
/// stems a `Named` pair selection names (`vocals → bass`), else a description that starts with
/// `X-to-Y` (`Melody-to-bass …` gives `melody → bass`); `None` otherwise (the stems of
/// `Primary` or `All` pairs are not stored).
pub fn relation_of(listing: &PresetListing) -> Option<String> {
    if let Some(named) = listing.pairs.as_deref().and_then(named_pair) {
        return Some(named);
    }
    let first = listing.info.description.split_whitespace().next()?;
    let (guide, target) = first.split_once("-to-")?;
    Some(format!(
        "{} → {}",
        word(guide)?.to_lowercase(),
        word(target)?.to_lowercase()
    ))
}

/// `s` without surrounding punctuation, when it is one word.
fn word(s: &str) -> Option<&str> {
    let s = s.trim_matches(|c: char| !c.is_alphanumeric());
    (!s.is_empty() && s.chars().all(char::is_alphanumeric)).then_some(s)
}

/// `guide → target` from `Named { guide: "…", target: "…" }`.
fn named_pair(pairs: &str) -> Option<String> {
    let field = |key: &str| {
        let start = pairs.find(&format!("{key}: \""))? + key.len() + 3;
        let len = pairs[start..].find('"')?;
        Some(pairs[start..start + len].to_owned())
    };
    pairs
        .starts_with("Named")
        .then(|| Some(format!("{} → {}", field("guide")?, field("target")?)))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::PresetInfo;

    fn listing(description: &str, pairs: Option<&str>) -> PresetListing {
        PresetListing {
            info: PresetInfo {
                name: "x".into(),
                author: String::new(),
                description: description.into(),
                licence: "CC0-1.0".into(),
                created: String::new(),
            },
            corpus_seconds: 1.0,
            pairs: pairs.map(str::to_owned),
        }
    }

    #[test]
    fn the_relation_comes_from_named_pairs_or_the_description() {
        let named = listing(
            "Anything",
            Some(r#"Named { guide: "vocals", target: "bass" }"#),
        );
        assert_eq!(relation_of(&named).as_deref(), Some("vocals → bass"));
        let described = listing(
            "Melody-to-bass (primary pairs) of chorales",
            Some("Primary"),
        );
        assert_eq!(relation_of(&described).as_deref(), Some("melody → bass"));
        assert_eq!(relation_of(&listing("Bass lines", Some("All"))), None);
        assert_eq!(relation_of(&listing("", None)), None);
    }
}
