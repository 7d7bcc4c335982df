//! `counterpart presets`: the preset library (factory and user presets) with each preset's
//! name, relation, description, corpus length and file; and resolving a `--preset` argument
//! that names a preset of the library instead of a file.

use std::path::{Path, PathBuf};

use counterpart_core::preset::library::{user_dir, LibraryEntry, LibraryFolders, PresetLibrary};

/// Arguments of `counterpart presets`.
#[derive(clap::Args, Debug, Clone)]
pub struct PresetsArgs {
    /// Also print each preset's description.
    #[arg(long)]
    long: bool,
}

/// Lists the library.
pub fn run(args: &PresetsArgs) -> Result<(), String> {
    let folders = LibraryFolders::platform();
    let library = PresetLibrary::scan(&folders, None);
    for dir in &folders.factory {
        println!("factory folder: {}", dir.display());
    }
    match &folders.user {
        Some(dir) => println!("user folder:    {}", dir.display()),
        None => println!("user folder:    none (this system has no data folder)"),
    }
    if library.entries.is_empty() {
        println!("no presets found");
    }
    for entry in &library.entries {
        println!("{}", line(entry));
        if args.long {
            if let Ok(preset) = &entry.preset {
                println!("    {}", preset.description);
            }
        }
    }
    Ok(())
}

/// One line of the list: name, relation, corpus length, origin and file; or the file and why it
/// cannot be read.
fn line(entry: &LibraryEntry) -> String {
    match &entry.preset {
        Ok(preset) => format!(
            "{:<28} {:<18} {:>7.0} s  {:<8} {}{}",
            preset.name,
            preset.relation.as_deref().unwrap_or("—"),
            preset.corpus_seconds,
            entry.origin.to_string(),
            entry.location(),
            if entry.shadowed {
                "  (shadowed: an earlier preset has this name)"
            } else {
                ""
            }
        ),
        Err(error) => format!(
            "{:<28} unreadable ({}): {error}",
            entry.location(),
            entry.origin
        ),
    }
}

/// The preset file a `--preset` argument means: a path that exists is that file; anything else
/// is the name of a preset of the library (any case; see `counterpart presets`).
pub fn resolve(arg: &Path) -> Result<PathBuf, String> {
    if arg.exists() {
        return Ok(arg.to_owned());
    }
    resolve_in(arg, &PresetLibrary::platform(None))
}

/// [`resolve`] in `library`.
fn resolve_in(arg: &Path, library: &PresetLibrary) -> Result<PathBuf, String> {
    if arg.exists() {
        return Ok(arg.to_owned());
    }
    let name = arg.to_string_lossy();
    let entry = library.resolve(&name).map_err(|e| {
        let folder = user_dir().map_or_else(String::new, |d| {
            format!(" (user presets go in {})", d.display())
        });
        format!("{e}{folder}")
    })?;
    entry
        .path
        .clone()
        .ok_or_else(|| format!("the preset `{name}` has no file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_library() -> PresetLibrary {
        let folders = LibraryFolders {
            factory: vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("presets")],
            user: None,
        };
        PresetLibrary::scan(&folders, None)
    }

    #[test]
    fn a_preset_argument_is_a_path_or_a_library_name() {
        let library = repo_library();
        let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/default.cpreset");
        assert_eq!(resolve_in(&default, &library).unwrap(), default);
        let by_name = resolve_in(Path::new("chorale bass (DEV STEMS)"), &library).unwrap();
        assert!(by_name.ends_with("presets/default.cpreset"), "{by_name:?}");
        let unknown = resolve_in(Path::new("Band Bass"), &library).unwrap_err();
        assert!(
            unknown.contains("`Band Bass`") && unknown.contains("Chorale Bass (dev stems)"),
            "{unknown}"
        );
    }

    #[test]
    fn the_list_shows_relation_and_corpus_length() {
        let library = repo_library();
        let text = line(&library.entries[0]);
        assert!(text.contains("Chorale Bass (dev stems)"), "{text}");
        assert!(text.contains("melody → bass"), "{text}");
        assert!(text.contains("factory"), "{text}");
    }
}
