//! The note annotations the musician's metrics read: `<piece>/<stem>.notes.json` beside each stem
//! of a stems set, and the same files for the recordings a preset's corpus was cut from.

use std::path::{Path, PathBuf};

use crate::data::layout::{PieceSource, TrackPair};
use crate::data::stems::Note;

use crate::eval::EvalError;

/// The annotation file of an audio file: `bass.flac` → `bass.notes.json`.
pub fn notes_path(audio: &Path) -> PathBuf {
    audio.with_extension("notes.json")
}

/// Where the notes of a preset corpus file live under `dir`. The preset names a corpus file by
/// its provenance: `<piece>/<track key>` for corpora made from a stems set's target tracks, or a
/// path relative to the corpus folder (with its audio extension) for `build-preset --corpus`.
/// A track key of stems summed with `+` names one notes file per stem.
pub fn corpus_notes_paths(dir: &Path, name: &str) -> Vec<PathBuf> {
    let path = Path::new(name);
    if crate::audio_file::has_audio_extension(path) {
        return vec![notes_path(&dir.join(path))];
    }
    let (folder, key) = match name.rsplit_once('/') {
        Some((folder, key)) => (dir.join(folder), key),
        None => (dir.to_path_buf(), name),
    };
    key.split('+')
        .map(|stem| folder.join(format!("{stem}.notes.json")))
        .collect()
}

/// Reads one notes file (a JSON list of notes), sorted by onset.
pub fn read_notes_file(path: &Path) -> Result<Vec<Note>, EvalError> {
    let bytes = std::fs::read(path).map_err(|e| EvalError::Notes {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut notes: Vec<Note> = serde_json::from_slice(&bytes).map_err(|e| EvalError::Notes {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    notes.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));
    Ok(notes)
}

/// Reads and merges several notes files, sorted by onset; every missing file is listed in one
/// [`EvalError::MissingNotes`].
pub fn read_merged(paths: &[PathBuf]) -> Result<Vec<Note>, EvalError> {
    let missing: Vec<PathBuf> = paths.iter().filter(|p| !p.is_file()).cloned().collect();
    if !missing.is_empty() {
        return Err(EvalError::MissingNotes { missing });
    }
    let mut notes = Vec::new();
    for path in paths {
        notes.extend(read_notes_file(path)?);
    }
    notes.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));
    Ok(notes)
}

/// The notes of a track of `piece` made of the named stems (all their files, merged).
pub fn track_notes(piece: &PieceSource, stems: &[String]) -> Result<Vec<Note>, EvalError> {
    let mut paths = Vec::new();
    for name in stems {
        let stem = piece.stem(name).ok_or_else(|| {
            EvalError::Invalid(format!("piece {}: no stem called {name}", piece.id))
        })?;
        paths.extend(stem.files.iter().map(|f| notes_path(f)));
    }
    read_merged(&paths)
}

/// The stems of `piece` that sound beside `pair`: every stem but the guide's, the target's and
/// the unpitched ones ([`super::part::UNPITCHED_STEMS`]), in the piece's order.
pub fn other_pitched_stems(piece: &PieceSource, pair: &TrackPair) -> Vec<String> {
    piece
        .stems
        .iter()
        .map(|s| &s.name)
        .filter(|name| {
            !pair.guide.contains(name)
                && !pair.target.contains(name)
                && !super::part::UNPITCHED_STEMS.contains(&name.as_str())
        })
        .cloned()
        .collect()
}

/// The notes of every file of a preset's corpus, in the preset's file order.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusNotes {
    /// The corpus files' names, as the preset records them.
    pub names: Vec<String>,
    /// Each file's notes, sorted by onset.
    pub notes: Vec<Vec<Note>>,
}

impl CorpusNotes {
    /// Reads the notes of the corpus files `names` under `dir` (see [`corpus_notes_paths`]).
    /// Fails with [`EvalError::MissingNotes`] listing every file that has none: no corpus file
    /// is ever skipped.
    pub fn load(dir: &Path, names: &[String]) -> Result<Self, EvalError> {
        let paths: Vec<Vec<PathBuf>> = names
            .iter()
            .map(|name| corpus_notes_paths(dir, name))
            .collect();
        let missing: Vec<PathBuf> = paths
            .iter()
            .flatten()
            .filter(|p| !p.is_file())
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(EvalError::MissingNotes { missing });
        }
        let notes = paths
            .iter()
            .map(|p| read_merged(p))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            names: names.to_vec(),
            notes,
        })
    }

    /// Index of the corpus file called `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_names_map_to_notes_files() {
        let dir = Path::new("/n");
        assert_eq!(
            corpus_notes_paths(dir, "bach-bwv253/bass"),
            vec![PathBuf::from("/n/bach-bwv253/bass.notes.json")]
        );
        assert_eq!(
            corpus_notes_paths(dir, "p/alto+tenor"),
            vec![
                PathBuf::from("/n/p/alto.notes.json"),
                PathBuf::from("/n/p/tenor.notes.json")
            ]
        );
        assert_eq!(
            corpus_notes_paths(dir, "take 1/bass.flac"),
            vec![PathBuf::from("/n/take 1/bass.notes.json")]
        );
    }
}
