//! The preset library: listing a factory and a user folder from the presets' headers, unreadable
//! files, shadowed names and name resolution.

mod common;

use std::path::{Path, PathBuf};

use counterpart_core::preset::library::{LibraryFolders, PresetLibrary, PresetOrigin};
use counterpart_core::preset::Preset;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cp-library-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_preset(preset: &Preset, name: &str, description: &str, path: &Path) {
    let mut preset = preset.clone();
    preset.info.name = name.into();
    preset.info.description = description.into();
    std::fs::write(path, preset.to_bytes().unwrap()).unwrap();
}

#[test]
fn the_library_lists_resolves_and_reports_unreadable_files() {
    let root = temp_dir("scan");
    let (factory, user) = (root.join("factory"), root.join("user"));
    std::fs::create_dir_all(&factory).unwrap();
    std::fs::create_dir_all(&user).unwrap();
    let preset = common::synthetic_preset(0, false);
    let seconds: f64 = preset
        .corpus
        .iter()
        .map(|f| f.frames() as f64 / f64::from(f.sample_rate))
        .sum();
    write_preset(
        &preset,
        "Band Bass",
        "Vocals-to-bass of band songs.",
        &factory.join("band-bass.cpreset"),
    );
    write_preset(
        &preset,
        "band bass",
        "A user copy.",
        &user.join("mine.cpreset"),
    );
    write_preset(&preset, "My Keys", "Keys.", &user.join("keys.CPRESET"));
    std::fs::write(user.join("broken.cpreset"), b"RIFF....WAVEfmt ").unwrap();
    std::fs::write(user.join("notes.txt"), b"not listed").unwrap();

    let folders = LibraryFolders {
        factory: vec![factory.clone(), root.join("missing")],
        user: Some(user.clone()),
    };
    let library = PresetLibrary::scan(&folders, None);
    let summary: Vec<_> = library
        .entries
        .iter()
        .map(|e| (e.origin, e.name().map(str::to_owned), e.shadowed))
        .collect();
    assert_eq!(
        summary,
        vec![
            (PresetOrigin::Factory, Some("Band Bass".to_owned()), false),
            (PresetOrigin::User, None, false),
            (PresetOrigin::User, Some("My Keys".to_owned()), false),
            (PresetOrigin::User, Some("band bass".to_owned()), true),
        ]
    );
    let band = library.entries[0].preset.as_ref().unwrap();
    assert_eq!(band.relation.as_deref(), Some("vocals → bass"));
    assert!(
        (band.corpus_seconds - seconds).abs() < 1e-6,
        "{}",
        band.corpus_seconds
    );
    let broken = &library.entries[1];
    let error = broken.preset.as_ref().unwrap_err();
    assert!(error.contains("header"), "{error}");
    assert!(broken.path.as_ref().unwrap().ends_with("broken.cpreset"));

    // The factory preset wins over the user's of the same name, in any case.
    let found = library.resolve("  BAND BASS ").unwrap();
    assert_eq!(found.origin, PresetOrigin::Factory);
    assert_eq!(library.resolve("keys").unwrap().name(), Some("My Keys"));
    let unknown = library.resolve("Chorale Tenor").unwrap_err().to_string();
    assert!(
        unknown.contains("Chorale Tenor") && unknown.contains("Band Bass, My Keys"),
        "{unknown}"
    );

    // The embedded preset comes first and wins over files of its name.
    let embedded = preset.clone();
    let mut bytes_preset = embedded;
    bytes_preset.info.name = "My Keys".into();
    let bytes = bytes_preset.to_bytes().unwrap();
    let with_embedded = PresetLibrary::scan(&folders, Some(&bytes));
    assert_eq!(with_embedded.entries[0].origin, PresetOrigin::Embedded);
    assert!(with_embedded.entries[3].shadowed);
    assert_eq!(
        with_embedded.resolve("my keys").unwrap().origin,
        PresetOrigin::Embedded
    );
    std::fs::remove_dir_all(root).unwrap();
}
